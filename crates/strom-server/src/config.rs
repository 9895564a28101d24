//! From a parsed configuration file ([`strom_conf::ServerConfig`]) to [`Options`].
//!
//! The language and field types are checked by `strom-conf`; this maps the values onto what the
//! server runs with — users, permissions, accounts — and lists what is accepted but not served
//! yet, so the operator hears about it at start-up instead of finding out later.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strom_conf::{Map, Position, ServerConfig, Value, ValueKind};
use thiserror::Error;

use crate::auth::{Secret, User};
use crate::links::{Export, Import};
use crate::options::{JsLimits, Options};
use crate::permissions::{Pattern, Permissions, ResponsePermission, Rule};
use crate::tls::TlsOptions;

/// A value that parses but cannot be used, with where it is.
#[derive(Debug, Error)]
#[error("{at}: {message}")]
pub struct ConfigError {
    pub at: Position,
    pub message: String,
}

fn err(at: &Position, message: impl Into<String>) -> ConfigError {
    ConfigError {
        at: at.clone(),
        message: message.into(),
    }
}

/// Options from a file, and what the binary needs besides.
#[derive(Debug, Default)]
pub struct FileOptions {
    pub options: Options,
    pub debug: bool,
    pub trace: bool,
    pub log_file: Option<PathBuf>,
    /// `logtime`: timestamps on log lines (nats-server's default is on).
    pub logtime: bool,
    /// `logtime_utc`: timestamps in UTC.
    pub logtime_utc: bool,
    /// `logfile_size_limit`: rotate the log file past this many bytes; 0 never.
    pub log_size_limit: u64,
    /// `logfile_max_num`: log files kept by rotation; 0 keeps all.
    pub log_max_num: usize,
    /// `log_format` (Strom's own field): `text` unless set.
    pub log_format: crate::log::Format,
    /// `max_traced_msg_len`: payload bytes a trace line shows; 0 shows all.
    pub max_traced_msg_len: usize,
    /// One line per accepted-but-not-served feature.
    pub not_yet: Vec<String>,
}

