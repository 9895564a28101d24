//! `authorization { ... }`: a single user, a token, or a list of users, as nats-server reads it.
//!
//! Permissions are kept as value trees for now; what nats-server checks here (known fields,
//! user/token/users exclusions, duplicate users, nkey shape) is checked here too.

use std::collections::HashSet;
use std::time::Duration;

use crate::fields::Report;
use crate::suggest::Place;
use crate::value::{Entry, Map, Position, Value, ValueKind};

const AUTH_FIELDS: &[&str] = &[
    "user",
    "username",
    "pass",
    "password",
    "token",
    "timeout",
    "users",
    "default_permission",
    "default_permissions",
    "permissions",
    "auth_callout",
    "auth_hook",
    "proxy_required",
];

const USER_FIELDS: &[&str] = &[
    "nkey",
    "user",
    "username",
    "pass",
    "password",
    "permission",
    "permissions",
    "authorization",
    "allowed_connection_types",
    "connection_types",
    "clients",
    "proxy_required",
];

/// The top-level `authorization` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Authorization {
    /// `user` / `username`.
    pub user: Option<String>,
    /// `password` / `pass` (may be a bcrypt hash).
    pub password: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `timeout`: seconds as a number, or a duration string.
    pub timeout: Option<Duration>,
    /// `users: [...]`. `Some` even when empty: nats-server then still refuses `user`/`token`.
    pub users: Option<Vec<User>>,
    /// `default_permissions` / `permissions`, as written.
    pub default_permissions: Option<Value>,
    /// Fields nats-server knows that are not typed here (`auth_callout`, `proxy_required`).
    pub other: Map,
    /// Where the block starts.
    pub at: Position,
}

/// One entry of `authorization { users: [...] }`.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// `user` / `username`.
    pub user: Option<String>,
    /// `password` / `pass`.
    pub password: Option<String>,
    /// `nkey`: a public user nkey (`U...`), instead of user and password.
    pub nkey: Option<String>,
    /// `permissions` / `permission` / `authorization`, as written.
    pub permissions: Option<Value>,
    /// Fields nats-server knows that are not typed here (`allowed_connection_types`, ...).
    pub other: Map,
    /// Where the entry starts.
    pub at: Position,
}

pub(crate) fn authorization(e: &Entry, r: &mut Report) -> Option<Authorization> {
    let map = r.map(e, "user: a, password: b")?;
    let mut auth = Authorization {
        user: None,
        password: None,
        token: None,
        timeout: None,
        users: None,
        default_permissions: None,
        other: Map::new(),
        at: e.value.at.clone(),
    };
    for f in map {
        match f.key.to_ascii_lowercase().as_str() {
            "user" | "username" => auth.user = r.string(f),
            "pass" | "password" => auth.password = r.string(f),
            "token" => auth.token = r.string(f),
            "timeout" => auth.timeout = timeout(f, r),
            "users" => auth.users = users(f, r),
            "default_permission" | "default_permissions" | "permissions" => {
                auth.default_permissions = Some(f.value.clone());
            }
            "auth_callout" | "auth_hook" | "proxy_required" => auth.other.insert_entry(f.clone()),
            _ => r.unknown(f, Place::Authorization, AUTH_FIELDS),
        }
    }
    check_exclusions(e, &auth, r);
    Some(auth)
}

fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

/// nats-server's rules: user/password or token, not both; a users list excludes both.
fn check_exclusions(e: &Entry, auth: &Authorization, r: &mut Report) {
    if (set(&auth.user) || set(&auth.password)) && set(&auth.token) {
        r.invalid(
            e,
            "has both user/password and token; keep one way of authenticating",
        );
    } else if auth.users.is_some() && set(&auth.user) {
        r.invalid(
            e,
            "has both a single user and a users list; move the single user into `users`",
        );
    } else if auth.users.is_some() && set(&auth.token) {
        r.invalid(e, "has both a token and a users list; keep one of them");
    }
}

/// nats-server takes seconds as an integer or float, or a duration string, and warns above
/// a minute (usually an unquoted `1m`, which is one million).
pub(crate) fn timeout(f: &Entry, r: &mut Report) -> Option<Duration> {
    let secs = match &f.value.kind {
        ValueKind::Integer(n) => *n as f64,
        ValueKind::Float(x) => *x,
        ValueKind::String(_) => r.duration(f)?.as_secs_f64(),
        _ => {
            r.wrong_type(f, "seconds or a duration string, e.g. 2 or \"2s\"");
            return None;
        }
    };
    if !(0.0..=1e12).contains(&secs) {
        r.invalid(f, format!("{secs} seconds is not a usable timeout"));
        return None;
    }
    if secs > 60.0 {
        r.warn(
            f,
            format!("a timeout of {secs} seconds is high, consider keeping it under 60 seconds; an unquoted 1m is one million: write \"1m\""),
        );
    }
    Some(Duration::from_secs_f64(secs))
}

