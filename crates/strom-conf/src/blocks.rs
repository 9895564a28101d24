//! The blocks Strom does not serve yet — `cluster`, `leafnodes`, `gateway`, `websocket`,
//! `mqtt` — checked as nats-server 2.15 checks them when it loads a file
//! (`parseCluster`, `parseLeafNodes`, `parseRemoteLeafNodes`, `parseGateway`,
//! `parseWebsocket`, `parseMQTT` in `server/opts.go`), and kept as written.
//!
//! Each block is a table of fields and what kind of value each takes; one walker checks any
//! block against its table. nats-server reads these values with Go type assertions and stops
//! reading the block at the first wrong type; we report every problem, in file order. TLS blocks
//! and permissions are not looked into: nats-server checks them against files on disk.

use std::collections::HashSet;
use std::time::Duration;

use crate::auth::{self, Authorization};
use crate::duration::parse_duration;
use crate::error::{ConfError, ConfWarning};
use crate::fields::{split_host_port, Report};
use crate::suggest::Place;
use crate::value::{Entry, Map, Value, ValueKind};

/// What a field's value must be.
#[derive(Clone, Copy)]
enum Kind {
    /// Anything; nats-server checks it elsewhere or not at all (`tls`, `permissions`).
    Any,
    Str,
    Bool,
    /// An integer; the text is an example value.
    Int(&'static str),
    /// A port or "host:port" (nats-server's `parseListen`; no range check).
    Listen,
    /// A cluster or gateway name: a string without spaces. The text names the block.
    Name(&'static str),
    /// A duration string, or seconds with a warning (nats-server's `parseDuration`).
    Duration,
    /// Cluster `ping_interval`: a duration; above 30s nats-server warns and uses 30s.
    RoutePingInterval,
    /// `write_timeout`: "default", "close" or "retry".
    WriteTimeout,
    /// An array of URL strings; the text names them in the duplicate warning.
    UrlArray(&'static str),
    /// A URL string, or an array of them (leafnode remote `url`/`urls`).
    UrlOrUrls,
    /// A string, or an array of strings (`accounts`, `allowed_origins`).
    Strings,
    /// `compression`: a boolean, a mode string or `{ mode, rtt_thresholds }`.
    Compression,
    /// `authorization` in `cluster` and `gateway`: one user, no token, no callout.
    RouteAuth(&'static str),
    LeafAuth,
    /// `authorization` in `websocket` and `mqtt` (nats-server's `parseSimpleAuth`).
    SimpleAuth,
    Remotes,
    Gateways,
    /// Websocket `headers`: a map of strings.
    Headers,
    /// Websocket `handshake_timeout`: seconds or a duration string.
    HandshakeTimeout,
    /// MQTT `max_ack_pending`: 0 to 65535.
    MaxAckPending,
    /// MQTT `consumer_replicas`: accepted with a warning.
    Ignored,
    /// Leafnode `min_version`: at least "2.8.0".
    MinVersion,
    /// Remote `jetstream_cluster_migrate`: a boolean or `{ leader_migrate_delay }`.
    ClusterMigrate,
    /// Remote `proxy { url, username, password, timeout }`.
    Proxy,
    /// A public user nkey (`U...`).
    PublicNkey,
}

/// nats-server's `routeMaxPingInterval`.
const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Field names (lowercase, aliases together) and their kind.
type Fields = &'static [(&'static [&'static str], Kind)];

const CLUSTER: Fields = &[
    (&["name"], Kind::Name("cluster")),
    (&["listen"], Kind::Listen),
    (&["port"], Kind::Int("6222")),
    (&["host", "net"], Kind::Str),
    (&["authorization"], Kind::RouteAuth("Cluster")),
    (&["routes"], Kind::UrlArray("route")),
    (&["tls"], Kind::Any),
    (&["cluster_advertise", "advertise"], Kind::Str),
    (&["no_advertise"], Kind::Bool),
    (&["connect_retries"], Kind::Int("3")),
    (&["connect_backoff"], Kind::Bool),
    (&["permissions"], Kind::Any),
    (&["pool_size"], Kind::Int("3")),
    (&["accounts"], Kind::Strings),
    (&["compression"], Kind::Compression),
    (&["ping_interval"], Kind::RoutePingInterval),
    (&["ping_max"], Kind::Int("2")),
    (&["write_deadline"], Kind::Duration),
    (&["write_timeout"], Kind::WriteTimeout),
];

const LEAFNODES: Fields = &[
    (&["listen"], Kind::Listen),
    (&["port"], Kind::Int("7422")),
    (&["host", "net"], Kind::Str),
    (&["authorization"], Kind::LeafAuth),
    (&["remotes"], Kind::Remotes),
    (
        &["reconnect", "reconnect_delay", "reconnect_interval"],
        Kind::Duration,
    ),
    (&["dial_timeout"], Kind::Duration),
    (&["tls"], Kind::Any),
    (&["leafnode_advertise", "advertise"], Kind::Str),
    (&["no_advertise"], Kind::Bool),
    (&["min_version", "minimum_version"], Kind::MinVersion),
    (&["compression"], Kind::Compression),
    (&["isolate_leafnode_interest", "isolate"], Kind::Bool),
    (&["write_deadline"], Kind::Duration),
    (&["write_timeout"], Kind::WriteTimeout),
];

const LEAF_AUTHORIZATION: Fields = &[
    (&["user", "username"], Kind::Str),
    (&["pass", "password"], Kind::Str),
    (&["nkey"], Kind::PublicNkey),
    (&["timeout"], Kind::Any), // checked by auth::timeout
    (&["users"], Kind::Any),   // checked below
    (&["account"], Kind::Str),
    (&["proxy_required"], Kind::Bool),
];

const LEAF_USER: Fields = &[
    (&["user", "username"], Kind::Str),
    (&["pass", "password"], Kind::Str),
    (&["account"], Kind::Str),
    (&["proxy_required"], Kind::Bool),
];

const REMOTE: Fields = &[
    (&["no_randomize", "dont_randomize"], Kind::Bool),
    (&["url", "urls"], Kind::UrlOrUrls),
    (&["account", "local"], Kind::Str),
    (&["creds", "credentials"], Kind::Str),
    (&["nkey", "seed"], Kind::Str),
    (&["tls"], Kind::Any),
    (&["hub"], Kind::Bool),
    (&["deny_imports", "deny_import"], Kind::Any),
    (&["deny_exports", "deny_export"], Kind::Any),
    (
        &[
            "ws_compress",
            "ws_compression",
            "websocket_compress",
            "websocket_compression",
        ],
        Kind::Bool,
    ),
    (&["ws_no_masking", "websocket_no_masking"], Kind::Bool),
    (
        &["jetstream_cluster_migrate", "js_cluster_migrate"],
        Kind::ClusterMigrate,
    ),
    (&["isolate_leafnode_interest", "isolate"], Kind::Bool),
    (&["request_isolation"], Kind::Bool),
    (&["compression"], Kind::Compression),
    (&["first_info_timeout"], Kind::Duration),
    (&["dial_timeout"], Kind::Duration),
    (&["disabled"], Kind::Bool),
    (&["proxy"], Kind::Proxy),
    (&["ignore_discovered_servers"], Kind::Bool),
];

const REMOTE_PROXY: Fields = &[
    (&["url"], Kind::Str),
    (&["username"], Kind::Str),
    (&["password"], Kind::Str),
    (&["timeout"], Kind::Duration),
];

const GATEWAY: Fields = &[
    (&["name"], Kind::Name("gateway")),
    (&["listen"], Kind::Listen),
    (&["port"], Kind::Int("7222")),
    (&["host", "net"], Kind::Str),
    (&["authorization"], Kind::RouteAuth("Gateway")),
    (&["tls"], Kind::Any),
    (&["advertise"], Kind::Str),
    (&["connect_retries"], Kind::Int("3")),
    (&["connect_backoff"], Kind::Bool),
    (&["gateways"], Kind::Gateways),
    (&["reject_unknown", "reject_unknown_cluster"], Kind::Bool),
    (&["write_deadline"], Kind::Duration),
    (&["write_timeout"], Kind::WriteTimeout),
];

const GATEWAY_ENTRY: Fields = &[
    (&["name"], Kind::Str),
    (&["tls"], Kind::Any),
    (&["url"], Kind::Str),
    (&["urls"], Kind::UrlArray("gateway")),
];

const WEBSOCKET: Fields = &[
    (&["listen"], Kind::Listen),
    (&["port"], Kind::Int("8080")),
    (&["host", "net"], Kind::Str),
    (&["advertise"], Kind::Str),
    (&["no_tls"], Kind::Bool),
    (&["tls"], Kind::Any),
    (&["same_origin"], Kind::Bool),
    (
        &[
            "allowed_origins",
            "allowed_origin",
            "allow_origins",
            "allow_origin",
            "origins",
            "origin",
        ],
        Kind::Strings,
    ),
    (&["handshake_timeout"], Kind::HandshakeTimeout),
    (&["compress", "compression"], Kind::Bool),
    (&["authorization", "authentication"], Kind::SimpleAuth),
    (&["jwt_cookie"], Kind::Str),
    (&["user_cookie"], Kind::Str),
    (&["pass_cookie"], Kind::Str),
    (&["token_cookie"], Kind::Str),
    (&["no_auth_user"], Kind::Str),
    (&["headers"], Kind::Headers),
    (&["ping_interval"], Kind::Duration),
];

const MQTT: Fields = &[
    (&["listen"], Kind::Listen),
    (&["port"], Kind::Int("1883")),
    (&["host", "net"], Kind::Str),
    (&["tls"], Kind::Any),
    (&["authorization", "authentication"], Kind::SimpleAuth),
    (&["no_auth_user"], Kind::Str),
    (&["ack_wait", "ackwait"], Kind::Duration),
    (&["js_api_timeout", "api_timeout"], Kind::Duration),
    (
        &["max_ack_pending", "max_pending", "max_inflight"],
        Kind::MaxAckPending,
    ),
    (&["js_domain"], Kind::Str),
    (&["stream_replicas"], Kind::Int("3")),
    (&["consumer_replicas"], Kind::Ignored),
    (&["consumer_memory_storage"], Kind::Bool),
    (
        &["consumer_inactive_threshold", "consumer_auto_cleanup"],
        Kind::Duration,
    ),
    (&["reject_qos2_publish"], Kind::Bool),
    (&["downgrade_qos2_subscribe"], Kind::Bool),
];

const SIMPLE_AUTH: Fields = &[
    (&["user", "username"], Kind::Str),
    (&["pass", "password"], Kind::Str),
    (&["token"], Kind::Str),
    // nats-server takes a number and silently ignores anything else.
    (&["timeout"], Kind::Any),
];

/// `cluster { ... }`, checked and kept as written.
pub(crate) fn cluster(e: &Entry, r: &mut Report) -> Option<Value> {
    block(e, r, "name: c, port: 6222", Place::Cluster, CLUSTER)
}

/// `leafnodes { ... }` / `leaf { ... }`, checked and kept as written.
pub(crate) fn leafnodes(e: &Entry, r: &mut Report) -> Option<Value> {
    block(e, r, "port: 7422", Place::LeafNodes, LEAFNODES)
}

/// `gateway { ... }`, checked and kept as written.
pub(crate) fn gateway(e: &Entry, r: &mut Report) -> Option<Value> {
    block(e, r, "name: g, port: 7222", Place::Gateway, GATEWAY)
}

/// `websocket { ... }` / `ws { ... }`, checked and kept as written.
pub(crate) fn websocket(e: &Entry, r: &mut Report) -> Option<Value> {
    block(e, r, "port: 8080", Place::Websocket, WEBSOCKET)
}

/// `mqtt { ... }`, checked and kept as written.
pub(crate) fn mqtt(e: &Entry, r: &mut Report) -> Option<Value> {
    block(e, r, "port: 1883", Place::Mqtt, MQTT)
}

fn block(e: &Entry, r: &mut Report, example: &str, place: Place, fields: Fields) -> Option<Value> {
    let map = r.map(e, example)?;
    check_map(map, place, fields, r);
    Some(e.value.clone())
}

/// Checks every entry of `map` against `fields`.
fn check_map(map: &Map, place: Place, fields: Fields, r: &mut Report) {
    let known: Vec<&str> = fields
        .iter()
        .flat_map(|(names, _)| names.iter().copied())
        .collect();
    for f in map {
        let key = f.key.to_ascii_lowercase();
        match fields
            .iter()
            .find(|(names, _)| names.contains(&key.as_str()))
        {
            Some((_, kind)) => check_field(f, *kind, r),
            None => r.unknown(f, place, &known),
        }
    }
}

fn check_field(f: &Entry, kind: Kind, r: &mut Report) {
    match kind {
        Kind::Any => {}
        Kind::Str => {
            r.string(f);
        }
        Kind::Bool => {
            r.boolean(f);
        }
        Kind::Int(example) => {
            r.integer(f, example);
        }
        Kind::Listen => listen(f, r),
        Kind::Name(block) => {
            if r.string(f).is_some_and(|n| n.contains(' ')) {
                r.invalid(
                    f,
                    format!("{block} name cannot contain spaces; use '-' or '_' instead"),
                );
            }
        }
        Kind::Duration => {
            r.duration_or_seconds(f);
        }
        Kind::RoutePingInterval => {
            if r.duration_or_seconds(f)
                .is_some_and(|d| d > ROUTE_MAX_PING_INTERVAL)
            {
                r.warn(
                    f,
                    "cluster ping_interval will reset to 30s, which is the max for routes; set 30s or less",
                );
            }
        }
        Kind::WriteTimeout => {
            if r.string(f)
                .is_some_and(|s| !matches!(s.as_str(), "default" | "close" | "retry"))
            {
                r.invalid(f, "write_timeout must be 'default', 'close' or 'retry'");
            }
        }
        Kind::UrlArray(what) => match &f.value.kind {
            ValueKind::Array(items) => urls(&f.key, items, what, r),
            _ => r.wrong_type(
                f,
                format!("an array of URLs, e.g. `{}: [\"nats://host:6222\"]`", f.key),
            ),
        },
        Kind::UrlOrUrls => match &f.value.kind {
            ValueKind::String(_) => {}
            ValueKind::Array(items) => urls(&f.key, items, "leafnode", r),
            _ => r.wrong_type(
                f,
                "a URL or an array of URLs, e.g. \"nats-leaf://host:7422\"",
            ),
        },
        Kind::Strings => strings(f, r),
        Kind::Compression => compression(f, r),
        Kind::RouteAuth(block) => route_authorization(f, block, r),
        Kind::LeafAuth => leaf_authorization(f, r),
        Kind::SimpleAuth => {
            if let Some(map) = r.map(f, "user: a, password: b") {
                check_map(map, Place::SimpleAuthorization, SIMPLE_AUTH, r);
            }
        }
        Kind::Remotes => remotes(f, r),
        Kind::Gateways => gateways(f, r),
        Kind::Headers => {
            if let Some(map) = r.map(f, "X-Frame-Options: DENY") {
                for h in map {
                    r.string(h);
                }
            }
        }
        Kind::HandshakeTimeout => match &f.value.kind {
            ValueKind::Integer(_) => {}
            _ => {
                r.duration(f);
            }
        },
        Kind::MaxAckPending => {
            if let Some(n) = r.integer(f, "1000") {
                if !(0..=0xFFFF).contains(&n) {
                    r.invalid(f, format!("invalid value {n}, use 0 to 65535"));
                }
            }
        }
        Kind::Ignored => r.warn(
            f,
            "consumer replicas setting ignored in this server version; remove it",
        ),
        Kind::MinVersion => min_version(f, r),
        Kind::ClusterMigrate => match &f.value.kind {
            ValueKind::Bool(_) => {}
            // nats-server reads only `leader_migrate_delay` and ignores other keys.
            ValueKind::Map(m) => {
                if let Some(d) = m.entry("leader_migrate_delay") {
                    r.duration_or_seconds(d);
                }
            }
            _ => r.wrong_type(f, "true, false or `{ leader_migrate_delay: \"30s\" }`"),
        },
        Kind::Proxy => {
            if let Some(map) = r.map(f, "url: \"http://proxy:3128\"") {
                check_map(map, Place::LeafRemoteProxy, REMOTE_PROXY, r);
            }
        }
        Kind::PublicNkey => {
            if r.string(f).is_some_and(|k| !auth::is_public_user_nkey(&k)) {
                r.invalid(
                    f,
                    "not a valid public nkey for leafnode authorization; use a user public key (starts with U)",
                );
            }
        }
    }
}

/// nats-server's `parseListen`: a port, or "host:port" with a numeric port.
fn listen(f: &Entry, r: &mut Report) {
    match &f.value.kind {
        ValueKind::Integer(_) => {}
        ValueKind::String(s) => match split_host_port(s) {
            None => r.invalid(
                f,
                format!("could not parse address string {s:?}; write a port or \"host:port\", e.g. \"0.0.0.0:6222\""),
            ),
            Some((_, port)) if port.parse::<i64>().is_err() => r.invalid(
                f,
                format!("could not parse port {port:?}; write \"host:port\" with a numeric port"),
            ),
            Some(_) => {}
        },
        _ => r.wrong_type(f, "a port or \"host:port\", e.g. 6222 or \"0.0.0.0:6222\""),
    }
}

/// Array items must be strings; a URL listed twice gets nats-server's warning.
fn urls(field: &str, items: &[Value], what: &str, r: &mut Report) {
    let mut seen = HashSet::new();
    for item in items {
        match &item.kind {
            ValueKind::String(s) => {
                if !seen.insert(s.as_str()) {
                    r.warnings.push(ConfWarning {
                        at: item.at.clone(),
                        field: field.to_string(),
                        message: format!("duplicate {what} entry {s:?}; remove one"),
                    });
                }
            }
            _ => r.wrong_value_type(field, item, "a URL string, e.g. \"nats://host:6222\""),
        }
    }
}

/// nats-server's `parseStringArray`: one string, or an array of strings.
fn strings(f: &Entry, r: &mut Report) {
    match &f.value.kind {
        ValueKind::String(_) => {}
        ValueKind::Array(items) => {
            for item in items
                .iter()
                .filter(|i| !matches!(i.kind, ValueKind::String(_)))
            {
                r.wrong_value_type(&f.key, item, "a string");
            }
        }
        _ => r.wrong_type(f, "a string or an array of strings"),
    }
}

fn compression(f: &Entry, r: &mut Report) {
    match &f.value.kind {
        // nats-server checks the mode names only when the server starts.
        ValueKind::Bool(_) | ValueKind::String(_) => {}
        ValueKind::Map(map) => {
            let known = ["mode", "rtt_thresholds", "thresholds", "rtts", "rtt"];
            for c in map {
                match c.key.to_ascii_lowercase().as_str() {
                    "mode" => {
                        r.string(c);
                    }
                    "rtt_thresholds" | "thresholds" | "rtts" | "rtt" => rtt_thresholds(c, r),
                    _ => r.unknown(c, Place::Compression, &known),
                }
            }
        }
        _ => r.wrong_type(
            f,
            "true, false, a mode such as \"s2_auto\", or `{ mode: s2_auto, rtt_thresholds: [\"10ms\", \"50ms\"] }`",
        ),
    }
}

fn rtt_thresholds(c: &Entry, r: &mut Report) {
    let Some(items) = c.value.as_array() else {
        r.wrong_type(c, "an array of durations, e.g. [\"10ms\", \"50ms\"]");
        return;
    };
    for item in items {
        match &item.kind {
            ValueKind::String(s) => {
                if let Err(message) = parse_duration(s) {
                    r.errors.push(ConfError::InvalidValue {
                        at: item.at.clone(),
                        field: c.key.clone(),
                        message,
                    });
                }
            }
            _ => r.wrong_value_type(&c.key, item, "a duration in quotes, e.g. \"10ms\""),
        }
    }
}

/// `cluster`/`gateway` `authorization`: nats-server's usual block, limited to one user.
fn route_authorization(f: &Entry, block: &str, r: &mut Report) {
    let Some(a) = auth::authorization(f, r) else {
        return;
    };
    let refused = if a.users.is_some() {
        Some("does not allow multiple users; keep a single user and password")
    } else if a.token.as_deref().is_some_and(|t| !t.is_empty()) {
        Some("does not support tokens; use user and password")
    } else if has_callout(&a) {
        Some("does not support callouts; remove auth_callout")
    } else {
        None
    };
    if let Some(what) = refused {
        r.invalid(f, format!("{block} authorization {what}"));
    }
}

fn has_callout(a: &Authorization) -> bool {
    a.other.iter().any(|e| {
        matches!(
            e.key.to_ascii_lowercase().as_str(),
            "auth_callout" | "auth_hook"
        )
    })
}

/// `leafnodes { authorization { ... } }` (nats-server's `parseLeafAuthorization`).
fn leaf_authorization(f: &Entry, r: &mut Report) {
    let Some(map) = r.map(f, "user: a, password: b") else {
        return;
    };
    check_map(map, Place::LeafAuthorization, LEAF_AUTHORIZATION, r);
    let mut single_user = false;
    let mut users = None;
    for a in map {
        match a.key.to_ascii_lowercase().as_str() {
            "timeout" => {
                auth::timeout(a, r);
            }
            "user" | "username" => single_user = a.value.as_str().is_some_and(|u| !u.is_empty()),
            "users" => users = leaf_users(a, r),
            _ => {}
        }
    }
    // nats-server's validateLeafNodeAuthOptions.
    let Some(names) = users.filter(|n| !n.is_empty()) else {
        return;
    };
    if single_user {
        r.invalid(
            f,
            "can not have a single user/pass and a users array; move the single user into `users`",
        );
        return;
    }
    let mut seen = HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        r.invalid(
            f,
            format!("duplicate user {dup:?} detected in leafnode authorization"),
        );
    }
}

/// The names of the users in a leafnode `users` list.
fn leaf_users(a: &Entry, r: &mut Report) -> Option<Vec<String>> {
    let Some(items) = a.value.as_array() else {
        r.wrong_type(a, "an array of users, e.g. [ { user: a, password: b } ]");
        return None;
    };
    let mut names = Vec::new();
    for item in items {
        let ValueKind::Map(m) = &item.kind else {
            r.wrong_value_type(&a.key, item, "a user block, e.g. { user: a, password: b }");
            continue;
        };
        check_map(m, Place::LeafUser, LEAF_USER, r);
        let name = m
            .iter()
            .rev()
            .find(|u| matches!(u.key.to_ascii_lowercase().as_str(), "user" | "username"))
            .and_then(|u| u.value.as_str());
        names.push(name.unwrap_or_default().to_string());
    }
    Some(names)
}

/// `leafnodes { remotes: [ { url: ..., ... } ] }`.
fn remotes(f: &Entry, r: &mut Report) {
    let Some(items) = f.value.as_array() else {
        r.wrong_type(
            f,
            "an array of remotes, e.g. [ { url: \"nats-leaf://host:7422\" } ]",
        );
        return;
    };
    for item in items {
        let ValueKind::Map(m) = &item.kind else {
            r.wrong_value_type(
                &f.key,
                item,
                "a remote block, e.g. { url: \"nats-leaf://host:7422\" }",
            );
            continue;
        };
        check_map(m, Place::LeafRemote, REMOTE, r);
        let has = |names: &[&str]| {
            m.iter()
                .find(|e| names.contains(&e.key.to_ascii_lowercase().as_str()))
        };
        if let (Some(_), Some(nkey)) = (has(&["creds", "credentials"]), has(&["nkey", "seed"])) {
            r.invalid(
                nkey,
                "remote leafnode can not have both creds and nkey defined; keep one",
            );
        }
    }
}

/// `gateway { gateways: [ { name: ..., url: ... } ] }`.
fn gateways(f: &Entry, r: &mut Report) {
    let Some(items) = f.value.as_array() else {
        r.wrong_type(
            f,
            "an array of gateways, e.g. [ { name: b, url: \"nats://host:7222\" } ]",
        );
        return;
    };
    for item in items {
        match &item.kind {
            ValueKind::Map(m) => check_map(m, Place::GatewayEntry, GATEWAY_ENTRY, r),
            _ => r.wrong_value_type(
                &f.key,
                item,
                "a gateway block, e.g. { name: b, url: \"nats://host:7222\" }",
            ),
        }
    }
}

/// nats-server's `checkLeafMinVersionConfig`: a version "major.minor.patch", at least 2.8.0.
fn min_version(f: &Entry, r: &mut Report) {
    let Some(v) = r.string(f) else {
        return;
    };
    match semver(&v) {
        None => r.invalid(
            f,
            format!("invalid leafnode's minimum version {v:?}; write it as \"2.8.0\""),
        ),
        Some(parts) if parts < (2, 8, 0) => {
            r.invalid(f, "the minimum version should be at least 2.8.0")
        }
        Some(_) => {}
    }
}

/// "1.2.3", optionally with a leading "v" and a "-pre" or "+build" suffix.
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_str_with_env;

    fn problems(text: &str) -> (Vec<String>, Vec<String>) {
        let map = parse_str_with_env(text, "t.conf", &|_| None).expect("parses");
        let mut r = Report::default();
        for e in &map {
            match e.key.as_str() {
                "cluster" => cluster(e, &mut r),
                "leafnodes" => leafnodes(e, &mut r),
                "gateway" => gateway(e, &mut r),
                "websocket" => websocket(e, &mut r),
                _ => mqtt(e, &mut r),
            };
        }
        let errors = r.errors.iter().map(ToString::to_string).collect();
        let warnings = r.warnings.iter().map(ToString::to_string).collect();
        (errors, warnings)
    }

    #[test]
    fn complete_blocks_are_accepted() {
        let text = r#"
cluster { name: c, listen: "0.0.0.0:6222", routes: ["nats://a:6222"], no_advertise: true,
  pool_size: 3, compression: { mode: s2_auto, rtt_thresholds: ["10ms"] }, accounts: [A],
  authorization { user: u, password: p, timeout: 2 }, write_timeout: close }
leafnodes { port: 7422, remotes: [ { urls: ["nats-leaf://a:7422"], account: A, hub: false } ],
  authorization { users: [ { user: a, password: b, account: A } ] }, min_version: "2.10.0" }
gateway { name: g, port: 7222, gateways: [ { name: h, url: "nats://h:7222" } ] }
websocket { port: 8080, no_tls: true, allowed_origins: "https://x", headers { X-A: b } }
mqtt { port: 1883, ack_wait: "30s", max_ack_pending: 100 }
"#;
        assert_eq!(problems(text), (vec![], vec![]));
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let (errors, _) = problems("cluster {\n  prot: 6222\n}\nmqtt { ackwiat: \"1s\" }\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("t.conf:2:3: unknown field `prot` in cluster; did you mean `port`?"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("did you mean `ackwait`?"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn nats_server_value_checks() {
        let (errors, warnings) = problems(
            "cluster { name: \"a b\", routes: \"nats://a:1\" }\ngateway { authorization { token: t } }\nmqtt { max_ack_pending: 70000, consumer_replicas: 1 }\nleafnodes { min_version: \"2.7.0\", remotes: [ { url: \"x\", creds: c, nkey: n } ] }\n",
        );
        let expected = [
            "cluster name cannot contain spaces",
            "`routes` must be an array of URLs",
            "Gateway authorization does not support tokens",
            "invalid value 70000",
            "at least 2.8.0",
            "both creds and nkey",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (e, want) in errors.iter().zip(expected) {
            assert!(e.contains(want), "{e} should contain {want}");
        }
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn duplicate_urls_warn() {
        let (_, warnings) = problems("cluster { routes: [\"nats://a:1\", \"nats://a:1\" ] }\n");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("duplicate route entry"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn semver_forms() {
        assert_eq!(semver("2.8.0"), Some((2, 8, 0)));
        assert_eq!(semver("v2.10.1-beta"), Some((2, 10, 1)));
        assert_eq!(semver("2.8"), None);
        assert_eq!(semver("x"), None);
    }
}