/// Maps a configuration onto options, starting from nats-server's defaults.
///
/// # Errors
/// A [`ConfigError`] naming file:line:col for values the server cannot use.
pub fn from_config(cfg: &ServerConfig) -> Result<FileOptions, ConfigError> {
    let mut out = FileOptions::default();
    let o = &mut out.options;
    if let Some(l) = &cfg.listen {
        if let Some(h) = l.host.as_deref().filter(|h| !h.is_empty()) {
            o.host = h.to_string();
        }
        o.port = port(l.port);
    }
    if let Some(h) = &cfg.host {
        o.host = h.clone();
    }
    if let Some(p) = cfg.port {
        o.port = port(p);
    }
    o.server_name = cfg.server_name.clone();
    if let Some(h) = &cfg.http {
        if let Some(host) = h.host.as_deref().filter(|h| !h.is_empty()) {
            o.http_host = Some(host.to_string());
        }
        o.http_port = monitor_port(h.port);
    }
    if let Some(p) = cfg.http_port {
        o.http_port = monitor_port(p);
    }
    // nats-server: `https` sets the same monitoring host as `http`.
    if let Some(h) = &cfg.https {
        if let Some(host) = h.host.as_deref().filter(|h| !h.is_empty()) {
            o.http_host = Some(host.to_string());
        }
        o.https_port = monitor_port(h.port);
    }
    if let Some(p) = cfg.https_port {
        o.https_port = monitor_port(p);
    }
    o.http_base_path = cfg.http_base_path.clone();
    if let Some(v) = cfg.max_payload {
        o.max_payload = v as usize;
    }
    if let Some(v) = cfg.max_control_line {
        o.max_control_line = v as usize;
    }
    if let Some(v) = cfg.max_connections {
        o.max_connections = usize::try_from(v).unwrap_or(0);
    }
    // nats-server: 0 means the default, a negative count keeps none.
    match cfg.max_closed_clients {
        Some(0) | None => {}
        Some(v) => o.max_closed_clients = usize::try_from(v).unwrap_or(0),
    }
    if let Some(v) = cfg.max_pending {
        o.max_pending = v as usize;
    }
    if let Some(v) = cfg.ping_interval {
        o.ping_interval = v;
    }
    if let Some(v) = cfg.ping_max {
        o.ping_max = u32::try_from(v).unwrap_or(0);
    }
    if let Some(v) = cfg.write_deadline {
        o.write_deadline = v;
    }
    if let Some(v) = cfg.lame_duck_duration {
        o.lame_duck_duration = v;
    }
    if let Some(v) = cfg.lame_duck_grace_period {
        o.lame_duck_grace_period = v;
    }
    o.pid_file = cfg.pid_file.as_ref().map(PathBuf::from);
    o.ports_file_dir = cfg.ports_file_dir.as_ref().map(PathBuf::from);
    if let Some(js) = &cfg.jetstream {
        o.jetstream = js.enabled;
        o.store_dir = js.store_dir.as_ref().map(PathBuf::from);
        o.sync = match js.sync_interval {
            Some(strom_conf::SyncInterval::Every(d)) => crate::options::SyncPolicy::Every(d),
            _ => crate::options::SyncPolicy::Always,
        };
        o.js_domain = js.domain.clone();
        o.js_max_memory = js.max_memory_store.unwrap_or(-1);
        o.js_max_file = js.max_file_store.unwrap_or(-1);
        if let Some(key) = &js.key {
            // nats-server's default cipher is ChaCha20-Poly1305.
            let kind = match js.cipher {
                Some(strom_conf::Cipher::Aes) => strom_store::CipherKind::Aes256Gcm,
                _ => strom_store::CipherKind::ChaCha20Poly1305,
            };
            o.js_cipher = Some((kind, crate::options::EncryptionKey(key.clone())));
        } else if js.cipher.is_some() {
            return Err(err(
                &js.at,
                "jetstream: a cipher needs a key (`key: ...`) to encrypt with",
            ));
        }
    }
    out.debug = cfg.debug.unwrap_or(false);
    out.logtime = cfg.logtime.unwrap_or(true);
    out.trace = cfg.trace.unwrap_or(false);
    out.log_file = cfg.logfile.as_ref().map(PathBuf::from);
    out.logtime_utc = cfg.logtime_utc.unwrap_or(false);
    out.log_size_limit = cfg.log_size_limit.unwrap_or(0);
    // nats-server: 0 or less keeps every file, as does a count too large for an int.
    out.log_max_num = cfg
        .log_max_num
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    out.log_format = match cfg.log_format {
        Some(strom_conf::LogFormat::Json) => crate::log::Format::Json,
        _ => crate::log::Format::Text,
    };
    out.max_traced_msg_len = cfg
        .max_traced_msg_len
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    map_auth(cfg, &mut out)?;
    if let Some(tls) = &cfg.tls {
        out.options.tls = Some(map_tls(tls, &mut out.not_yet)?);
    }
    for (name, block) in [
        ("cluster", &cfg.cluster),
        ("leafnodes", &cfg.leafnodes),
        ("gateway", &cfg.gateway),
        ("websocket", &cfg.websocket),
        ("mqtt", &cfg.mqtt),
    ] {
        if let Some(v) = block {
            out.not_yet.push(format!(
                "{}: the {name} block is accepted but not yet served by Strom",
                v.at
            ));
        }
    }
    out.options.system_account = cfg.system_account.clone();
    for w in &cfg.warnings {
        out.not_yet.push(w.to_string());
    }
    Ok(out)
}

