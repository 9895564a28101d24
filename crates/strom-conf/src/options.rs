//! [`ServerConfig`]: the top level of a configuration, typed.
//!
//! Every field is an `Option`, `None` when the file does not set it, so the caller applies its
//! own defaults and can tell them from explicit values. Field names and aliases are nats-server's
//! and match case-insensitively, as there. Blocks not served yet are kept as value trees, and
//! fields nats-server knows but Strom does not type go to [`ServerConfig::other`].

use std::path::Path;
use std::time::Duration;

use crate::auth::{self, Authorization};
use crate::blocks;
use crate::error::{ConfError, ConfWarning};
use crate::fields::{HostPort, Report};
use crate::jetstream::{self, JetStream};
use crate::parser::parse_file;
use crate::suggest::Place;
use crate::value::{Entry, Map, Value};

/// nats-server's `max_pending` when none is set; `max_payload` may not exceed it.
pub const DEFAULT_MAX_PENDING: u64 = 64 * 1024 * 1024;
/// nats-server's `lame_duck_duration` when none is set.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// The shortest `lame_duck_duration` nats-server accepts.
pub const MIN_LAME_DUCK_DURATION: Duration = Duration::from_secs(30);

/// Every top-level field nats-server 2.15 knows (`server/opts.go`).
const TOP_FIELDS: &[&str] = &[
    "listen",
    "client_advertise",
    "port",
    "server_name",
    "host",
    "net",
    "debug",
    "trace",
    "trace_verbose",
    "trace_headers",
    "logtime",
    "logtime_utc",
    "mappings",
    "maps",
    "disable_sublist_cache",
    "no_sublist_cache",
    "accounts",
    "default_sentinel",
    "authorization",
    "http",
    "https",
    "http_port",
    "monitor_port",
    "https_port",
    "http_base_path",
    "cluster",
    "gateway",
    "leaf",
    "leafnodes",
    "store_dir",
    "storedir",
    "jetstream",
    "logfile",
    "log_file",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "syslog",
    "remote_syslog",
    "pidfile",
    "pid_file",
    "ports_file_dir",
    "prof_port",
    "prof_block_rate",
    "max_control_line",
    "max_payload",
    "max_pending",
    "proxy_protocol",
    "max_connections",
    "max_conn",
    "max_traced_msg_len",
    "max_subscriptions",
    "max_subs",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ping_interval",
    "ping_max",
    "tls",
    "ocsp",
    "allow_non_tls",
    "write_deadline",
    "write_timeout",
    "lame_duck_duration",
    "lame_duck_grace_period",
    "operator",
    "operators",
    "roots",
    "root",
    "root_operators",
    "root_operator",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_tls",
    "resolver_preload",
    "resolver_pinned_accounts",
    "no_auth_user",
    "system_account",
    "system",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "no_header_support",
    "trusted",
    "trusted_keys",
    "connect_error_reports",
    "reconnect_error_reports",
    "websocket",
    "ws",
    "mqtt",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "ocsp_cache",
    "no_fast_producer_stall",
    "max_closed_clients",
    "proxies",
];

