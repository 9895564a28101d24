//! Protocol tracing (`-V`), in nats-server's words: `<<- [OP args]` for what a client sends,
//! `->> [OP args]` for what it is sent, `<-> [DELSUB sid]` for a subscription removed, and
//! `MSG_PAYLOAD: ["..."]` after each message, quoted as Go's `%q` and cut at
//! `max_traced_msg_len`. CONNECT's secrets are redacted (`redact.rs`).
//!
//! Callers check `log::enabled(Level::Trace)` first on the message path, so a server without
//! tracing pays one relaxed load per delivery.

mod redact;

use super::handle::ClientHandle;
use super::reader::Conn;
use crate::log::{self, Level};

const IN: &str = "<<-";
const OUT: &str = "->>";

impl Conn {
    /// Traces one operation the client sent (`frame` is its control line with CRLF, and for
    /// PUB/HPUB the payload and its CRLF), as nats-server's parser does: the operation's name
    /// in capitals, then its arguments as sent.
    pub(super) fn trace_in(&self, frame: &[u8]) {
        let (line, rest) = match frame.iter().position(|&b| b == b'\n') {
            Some(i) => (&frame[..i], &frame[i + 1..]),
            None => (frame, &[][..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (op, args) = split_op(line);
        let args = match args {
            Some(a) if op == "CONNECT" => Some(redact::remove_secrets(a)),
            Some(a) => Some(std::borrow::Cow::Borrowed(a)),
            None => None,
        };
        self.handle.trace_op(IN, &op, args.as_deref());
        if let Some(msg) = rest.strip_suffix(b"\r\n") {
            self.handle.trace_payload(IN, &[msg]);
        }
    }
}

impl ClientHandle {
    /// `<dir> [OP args]`.
    fn trace_op(&self, dir: &str, op: &str, args: Option<&[u8]>) {
        match args {
            Some(a) => self.log(
                Level::Trace,
                format_args!("{dir} [{op} {}]", String::from_utf8_lossy(a)),
            ),
            None => self.log(Level::Trace, format_args!("{dir} [{op}]")),
        }
    }

    /// `<dir> MSG_PAYLOAD: ["..."]` for a message of `parts` (headers, payload), nothing for
    /// an empty one, cut at `max_traced_msg_len` with `...` as nats-server's
    /// `traceMsgInternal`.
    fn trace_payload(&self, dir: &str, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return;
        }
        let max = log::max_traced_msg_len();
        let shown = if max > 0 && len > max { max } else { len };
        // Quote the bytes as one string: a character split between headers and payload
        // must read as Go reads it.
        let joined;
        let bytes: &[u8] = match parts {
            [one] => one,
            _ => {
                joined = parts.concat();
                &joined
            }
        };
        let mut text = String::with_capacity(shown + 8);
        log::push_quoted(&mut text, &bytes[..shown]);
        let cut = if shown < len { "..." } else { "" };
        self.log(
            Level::Trace,
            format_args!("{dir} MSG_PAYLOAD: [\"{text}{cut}\"]"),
        );
    }

    /// Traces a protocol line queued for this client: `+OK`, `PING`, `PONG` and `-ERR` as
    /// nats-server traces them (`->> [OK]`, `->> [-ERR text]`); INFO is not traced.
    pub(crate) fn trace_proto_out(&self, line: &[u8]) {
        if !log::enabled(Level::Trace) {
            return;
        }
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        if let Some(text) = line.strip_prefix(b"-ERR ") {
            let text = text
                .strip_prefix(b"'")
                .and_then(|t| t.strip_suffix(b"'"))
                .unwrap_or(text);
            self.trace_op(OUT, "-ERR", Some(text));
            return;
        }
        let op = match line {
            b"+OK" => "OK",
            b"PING" => "PING",
            b"PONG" => "PONG",
            _ => return,
        };
        self.trace_op(OUT, op, None);
    }

    /// Traces a message queued for this client: its `MSG`/`HMSG` line and payload, as
    /// nats-server's `deliverMsg`.
    pub(crate) fn trace_delivery(
        &self,
        subject: &[u8],
        sid: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        if !log::enabled(Level::Trace) {
            return;
        }
        let subject = String::from_utf8_lossy(subject);
        let sid = String::from_utf8_lossy(sid);
        let reply = reply
            .map(|r| format!("{} ", String::from_utf8_lossy(r)))
            .unwrap_or_default();
        let total = headers.map_or(0, <[u8]>::len) + payload.len();
        let head = match headers {
            Some(h) => format!("HMSG {subject} {sid} {reply}{} {total}", h.len()),
            None => format!("MSG {subject} {sid} {reply}{total}"),
        };
        self.log(Level::Trace, format_args!("{OUT} [{head}]"));
        match headers {
            Some(h) => self.trace_payload(OUT, &[h, payload]),
            None => self.trace_payload(OUT, &[payload]),
        }
    }

    /// `<-> [DELSUB sid]`: a subscription of this client is gone (UNSUB, its auto-unsubscribe
    /// limit, or the connection closing).
    pub(crate) fn trace_delsub(&self, sid: &[u8]) {
        if log::enabled(Level::Trace) {
            self.trace_op("<->", "DELSUB", Some(sid));
        }
    }
}

/// The operation's name in capitals and its arguments after the separating spaces, as
/// nats-server's parser hands them to its trace.
fn split_op(line: &[u8]) -> (String, Option<&[u8]>) {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let op = String::from_utf8_lossy(&line[..end]).to_ascii_uppercase();
    let rest = &line[end..];
    let start = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(rest.len());
    let args = (end < line.len()).then_some(&rest[start..]);
    (op, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_in_capitals_with_arguments_as_sent() {
        assert_eq!(
            split_op(b"pub foo  5"),
            ("PUB".into(), Some(&b"foo  5"[..]))
        );
        assert_eq!(split_op(b"PING"), ("PING".into(), None));
        assert_eq!(
            split_op(b"CONNECT\t {\"a\":1}"),
            ("CONNECT".into(), Some(&b"{\"a\":1}"[..]))
        );
    }
}