/// Reads the `tls {}` block, and loads its files now so that a bad one is reported with the
/// block's position (nats-server's `-t` checks them too).
fn map_tls(v: &Value, not_yet: &mut Vec<String>) -> Result<TlsOptions, ConfigError> {
    let m = v.as_map().ok_or_else(|| err(&v.at, "tls must be a map"))?;
    let path = |k: &str| m.get(k).and_then(Value::as_str).map(PathBuf::from);
    let (Some(cert), Some(key)) = (path("cert_file"), path("key_file")) else {
        return Err(err(&v.at, "tls needs cert_file and key_file"));
    };
    let mut o = TlsOptions::new(cert, key);
    o.ca_file = path("ca_file");
    for e in m.iter() {
        match e.key.to_ascii_lowercase().as_str() {
            "cert_file" | "key_file" | "ca_file" => {}
            "verify" => o.verify = e.value.as_bool().unwrap_or(false),
            "verify_and_map" => {
                let on = e.value.as_bool().unwrap_or(false);
                o.verify |= on;
                o.map_users = on;
            }
            "timeout" => {
                o.timeout = match &e.value.kind {
                    ValueKind::Integer(n) => Duration::from_secs(u64::try_from(*n).unwrap_or(0)),
                    ValueKind::Float(f) if *f >= 0.0 => Duration::from_secs_f64(*f),
                    ValueKind::String(s) => {
                        strom_conf::parse_duration(s).map_err(|m| err(&e.value.at, m))?
                    }
                    _ => {
                        return Err(err(
                            &e.value.at,
                            "timeout must be seconds or a duration such as \"2s\"",
                        ))
                    }
                }
            }
            "handshake_first" | "first" | "immediate" => {
                o.handshake_first = match &e.value.kind {
                    ValueKind::Bool(b) => *b,
                    ValueKind::String(s) => !matches!(s.as_str(), "false" | "off"),
                    _ => true,
                };
            }
            other => not_yet.push(format!(
                "{}: tls option \"{other}\" is accepted but not yet served by Strom",
                e.key_at
            )),
        }
    }
    crate::tls::server_config(&o).map_err(|e| err(&v.at, e.to_string()))?;
    Ok(o)
}

/// A monitoring port as nats-server reads it: 0 serves none, -1 a random port (`Some(0)`).
fn monitor_port(p: i32) -> Option<u16> {
    match p {
        0 => None,
        p if p < 0 => Some(0),
        p => u16::try_from(p).ok(),
    }
}

/// nats-server: -1 asks for a random port, as does 0 here.
fn port(p: i32) -> u16 {
    u16::try_from(p).unwrap_or(0)
}

fn map_auth(cfg: &ServerConfig, out: &mut FileOptions) -> Result<(), ConfigError> {
    let auth = &mut out.options.auth;
    let mut default_perms = None;
    if let Some(a) = &cfg.authorization {
        if let Some(t) = &a.timeout {
            out.options.auth_timeout = *t;
        }
        if let Some(p) = &a.default_permissions {
            default_perms = Some(Arc::new(permissions(p)?));
        }
        if let Some(token) = &a.token {
            auth.token = Some(Secret::new(token));
        }
        if let Some(user) = &a.user {
            auth.users.push(User {
                username: Some(user.clone()),
                password: a.password.as_deref().map(Secret::new),
                ..User::default()
            });
        }
        for u in a.users.iter().flatten() {
            let perms = match &u.permissions {
                Some(p) => Some(Arc::new(permissions(p)?)),
                None => default_perms.clone(),
            };
            auth.users.push(User {
                username: u.user.clone(),
                password: u.password.as_deref().map(Secret::new),
                nkey: u.nkey.clone(),
                account: None,
                permissions: perms,
            });
        }
    }
    if let Some(accounts) = &cfg.accounts {
        map_accounts(accounts, default_perms, out)?;
    }
    let auth = &mut out.options.auth;
    auth.no_auth_user = cfg.no_auth_user.clone();
    if let Some(n) = &auth.no_auth_user {
        if !auth.users.iter().any(|u| u.username.as_deref() == Some(n)) {
            let at = cfg
                .authorization
                .as_ref()
                .map(|a| a.at.clone())
                .unwrap_or_else(|| Position::new("configuration".into(), 0, 0));
            return Err(err(&at, format!("no_auth_user: \"{n}\" not present as user or nkey in authorization block or account configuration")));
        }
    }
    Ok(())
}

