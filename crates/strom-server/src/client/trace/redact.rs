//! CONNECT's secrets out of trace lines, exactly as nats-server's `removeSecretsFromTrace`:
//! the value of every `pass…`/`auth_token…` field, and of `sig`, `proxy_sig` and `nkey`,
//! becomes `[REDACTED]`; the rest of the line stays byte for byte as the client sent it.
//!
//! The patterns are nats-server's, with Go's ASCII `\s` (`[\t\n\f\r ]`) spelled out. `jwt` is
//! not among them: a user JWT is signed public claims, and nats-server shows it.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::Regex;

/// `pass`, `password`, `auth_token`… and the value after them.
static PREFIX_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?-u)"?[\t\n\f\r ]*(?:auth_token[^\t\n\f\r ]*?|pass[^\t\n\f\r ]*?)"?[\t\n\f\r ]*[:=][\t\n\f\r ]*"?([^",\r\n}]*)"#,
    )
    .expect("nats-server's prefixAuthPat is a valid pattern")
});

/// `sig`, `proxy_sig` and `nkey` as whole field names, and the value after them.
static EXACT_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?-u)(?:^|[^A-Za-z0-9_])"?[\t\n\f\r ]*(?:proxy_sig|nkey|sig)"?[\t\n\f\r ]*[:=][\t\n\f\r ]*"?([^",\r\n}]*)"#,
    )
    .expect("nats-server's exactAuthPat is a valid pattern")
});

const REDACTED: &[u8] = b"[REDACTED]";

/// CONNECT's arguments with their secrets replaced.
pub(super) fn remove_secrets(arg: &[u8]) -> Cow<'_, [u8]> {
    match redact(&PREFIX_AUTH, arg) {
        Cow::Borrowed(b) => redact(&EXACT_AUTH, b),
        Cow::Owned(v) => Cow::Owned(redact(&EXACT_AUTH, &v).into_owned()),
    }
}

fn redact<'a>(pattern: &Regex, proto: &'a [u8]) -> Cow<'a, [u8]> {
    let values: Vec<std::ops::Range<usize>> = pattern
        .captures_iter(proto)
        .filter_map(|c| c.get(1).map(|m| m.range()))
        .collect();
    if values.is_empty() {
        return Cow::Borrowed(proto);
    }
    let mut out = Vec::with_capacity(proto.len() + values.len() * REDACTED.len());
    let mut at = 0;
    for v in values {
        out.extend_from_slice(&proto[at..v.start]);
        out.extend_from_slice(REDACTED);
        at = v.end;
    }
    out.extend_from_slice(&proto[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        String::from_utf8_lossy(&remove_secrets(s.as_bytes())).into_owned()
    }

    #[test]
    fn secrets_are_replaced_in_place() {
        // nats-server 2.15.1's trace of the same CONNECT.
        assert_eq!(
            r(
                r#"{"verbose":false,"pedantic":false,"user":"a","pass":"secret","auth_token":"tok","sig":"sss","jwt":"jjj","nkey":"nk","proxy_sig":"ps","name":"n"}"#
            ),
            r#"{"verbose":false,"pedantic":false,"user":"a","pass":"[REDACTED]","auth_token":"[REDACTED]","sig":"[REDACTED]","jwt":"jjj","nkey":"[REDACTED]","proxy_sig":"[REDACTED]","name":"n"}"#
        );
    }

    #[test]
    fn spacing_and_empty_values_are_kept_and_redacted() {
        assert_eq!(
            r(r#"{ "password" : "x y", "pass":"" }"#),
            r#"{ "password" : "[REDACTED]", "pass":"[REDACTED]" }"#
        );
        assert_eq!(r(r#"{"user":"a"}"#), r#"{"user":"a"}"#);
        // "sig" inside another name is not a signature field.
        assert_eq!(r(r#"{"design":"x"}"#), r#"{"design":"x"}"#);
    }
}