/// A configuration file's top level, typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerConfig {
    /// `listen`: a port or "host:port".
    pub listen: Option<HostPort>,
    /// `host` / `net`.
    pub host: Option<String>,
    /// `port`.
    pub port: Option<i32>,
    /// `server_name` (no spaces).
    pub server_name: Option<String>,
    /// `http`: the monitoring port or "host:port".
    pub http: Option<HostPort>,
    /// `http_port` / `monitor_port`.
    pub http_port: Option<i32>,
    /// `https`: port or "host:port".
    pub https: Option<HostPort>,
    /// `https_port`.
    pub https_port: Option<i32>,
    /// `http_base_path`.
    pub http_base_path: Option<String>,
    /// `max_payload`, bytes.
    pub max_payload: Option<u32>,
    /// `max_control_line`, bytes.
    pub max_control_line: Option<u32>,
    /// `max_connections` / `max_conn`; 0 means no limit, as in nats-server.
    pub max_connections: Option<i64>,
    /// `max_pending`, bytes.
    pub max_pending: Option<u64>,
    /// `max_closed_clients`: how many closed connections monitoring remembers.
    pub max_closed_clients: Option<i64>,
    /// `max_subscriptions` / `max_subs`; 0 means no limit.
    pub max_subscriptions: Option<i64>,
    /// `ping_interval`: a duration string, or seconds (with a warning).
    pub ping_interval: Option<Duration>,
    /// `ping_max`.
    pub ping_max: Option<i64>,
    /// `write_deadline`: a duration string, or seconds (with a warning).
    pub write_deadline: Option<Duration>,
    /// `lame_duck_duration`, at least 30s.
    pub lame_duck_duration: Option<Duration>,
    /// `lame_duck_grace_period`, below the lame duck duration.
    pub lame_duck_grace_period: Option<Duration>,
    /// `debug`.
    pub debug: Option<bool>,
    /// `trace`.
    pub trace: Option<bool>,
    /// `logtime`.
    pub logtime: Option<bool>,
    /// `logtime_utc`.
    pub logtime_utc: Option<bool>,
    /// `logfile` / `log_file`.
    pub logfile: Option<String>,
    /// `log_size_limit` / `logfile_size_limit`, bytes.
    pub log_size_limit: Option<u64>,
    /// `logfile_max_num` / `log_max_num`: files kept by rotation; 0 or less keeps all.
    pub log_max_num: Option<i64>,
    /// `log_format`: a Strom extension (nats-server has no such field): `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// `max_traced_msg_len`: payload bytes a trace line shows; 0 or less shows all.
    pub max_traced_msg_len: Option<i64>,
    /// `pid_file` / `pidfile`.
    pub pid_file: Option<String>,
    /// `ports_file_dir`.
    pub ports_file_dir: Option<String>,
    /// `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// `system_account` / `system`.
    pub system_account: Option<String>,
    /// `authorization { ... }`.
    pub authorization: Option<Authorization>,
    /// `accounts`, as written.
    pub accounts: Option<Value>,
    /// `jetstream`.
    pub jetstream: Option<JetStream>,
    /// `cluster { ... }`, as written (not served yet; fields and types checked).
    pub cluster: Option<Value>,
    /// `leafnodes` / `leaf`, as written (not served yet).
    pub leafnodes: Option<Value>,
    /// `gateway`, as written (not served yet).
    pub gateway: Option<Value>,
    /// `websocket` / `ws`, as written (not served yet).
    pub websocket: Option<Value>,
    /// `mqtt`, as written (not served yet).
    pub mqtt: Option<Value>,
    /// `tls`, as written (not served yet).
    pub tls: Option<Value>,
    /// Other fields nats-server knows (`client_advertise`, `operator`, `store_dir`, ...), as
    /// written.
    pub other: Map,
    /// What nats-server accepts but warns about; `nats-server -t` refuses a file with any.
    pub warnings: Vec<ConfWarning>,
}