fn map_accounts(
    accounts: &Value,
    default_perms: Option<Arc<Permissions>>,
    out: &mut FileOptions,
) -> Result<(), ConfigError> {
    let map = accounts.as_map().ok_or_else(|| {
        err(
            &accounts.at,
            "accounts must be a map of account names to blocks",
        )
    })?;
    let mut exports: Vec<Export> = Vec::new();
    let mut imports: Vec<(Import, Position)> = Vec::new();
    for entry in map.iter() {
        let name = entry.key.clone();
        out.options.accounts.push(name.clone());
        let Some(block) = entry.value.as_map() else {
            continue;
        };
        for e in block.iter() {
            match e.key.as_str() {
                "users" => {
                    let users = e
                        .value
                        .as_array()
                        .ok_or_else(|| err(&e.value.at, "users must be an array"))?;
                    for u in users {
                        out.options
                            .auth
                            .users
                            .push(account_user(u, &name, default_perms.clone())?);
                    }
                }
                "exports" => {
                    let list = e
                        .value
                        .as_array()
                        .ok_or_else(|| err(&e.value.at, "exports must be an array"))?;
                    for x in list {
                        exports.push(export(x, &name)?);
                    }
                }
                "imports" => {
                    let list = e
                        .value
                        .as_array()
                        .ok_or_else(|| err(&e.value.at, "imports must be an array"))?;
                    for i in list {
                        imports.push((import(i, &name)?, i.at.clone()));
                    }
                }
                "jetstream" => {
                    if let Some(limits) = account_jetstream(&e.value)? {
                        out.options.js_accounts.push((name.clone(), limits));
                    }
                }
                other => out.not_yet.push(format!(
                    "{}: account {name}: \"{other}\" is accepted but not yet served by Strom",
                    e.key_at
                )),
            }
        }
    }
    // nats-server refuses an import its exporter does not allow.
    for (i, at) in imports {
        let (kind, exporter, importer, subject) = match &i {
            Import::Stream {
                exporter,
                importer,
                subject,
                ..
            } => ("stream", exporter, importer, subject),
            Import::Service {
                exporter,
                importer,
                subject,
                ..
            } => ("service", exporter, importer, subject),
        };
        let allowed = exports.iter().any(|x| {
            x.kind == kind
                && &x.account == exporter
                && strom_proto::subject::matches(x.subject.as_bytes(), subject.as_bytes())
                    | (x.subject == *subject)
                && x.accounts.as_ref().is_none_or(|a| a.contains(importer))
        });
        if !allowed {
            return Err(err(
                &at,
                format!("Error adding {kind} import \"{subject}\": {kind} import not authorized"),
            ));
        }
        out.options.imports.push(i);
    }
    out.options.exports = exports;
    Ok(())
}

fn export(v: &Value, account: &str) -> Result<Export, ConfigError> {
    let m = v
        .as_map()
        .ok_or_else(|| err(&v.at, "an export must be a map with stream or service"))?;
    let (kind, subject) = match (m.get("stream"), m.get("service")) {
        (Some(s), None) => ("stream", s),
        (None, Some(s)) => ("service", s),
        _ => {
            return Err(err(
                &v.at,
                "an export needs exactly one of stream or service",
            ))
        }
    };
    let subject = subject
        .as_str()
        .ok_or_else(|| err(&subject.at, "the exported subject must be a string"))?
        .to_string();
    let accounts = match m.get("accounts") {
        Some(a) => Some(
            a.as_array()
                .ok_or_else(|| err(&a.at, "accounts must be a list of account names"))?
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
        ),
        None => None,
    };
    // nats-server's `response_type` (or `response`): how many answers a request may get.
    let response = match m.get("response_type").or_else(|| m.get("response")) {
        None => "Singleton",
        Some(r) => match r.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("single" | "singleton") => "Singleton",
            Some("stream") => "Streamed",
            Some("chunk" | "chunked") => "Chunked",
            _ => {
                return Err(err(
                    &r.at,
                    "unknown response type: use singleton, stream or chunked",
                ))
            }
        },
    };
    Ok(Export {
        kind,
        account: account.to_string(),
        subject,
        accounts,
        response,
    })
}

