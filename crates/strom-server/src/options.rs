//! Server options: what the command line and the configuration file decide, with nats-server's
//! defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::AuthConfig;
use crate::links::{Export, Import};
use crate::tls::TlsOptions;

/// nats-server's default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// nats-server's `MAX_PAYLOAD_SIZE`.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// nats-server's `MAX_CONTROL_LINE_SIZE`.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// nats-server's `MAX_PENDING_SIZE`: bytes queued for one client before it is a slow consumer.
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// nats-server's `DEFAULT_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;

/// When the file store fsyncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before every acknowledgement, many publishes sharing one fsync (group commit): the
    /// default, and what `sync_interval: always` asks for.
    Always,
    /// Every so often, acknowledging before the data is durable: only when the operator sets
    /// `sync_interval` to a period.
    Every(Duration),
}

/// The JetStream encryption key; never printed.
#[derive(Clone)]
pub struct EncryptionKey(pub String);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

/// An account's JetStream limits; -1 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsLimits {
    pub max_memory: i64,
    pub max_file: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub max_bytes_required: bool,
}

impl Default for JsLimits {
    fn default() -> Self {
        JsLimits {
            max_memory: -1,
            max_file: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            max_bytes_required: false,
        }
    }
}

/// Everything the server needs to know to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    /// 0 picks a free port; -1 in nats-server's flags means "random" too, mapped to 0 by the caller.
    pub port: u16,
    pub server_name: Option<String>,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_connections: usize,
    /// How many closed connections `/connz?state=closed` remembers.
    pub max_closed_clients: usize,
    pub max_pending: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    pub auth_timeout: Duration,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    /// Users, token and `no_auth_user`: who may connect, and as what.
    pub auth: AuthConfig,
    /// Configured accounts, besides the global one.
    pub accounts: Vec<String>,
    /// TLS for client connections; `None` serves plain TCP.
    pub tls: Option<TlsOptions>,
    /// Stream and service imports between accounts.
    pub imports: Vec<Import>,
    /// Stream and service exports, as configured (imports are checked against them at load).
    pub exports: Vec<Export>,
    /// The system account's name (`$SYS` when not set).
    pub system_account: Option<String>,
    pub jetstream: bool,
    pub store_dir: Option<PathBuf>,
    /// How the file store makes writes durable.
    pub sync: SyncPolicy,
    /// `jetstream { domain }`: the API is also served on `$JS.<domain>.API.>`.
    pub js_domain: Option<String>,
    /// Server-wide store limits in bytes; -1 is nats-server's default (75% of memory / disk).
    pub js_max_memory: i64,
    pub js_max_file: i64,
    /// Accounts with JetStream enabled, with their limits. Without configured accounts, the
    /// global account has JetStream whenever the server does.
    pub js_accounts: Vec<(String, JsLimits)>,
    /// Encryption at rest: the cipher and the key.
    pub js_cipher: Option<(strom_store::CipherKind, EncryptionKey)>,
    /// The HTTP monitoring port (`-m`, `http`, `http_port`), its host (the client host when
    /// not given), and `http_base_path`.
    pub http_port: Option<u16>,
    /// The HTTPS monitoring port (`-ms`, `https`, `https_port`), served with the `tls`
    /// block's certificate; nats-server refuses it together with an HTTP port.
    pub https_port: Option<u16>,
    pub http_host: Option<String>,
    pub http_base_path: Option<String>,
    pub pid_file: Option<PathBuf>,
    /// Where to write `<name>_<pid>.ports`, as nats-server's `--ports_file_dir`.
    pub ports_file_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".to_string(),
            port: DEFAULT_PORT,
            server_name: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_closed_clients: 10_000,
            max_pending: DEFAULT_MAX_PENDING,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(2),
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            auth: AuthConfig::default(),
            accounts: Vec::new(),
            system_account: None,
            imports: Vec::new(),
            exports: Vec::new(),
            tls: None,
            jetstream: false,
            store_dir: None,
            sync: SyncPolicy::Always,
            js_domain: None,
            js_max_memory: -1,
            js_max_file: -1,
            js_accounts: Vec::new(),
            js_cipher: None,
            http_port: None,
            https_port: None,
            http_host: None,
            http_base_path: None,
            pid_file: None,
            ports_file_dir: None,
        }
    }
}

impl Options {
    /// Whether clients must authenticate.
    pub fn auth_required(&self) -> bool {
        self.auth.token.is_some() || !self.auth.users.is_empty()
    }
}
