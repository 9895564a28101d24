//! Hints for unknown fields: the field probably meant, or where a field belongs.
//!
//! First a table of mistakes people make with nats-server configurations (`default_user` for
//! `no_auth_user`, a `logging` block, `user` at the top level), then the nearest known name by
//! edit distance.

/// Where a field was found, for the hint table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Top,
    Authorization,
    User,
    JetStream,
    Cluster,
    LeafNodes,
    LeafAuthorization,
    LeafUser,
    LeafRemote,
    LeafRemoteProxy,
    Gateway,
    GatewayEntry,
    Websocket,
    Mqtt,
    SimpleAuthorization,
    Compression,
}

impl Place {
    pub fn name(self) -> &'static str {
        match self {
            Place::Top => "the top level",
            Place::Authorization => "authorization",
            Place::User => "an authorization user",
            Place::JetStream => "jetstream",
            Place::Cluster => "cluster",
            Place::LeafNodes => "leafnodes",
            Place::LeafAuthorization => "leafnodes authorization",
            Place::LeafUser => "a leafnodes authorization user",
            Place::LeafRemote => "a leafnodes remote",
            Place::LeafRemoteProxy => "a leafnodes remote proxy",
            Place::Gateway => "gateway",
            Place::GatewayEntry => "a gateways entry",
            Place::Websocket => "websocket",
            Place::Mqtt => "mqtt",
            Place::SimpleAuthorization => "websocket/mqtt authorization",
            Place::Compression => "compression",
        }
    }
}

/// A hint for `field`, unknown in `place` where `known` are the accepted names.
pub(crate) fn hint(field: &str, place: Place, known: &[&str]) -> Option<String> {
    let lower = field.to_ascii_lowercase();
    if let Some(h) = known_mistake(&lower, place) {
        return Some(h.to_string());
    }
    nearest(&lower, known).map(|name| format!("did you mean `{name}`?"))
}

fn known_mistake(field: &str, place: Place) -> Option<&'static str> {
    match (place, field) {
        (Place::Top, "default_user") => Some("did you mean `no_auth_user`?"),
        (Place::Authorization | Place::User, "default_user" | "no_auth_user") => {
            Some("the user for clients that send no credentials is `no_auth_user`, a top-level field; move it out of this block")
        }
        (Place::Top, "logging" | "log" | "logger") => {
            Some("nats-server has no logging block; debug, trace, logtime and logfile are top-level fields")
        }
        (Place::Top, "log_level" | "loglevel") => {
            Some("nats-server has no log level; use `debug: true` or `trace: true`")
        }
        (Place::Top, "addr" | "address" | "bind") => {
            Some("did you mean `host` (or `listen: host:port`)?")
        }
        (Place::Top, "user" | "username" | "password" | "pass" | "token" | "users") => {
            Some("it belongs inside `authorization { ... }`")
        }
        (Place::Top, "routes" | "cluster_advertise") => Some("it belongs inside `cluster { ... }`"),
        (Place::Top, "gateways") => Some("it belongs inside `gateway { ... }`"),
        (Place::Top, "remotes") => Some("it belongs inside `leafnodes { ... }`"),
        (Place::LeafNodes, "url" | "urls") => {
            Some("remote URLs go in `remotes: [ { url: \"nats-leaf://host:7422\" } ]`")
        }
        (Place::Gateway, "url" | "urls") => {
            Some("gateway URLs go in `gateways: [ { name: other, url: \"nats://host:7222\" } ]`")
        }
        (Place::Cluster, "url" | "urls" | "route") => Some("did you mean `routes`?"),
        (Place::Top, "monitor" | "monitoring" | "http_monitor") => {
            Some("did you mean `http` (e.g. `http: 8222`)?")
        }
        (Place::Top, "max_msg_size" | "max_message_size" | "max_msg_payload") => {
            Some("did you mean `max_payload`?")
        }
        (Place::Top, "name") => Some("did you mean `server_name`?"),
        (Place::Top, "js" | "jetstream_enabled") => Some("did you mean `jetstream`?"),
        (Place::Top, "max_memory_store" | "max_file_store" | "domain") => {
            Some("it belongs inside `jetstream { ... }`")
        }
        _ => None,
    }
}

/// The known name nearest to `field`, if near enough to be a typo.
fn nearest<'k>(field: &str, known: &[&'k str]) -> Option<&'k str> {
    let squashed = field.replace(['_', '-'], "");
    if let Some(same) = known.iter().find(|k| k.replace('_', "") == squashed) {
        return Some(same);
    }
    let limit = (field.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (distance(field, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance in characters, a swap of two neighbours counting as one edit (optimal
/// string alignment), so that `htpp` is one edit from `http`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "max_payload",
        "max_pending",
        "port",
        "leafnodes",
        "jetstream",
    ];

    #[test]
    fn typos_find_the_nearest_field() {
        assert_eq!(
            hint("max_paylod", Place::Top, KNOWN).as_deref(),
            Some("did you mean `max_payload`?")
        );
        assert_eq!(
            hint("MaxPayload", Place::Top, KNOWN).as_deref(),
            Some("did you mean `max_payload`?")
        );
        assert_eq!(
            hint("leafnode", Place::Top, KNOWN).as_deref(),
            Some("did you mean `leafnodes`?")
        );
        assert_eq!(hint("completely_else", Place::Top, KNOWN), None);
    }

    #[test]
    fn known_mistakes_depend_on_the_place() {
        assert_eq!(
            hint("default_user", Place::Top, KNOWN).as_deref(),
            Some("did you mean `no_auth_user`?")
        );
        let inside = hint("default_user", Place::Authorization, KNOWN).unwrap_or_default();
        assert!(inside.contains("top-level"), "{inside}");
        assert!(hint("logging", Place::Top, KNOWN).is_some_and(|h| h.contains("debug")));
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("port", "port"), 0);
        assert_eq!(distance("htpp", "http"), 1);
    }
}
