//! Protocol tracing (`-V`): each operation's control line and payload, with CONNECT's secrets
//! replaced as nats-server does.

use super::reader::Conn;

impl Conn {
    /// Traces a client operation as nats-server does: the control line, then the payload.
    pub(super) fn trace_in(&self, frame: &[u8]) {
        let (line, rest) = match frame.windows(2).position(|w| w == b"\r\n") {
            Some(i) => (&frame[..i], &frame[i + 2..]),
            None => (frame, &[][..]),
        };
        let prefix = self.handle.log_prefix();
        crate::trace!("{prefix} - <<- [{}]", redact_connect(line));
        if rest.len() >= 2 {
            crate::trace!(
                "{prefix} - <<- MSG_PAYLOAD: [{:?}]",
                String::from_utf8_lossy(&rest[..rest.len() - 2])
            );
        }
    }
}

/// A control line for the trace log, with CONNECT's secrets replaced as nats-server does.
fn redact_connect(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let Some(json) = text
        .get(..8)
        .filter(|op| op.eq_ignore_ascii_case("CONNECT "))
        .map(|_| &text[8..])
    else {
        return text.into_owned();
    };
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut map)) => {
            for key in ["pass", "auth_token", "sig", "jwt"] {
                if map.get(key).is_some_and(|v| !v.is_null()) {
                    map.insert(key.to_string(), serde_json::Value::from("[REDACTED]"));
                }
            }
            format!("CONNECT {}", serde_json::Value::Object(map))
        }
        _ => "CONNECT [unparsable, not shown]".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_traces_hide_secrets() {
        let line = br#"CONNECT {"user":"a","pass":"secret","auth_token":"t","name":null}"#;
        let shown = redact_connect(line);
        assert!(
            !shown.contains("secret") && !shown.contains("\"t\""),
            "{shown}"
        );
        assert!(shown.contains("\"user\":\"a\""));
        assert_eq!(redact_connect(b"PUB foo 2"), "PUB foo 2");
    }
}