fn import(v: &Value, importer: &str) -> Result<Import, ConfigError> {
    let m = v
        .as_map()
        .ok_or_else(|| err(&v.at, "an import must be a map with stream or service"))?;
    let (kind, source) = match (m.get("stream"), m.get("service")) {
        (Some(s), None) => ("stream", s),
        (None, Some(s)) => ("service", s),
        _ => {
            return Err(err(
                &v.at,
                "an import needs exactly one of stream or service",
            ))
        }
    };
    let src = source
        .as_map()
        .ok_or_else(|| err(&source.at, "expected {account: NAME, subject: SUBJECT}"))?;
    let field = |k: &str| {
        src.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err(&source.at, format!("the {kind} import needs {k}")))
    };
    let exporter = field("account")?;
    let subject = field("subject")?;
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(match kind {
        "stream" => Import::Stream {
            exporter,
            importer: importer.to_string(),
            subject,
            prefix: text("prefix"),
            to: text("to"),
        },
        _ => Import::Service {
            exporter,
            importer: importer.to_string(),
            subject,
            to: text("to"),
        },
    })
}

fn account_user(
    v: &Value,
    account: &str,
    default_perms: Option<Arc<Permissions>>,
) -> Result<User, ConfigError> {
    let m = v
        .as_map()
        .ok_or_else(|| err(&v.at, "a user must be a map"))?;
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let perms = match m.get("permissions") {
        Some(p) => Some(Arc::new(permissions(p)?)),
        None => default_perms,
    };
    Ok(User {
        username: text("user").or_else(|| text("username")),
        password: text("password")
            .or_else(|| text("pass"))
            .as_deref()
            .map(Secret::new),
        nkey: text("nkey"),
        account: Some(account.to_string()),
        permissions: perms,
    })
}

/// Reads a `permissions { publish, subscribe, allow_responses }` block.
fn permissions(v: &Value) -> Result<Permissions, ConfigError> {
    let m = v
        .as_map()
        .ok_or_else(|| err(&v.at, "permissions must be a map"))?;
    let mut p = Permissions::default();
    for e in m.iter() {
        match e.key.to_ascii_lowercase().as_str() {
            "publish" | "pub" => p.publish = Some(rule(&e.value)?),
            "subscribe" | "sub" => p.subscribe = Some(rule(&e.value)?),
            "allow_responses" | "allow_resp" => p.responses = responses(&e.value)?,
            other => return Err(err(&e.key_at, format!("unknown field \"{other}\" in permissions (expected publish, subscribe or allow_responses)"))),
        }
    }
    Ok(p)
}

/// A rule: a subject, a list of subjects (the allow list), or `{ allow, deny }`.
fn rule(v: &Value) -> Result<Rule, ConfigError> {
    match &v.kind {
        ValueKind::String(_) | ValueKind::Array(_) => Ok(Rule {
            allow: Some(patterns(v)?),
            deny: Vec::new(),
        }),
        ValueKind::Map(m) => rule_map(m),
        _ => Err(err(
            &v.at,
            format!(
                "expected a subject, a list of subjects or {{allow, deny}}, got {}",
                v.describe()
            ),
        )),
    }
}