impl ServerConfig {
    /// Parses a configuration file and maps it.
    ///
    /// # Errors
    /// The parse error, or every problem [`ServerConfig::from_map`] finds.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfError> {
        Self::from_map(&parse_file(path)?)
    }

    /// Maps a parsed configuration, checking it as nats-server does when it loads and starts.
    ///
    /// # Errors
    /// Every unknown field, wrong type and refused value, in file order (one error, or
    /// [`ConfError::Several`]).
    pub fn from_map(map: &Map) -> Result<Self, ConfError> {
        let mut config = ServerConfig::default();
        let mut r = Report::default();
        for e in map {
            config.apply(e, &mut r);
        }
        config.validate(map, &mut r);
        match ConfError::from_list(r.errors) {
            Some(e) => Err(e),
            None => {
                config.warnings = r.warnings;
                Ok(config)
            }
        }
    }

    fn apply(&mut self, e: &Entry, r: &mut Report) {
        match e.key.to_ascii_lowercase().as_str() {
            "listen" => self.listen = r.host_port(e),
            "host" | "net" => self.host = r.string(e),
            "port" => self.port = r.port(e),
            "server_name" => self.server_name = server_name(e, r),
            "http" => self.http = r.host_port(e),
            "http_port" | "monitor_port" => self.http_port = r.port(e),
            "https" => self.https = r.host_port(e),
            "https_port" => self.https_port = r.port(e),
            "http_base_path" => self.http_base_path = r.string(e),
            "max_payload" => self.max_payload = r.size_i32(e),
            "max_control_line" => self.max_control_line = r.size_i32(e),
            "max_connections" | "max_conn" => self.max_connections = r.integer(e, "65536"),
            "max_pending" => self.max_pending = r.size(e),
            "max_closed_clients" => self.max_closed_clients = r.integer(e, "10000"),
            "max_subscriptions" | "max_subs" => self.max_subscriptions = r.integer(e, "1000"),
            "ping_interval" => self.ping_interval = r.duration_or_seconds(e),
            "ping_max" => self.ping_max = r.integer(e, "2"),
            "write_deadline" => self.write_deadline = r.duration_or_seconds(e),
            "lame_duck_duration" => self.lame_duck_duration = lame_duck_duration(e, r),
            "lame_duck_grace_period" => self.lame_duck_grace_period = r.duration(e),
            "debug" => self.debug = r.boolean(e),
            "trace" => self.trace = r.boolean(e),
            "logtime" => self.logtime = r.boolean(e),
            "logtime_utc" => self.logtime_utc = r.boolean(e),
            "logfile" | "log_file" => self.logfile = r.string(e),
            "log_size_limit" | "logfile_size_limit" => self.log_size_limit = r.size(e),
            "logfile_max_num" | "log_max_num" => self.log_max_num = r.integer(e, "3"),
            "max_traced_msg_len" => self.max_traced_msg_len = r.integer(e, "256"),
            "log_format" => self.log_format = log_format(e, r),
            "pid_file" | "pidfile" => self.pid_file = r.string(e),
            "ports_file_dir" => self.ports_file_dir = r.string(e),
            "no_auth_user" => self.no_auth_user = r.string(e),
            "system_account" | "system" => self.system_account = r.string(e),
            "authorization" => self.authorization = auth::authorization(e, r),
            "accounts" => self.accounts = Some(e.value.clone()),
            "jetstream" => self.jetstream = jetstream::jetstream(e, r),
            "cluster" => self.cluster = blocks::cluster(e, r),
            "leafnodes" | "leaf" => self.leafnodes = blocks::leafnodes(e, r),
            "gateway" => self.gateway = blocks::gateway(e, r),
            "websocket" | "ws" => self.websocket = blocks::websocket(e, r),
            "mqtt" => self.mqtt = blocks::mqtt(e, r),
            "tls" => self.tls = block(e, r, "cert_file: c.pem, key_file: k.pem"),
            k if TOP_FIELDS.contains(&k) => self.other.insert_entry(e.clone()),
            _ => r.unknown(e, Place::Top, TOP_FIELDS),
        }
    }

    /// The checks nats-server makes across fields when it starts (`validateOptions`).
    fn validate(&self, map: &Map, r: &mut Report) {
        let max_pending = self.max_pending.unwrap_or(DEFAULT_MAX_PENDING);
        if let (Some(payload), Some(e)) = (self.max_payload, last(map, &["max_payload"])) {
            if u64::from(payload) > max_pending {
                r.invalid(
                    e,
                    format!("max_payload ({payload}) cannot be higher than max_pending ({max_pending}); lower max_payload or raise max_pending"),
                );
            }
        }
        let duck = self
            .lame_duck_duration
            .unwrap_or(DEFAULT_LAME_DUCK_DURATION);
        if let (Some(grace), Some(e)) = (
            self.lame_duck_grace_period,
            last(map, &["lame_duck_grace_period"]),
        ) {
            if grace >= duck {
                r.invalid(
                    e,
                    format!("the lame duck grace period ({grace:?}) must be shorter than the lame duck duration ({duck:?})"),
                );
            }
        }
        let js_store = self.jetstream.as_ref().and_then(|j| j.store_dir.as_ref());
        if let (Some(_), Some(e)) = (js_store, last(map, &["store_dir", "storedir"])) {
            r.invalid(
                e,
                "store_dir is set both here and in the jetstream block; keep only one",
            );
        }
    }
}

/// The last entry under any of `names` (case-insensitive): the one whose value counts.
fn last<'m>(map: &'m Map, names: &[&str]) -> Option<&'m Entry> {
    map.iter()
        .rev()
        .find(|e| names.iter().any(|n| e.key.eq_ignore_ascii_case(n)))
}

/// How log lines are written (`log_format`, Strom's own field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// nats-server's text lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn log_format(e: &Entry, r: &mut Report) -> Option<LogFormat> {
    let s = r.string(e)?;
    match s.to_ascii_lowercase().as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => {
            r.invalid(
                e,
                format!("unknown log format \"{s}\"; use \"text\" or \"json\""),
            );
            None
        }
    }
}

fn server_name(e: &Entry, r: &mut Report) -> Option<String> {
    let name = r.string(e)?;
    if name.contains(' ') {
        r.invalid(
            e,
            "server name cannot contain spaces; use '-' or '_' instead",
        );
        return None;
    }
    Some(name)
}

fn lame_duck_duration(e: &Entry, r: &mut Report) -> Option<Duration> {
    let d = r.duration(e)?;
    if d < MIN_LAME_DUCK_DURATION {
        r.invalid(
            e,
            format!("invalid lame_duck_duration of {d:?}, minimum is 30 seconds"),
        );
        return None;
    }
    Some(d)
}

