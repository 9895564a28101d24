//! `log_format: json`: one JSON object per line, for log pipelines that parse their input.
//!
//! nats-server has no JSON logging; the fields are Strom's: `time` (RFC 3339 with
//! nanoseconds, left out with `logtime: false`), `level`, `pid`, then for a line about a
//! client connection `cid`, `client` (its address) and, once it has connected, `name`
//! (nats-server's `v<version>:<lang>:<name>` label), `account` and `user`, and last `msg`,
//! the text the text format would show after its prefixes.

use std::fmt::Write as _;

use super::{ClientRef, Level, Stamp};

/// One line, ending in `\n`.
pub(super) fn line(
    level: Level,
    stamp: Option<&Stamp>,
    client: Option<&ClientRef<'_>>,
    msg: &str,
) -> String {
    let mut out = String::with_capacity(96 + msg.len());
    out.push('{');
    if let Some(stamp) = stamp {
        out.push_str("\"time\":");
        let time = if stamp.in_utc {
            stamp
                .utc
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        } else {
            stamp
                .utc
                .with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        };
        push_str(&mut out, &time);
        out.push(',');
    }
    let _ = write!(
        out,
        "\"level\":\"{}\",\"pid\":{}",
        level.name(),
        std::process::id()
    );
    if let Some(c) = client {
        let _ = write!(out, ",\"cid\":{}", c.cid);
        if let Some(addr) = c.addr {
            out.push_str(",\"client\":");
            push_str(&mut out, &addr.to_string());
        }
        if let Some(label) = c.label {
            if !label.conn.is_empty() {
                out.push_str(",\"name\":");
                push_str(&mut out, &label.conn);
            }
            if !label.user.is_empty() {
                out.push_str(",\"account\":");
                push_str(&mut out, &label.account);
                out.push_str(",\"user\":");
                push_str(&mut out, &label.user);
            }
        }
    }
    out.push_str(",\"msg\":");
    push_str(&mut out, msg);
    out.push_str("}\n");
    out
}

/// A JSON string, escaped.
fn push_str(out: &mut String, s: &str) {
    // Display of a JSON value cannot fail and escapes as JSON requires.
    let _ = write!(out, "{}", serde_json::Value::from(s));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::ClientLabel;

    fn stamp() -> Stamp {
        crate::log::test_stamp()
    }

    #[test]
    fn a_plain_line_has_time_level_pid_and_msg() {
        let l = line(Level::Warn, Some(&stamp()), None, "disk \"low\"\n");
        let v: serde_json::Value = serde_json::from_str(&l).expect("valid JSON");
        assert_eq!(v["time"], "2026-11-23T18:34:12.112202999Z");
        assert_eq!(v["level"], "warn");
        assert_eq!(v["pid"], std::process::id());
        assert_eq!(v["msg"], "disk \"low\"\n");
        assert!(l.ends_with("}\n") && l.matches('\n').count() == 1);
    }

    #[test]
    fn client_lines_carry_the_connection() {
        let label = ClientLabel {
            conn: "v1.0:go:app".into(),
            account: "$G".into(),
            user: "user:a".into(),
        };
        let c = ClientRef {
            cid: 7,
            addr: "127.0.0.1:4000".parse().ok(),
            label: Some(&label),
        };
        let l = line(Level::Trace, None, Some(&c), "<<- [PING]");
        assert_eq!(
            l,
            "{\"level\":\"trace\",\"pid\":PID,\"cid\":7,\"client\":\"127.0.0.1:4000\",\"name\":\"v1.0:go:app\",\"account\":\"$G\",\"user\":\"user:a\",\"msg\":\"<<- [PING]\"}\n"
                .replace("PID", &std::process::id().to_string())
        );
    }
}