fn rule_map(m: &Map) -> Result<Rule, ConfigError> {
    let mut r = Rule::default();
    for e in m.iter() {
        match e.key.to_ascii_lowercase().as_str() {
            "allow" => r.allow = Some(patterns(&e.value)?),
            "deny" => r.deny = patterns(&e.value)?,
            other => {
                return Err(err(
                    &e.key_at,
                    format!("unknown field \"{other}\" in a permission (expected allow or deny)"),
                ))
            }
        }
    }
    Ok(r)
}

fn patterns(v: &Value) -> Result<Vec<Pattern>, ConfigError> {
    match &v.kind {
        ValueKind::String(s) => Ok(vec![Pattern::parse(s)]),
        ValueKind::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(Pattern::parse)
                    .ok_or_else(|| err(&i.at, format!("expected a subject, got {}", i.describe())))
            })
            .collect(),
        _ => Err(err(
            &v.at,
            format!(
                "expected a subject or a list of subjects, got {}",
                v.describe()
            ),
        )),
    }
}

fn responses(v: &Value) -> Result<Option<ResponsePermission>, ConfigError> {
    match &v.kind {
        ValueKind::Bool(b) => Ok(b.then(ResponsePermission::default)),
        ValueKind::Map(m) => {
            let mut r = ResponsePermission::default();
            for e in m.iter() {
                match e.key.to_ascii_lowercase().as_str() {
                    "max" => {
                        r.max = e
                            .value
                            .as_i64()
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| err(&e.value.at, "max must be a positive integer"))?;
                    }
                    "expires" | "ttl" => {
                        r.expires = match &e.value.kind {
                            ValueKind::String(s) => strom_conf::parse_duration(s).map_err(|m| err(&e.value.at, m))?,
                            ValueKind::Integer(n) => Duration::from_secs(u64::try_from(*n).unwrap_or(0)),
                            _ => return Err(err(&e.value.at, "expires must be a duration such as \"1m\"")),
                        };
                    }
                    other => return Err(err(&e.key_at, format!("unknown field \"{other}\" in allow_responses (expected max or expires)"))),
                }
            }
            Ok(Some(r))
        }
        _ => Err(err(
            &v.at,
            format!(
                "allow_responses must be true/false or {{max, expires}}, got {}",
                v.describe()
            ),
        )),
    }
}

/// An account's `jetstream`: `enabled`/`disabled`, a boolean, or a block of limits
/// (`max_mem`, `max_file`, `max_streams`, `max_consumers`, ...). `None` when disabled.
fn account_jetstream(v: &Value) -> Result<Option<JsLimits>, ConfigError> {
    let mut limits = JsLimits::default();
    match &v.kind {
        ValueKind::Bool(b) => return Ok(b.then_some(limits)),
        ValueKind::String(s) => {
            return match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Ok(Some(limits)),
                "disabled" | "disable" => Ok(None),
                _ => Err(err(
                    &v.at,
                    format!("expected 'enabled' or 'disabled' for jetstream, got {s:?}"),
                )),
            };
        }
        ValueKind::Map(m) => {
            for f in m {
                let n = || {
                    f.value.as_i64().ok_or_else(|| {
                        err(&f.value.at, format!("{} must be a number or a size", f.key))
                    })
                };
                match f.key.to_ascii_lowercase().as_str() {
                    "max_mem" | "max_memory" | "max_mem_store" | "max_memory_store" => {
                        limits.max_memory = n()?;
                    }
                    "max_file" | "max_store" | "max_file_store" | "max_disk" => {
                        limits.max_file = n()?;
                    }
                    "max_streams" => limits.max_streams = n()?,
                    "max_consumers" => limits.max_consumers = n()?,
                    "max_ack_pending" => limits.max_ack_pending = n()?,
                    "max_bytes_required" | "max_stream_bytes_required" => {
                        limits.max_bytes_required = f.value.as_bool().unwrap_or(false);
                    }
                    _ => {}
                }
            }
        }
        _ => {
            return Err(err(
                &v.at,
                "jetstream must be enabled, disabled, a boolean or a block of limits",
            ))
        }
    }
    Ok(Some(limits))
}