/// A block kept as written; nats-server requires a map here.
fn block(e: &Entry, r: &mut Report, example: &str) -> Option<Value> {
    r.map(e, example).map(|_| e.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_str_with_env;

    fn config(text: &str) -> Result<ServerConfig, ConfError> {
        ServerConfig::from_map(&parse_str_with_env(text, "t.conf", &|_| None)?)
    }

    fn refusal(text: &str) -> String {
        config(text).expect_err("refused").to_string()
    }

    #[test]
    fn typed_fields_and_aliases() {
        let text = "listen: 0.0.0.0:4222\nNET: h\nport: 4222\nhttp: 8222\nmonitor_port: 8222\nmax_payload: 2MB\nmax_pending: 8MB\nping_interval: \"30s\"\nlame_duck_duration: 60s\nlame_duck_grace_period: 10s\nlog_file: /x.log\nlogfile_size_limit: 1GB\ndebug: on\nmax_conn: 0\nclient_advertise: a:1\n";
        let c = config(text).expect("valid");
        assert_eq!(c.listen.map(|l| l.port), Some(4222));
        assert_eq!(c.host.as_deref(), Some("h"));
        assert_eq!(c.http.map(|h| (h.host, h.port)), Some((None, 8222)));
        assert_eq!(c.http_port, Some(8222));
        assert_eq!(c.max_payload, Some(2 << 20));
        assert_eq!(c.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.lame_duck_duration, Some(Duration::from_secs(60)));
        assert_eq!(c.logfile.as_deref(), Some("/x.log"));
        assert_eq!(c.log_size_limit, Some(1 << 30));
        assert_eq!(c.debug, Some(true));
        assert_eq!(c.max_connections, Some(0));
        assert!(c.other.get("client_advertise").is_some());
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn logging_fields_are_typed() {
        let c = config("logfile_max_num: 3\nmax_traced_msg_len: 16\nlog_format: JSON\n")
            .expect("valid");
        assert_eq!(c.log_max_num, Some(3));
        assert_eq!(c.max_traced_msg_len, Some(16));
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(
            config("log_max_num: 2\n").expect("alias").log_max_num,
            Some(2)
        );
        let e = config("log_format: yaml\n").expect_err("unknown format");
        assert!(e.to_string().contains("\"text\" or \"json\""), "{e}");
        // nats-server refuses a quoted number here too.
        assert!(config("log_max_num: \"3\"\n").is_err());
    }

    #[test]
    fn unknown_fields_name_position_and_likely_field() {
        let text = "port: 4222\n  max_paylod: 1MB\ndefault_user: a\n";
        let e = config(text).expect_err("refused");
        let all = e.errors();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].to_string(),
            "t.conf:2:3: unknown field `max_paylod` in the top level; did you mean `max_payload`?"
        );
        assert!(all[1].to_string().contains("no_auth_user"));
    }

    #[test]
    fn keys_used_as_variables_are_not_unknown() {
        let c = config("PASS: secret\nauthorization { user: a, password: $PASS }\n");
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn wrong_types_name_field_and_type() {
        assert_eq!(
            refusal("port: \"abc\""),
            "t.conf:1:7: `port` must be an integer without quotes, e.g. `port: 4222`, but it is the string \"abc\""
        );
        assert!(
            refusal("max_payload: true").starts_with("t.conf:1:14: `max_payload` must be a size")
        );
        assert!(refusal("lame_duck_duration: 2m").contains("a bare 2m is the size 2000000"));
    }

    #[test]
    fn cross_field_checks_mirror_nats_server() {
        assert!(
            refusal("max_payload: 100MB").contains("cannot be higher than max_pending (67108864)")
        );
        assert!(config("max_payload: 65MB\nmax_pending: 100MB").is_ok());
        assert!(config("max_payload: 64MB").is_ok());
        assert!(refusal("max_payload: 2MB\nmax_pending: 1MB").starts_with("t.conf:1:14:"));
        assert!(refusal("max_payload: 3GB").contains("too big"));
        assert!(refusal("lame_duck_duration: 10s").contains("minimum is 30 seconds"));
        assert!(
            refusal("lame_duck_duration: \"60s\"\nlame_duck_grace_period: \"70s\"")
                .contains("shorter")
        );
        assert!(refusal("lame_duck_grace_period: \"3m\"").contains("shorter"));
        assert!(refusal("server_name: \"a b\"").contains("spaces"));
        assert!(refusal("store_dir: /a\njetstream { store_dir: /b }").contains("both"));
    }

    #[test]
    fn integer_durations_are_seconds_with_a_warning() {
        let c = config("ping_interval: 5\nwrite_deadline: \"2s\"").expect("valid with a warning");
        assert_eq!(c.ping_interval, Some(Duration::from_secs(5)));
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.warnings[0].at.line, 1);
    }

    #[test]
    fn blocks_not_served_yet_are_kept_as_written() {
        let c = config("cluster { name: c, routes: [ nats://a:6222 ] }\nleaf { port: 7422 }\naccounts { A: {} }").expect("valid");
        assert!(c
            .cluster
            .as_ref()
            .and_then(Value::as_map)
            .is_some_and(|m| m.get("routes").is_some()));
        assert!(c.leafnodes.is_some());
        assert!(c.accounts.is_some());
        assert!(refusal("cluster: 6222").contains("must be a block"));
    }
}