fn users(f: &Entry, r: &mut Report) -> Option<Vec<User>> {
    let Some(items) = f.value.as_array() else {
        r.wrong_type(
            f,
            "an array of users, e.g. `users: [ {user: a, password: b} ]`",
        );
        return None;
    };
    let mut list = Vec::new();
    let mut seen = HashSet::new();
    for item in items {
        let Some(user) = one_user(item, r) else {
            continue;
        };
        let name = user.nkey.clone().or_else(|| user.user.clone());
        if let Some(name) = name {
            if !seen.insert(name.clone()) {
                r.errors.push(crate::ConfError::InvalidValue {
                    at: user.at.clone(),
                    field: "users".into(),
                    message: format!("user {name:?} is defined twice; remove one"),
                });
            }
        }
        list.push(user);
    }
    Some(list)
}

fn one_user(item: &Value, r: &mut Report) -> Option<User> {
    let Some(map) = item.as_map() else {
        r.wrong_value_type("users", item, "a map per user, e.g. {user: a, password: b}");
        return None;
    };
    let mut user = User {
        user: None,
        password: None,
        nkey: None,
        permissions: None,
        other: Map::new(),
        at: item.at.clone(),
    };
    for f in map {
        match f.key.to_ascii_lowercase().as_str() {
            "nkey" => user.nkey = r.string(f),
            "user" | "username" => user.user = r.string(f),
            "pass" | "password" => user.password = r.string(f),
            "permission" | "permissions" | "authorization" => {
                user.permissions = Some(f.value.clone());
            }
            "allowed_connection_types" | "connection_types" | "clients" | "proxy_required" => {
                user.other.insert_entry(f.clone());
            }
            _ => r.unknown(f, Place::User, USER_FIELDS),
        }
    }
    let problem = match (&user.nkey, set(&user.user)) {
        (None, false) => Some("this user has neither `user` nor `nkey`; add one"),
        (Some(key), _) if !is_public_user_nkey(key) => {
            Some("`nkey` is not a valid public user nkey (56 characters starting with U)")
        }
        (Some(_), named) if named || set(&user.password) => {
            Some("an nkey user takes no user name or password; remove them")
        }
        _ => None,
    };
    if let Some(message) = problem {
        r.errors.push(crate::ConfError::InvalidValue {
            at: user.at.clone(),
            field: "users".into(),
            message: message.into(),
        });
        return None;
    }
    Some(user)
}

/// A public user nkey: base32 of a prefix byte ('U'), 32 key bytes and a CRC-16 (XMODEM,
/// little-endian), as the nkeys library checks it.
pub(crate) fn is_public_user_nkey(key: &str) -> bool {
    let Some(raw) = base32_decode(key) else {
        return false;
    };
    if raw.len() != 35 || raw[0] != 20 << 3 {
        return false;
    }
    let (body, crc) = raw.split_at(33);
    u16::from_le_bytes([crc[0], crc[1]]) == crc16(body)
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_str_with_env;

    const NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    fn auth(text: &str) -> (Option<Authorization>, Report) {
        let map = parse_str_with_env(text, "t.conf", &|_| None).expect("valid syntax");
        let mut r = Report::default();
        let e = map.iter().next().expect("one entry");
        (authorization(e, &mut r), r)
    }

    #[test]
    fn users_with_raw_permissions() {
        let (a, r) = auth("authorization { users: [ {user: a, password: b, permissions: {publish: x}}, {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ] }");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let users = a.and_then(|a| a.users).expect("users");
        assert_eq!(users[0].user.as_deref(), Some("a"));
        assert!(users[0]
            .permissions
            .as_ref()
            .is_some_and(|p| p.as_map().is_some()));
        assert_eq!(users[1].nkey.as_deref(), Some(NKEY));
    }

    #[test]
    fn nats_server_exclusions() {
        for text in [
            "authorization { user: a, token: t }",
            "authorization { user: a, users: [] }",
            "authorization { token: t, users: [] }",
            "authorization { users: [ {user: a}, {user: a} ] }",
            "authorization { users: [ {password: a} ] }",
            "authorization { users: [ {nkey: UBAD} ] }",
            "authorization { default_user: a }",
        ] {
            let (_, r) = auth(text);
            assert_eq!(r.errors.len(), 1, "{text}");
        }
    }

    #[test]
    fn timeout_forms() {
        let t = |text: &str| auth(text).0.and_then(|a| a.timeout);
        assert_eq!(
            t("authorization { timeout: 2 }"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            t("authorization { timeout: 0.5 }"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            t("authorization { timeout: \"3s\" }"),
            Some(Duration::from_secs(3))
        );
        let (_, r) = auth("authorization { timeout: 61 }");
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn nkey_checksum() {
        assert!(is_public_user_nkey(NKEY));
        let mut broken = NKEY.to_string();
        broken.replace_range(10..11, "A");
        assert!(!is_public_user_nkey(&broken));
    }
}
