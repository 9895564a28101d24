//! The NATS client protocol as the load tool needs it, without I/O: encoders for the frames it
//! sends and a parser for what a server sends back (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`,
//! `-ERR`). The parser works in two steps: find a complete control line, then parse it with one
//! small function per operation. A `MSG` is only returned once its whole payload is buffered.
//!
//! This is deliberately independent of `strom-proto`: a load tool that shared the server's parser
//! would share its bugs too.

use std::fmt;
use std::io::Write;

/// The `CONNECT` every load connection sends: no `+OK` acknowledgements, headers and
/// no-responders on, as a current client would negotiate.
pub const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
\"no_responders\":true,\"protocol\":1}\r\n";
pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";

/// Longest control line accepted before the stream is declared broken. nats-server's `INFO` is
/// well under this even with many `connect_urls`.
const MAX_CONTROL_LINE: usize = 64 * 1024;

/// One operation sent by the server.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerOp<'a> {
    Info(&'a [u8]),
    Msg(Msg<'a>),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
}

/// A delivered message (`MSG` or `HMSG`). `body` is headers followed by payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub subject: &'a [u8],
    pub sid: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub header_len: usize,
    pub body: &'a [u8],
}

impl Msg<'_> {
    /// The payload without headers.
    pub fn payload(&self) -> &[u8] {
        &self.body[self.header_len..]
    }
}

/// The outcome of one parse attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// An operation and how many bytes of the buffer it used.
    Op(ServerOp<'a>, usize),
    /// More bytes are needed; `needed` is the whole frame's length when the control line is
    /// already known (so the caller can make room for a large payload).
    Incomplete { needed: Option<usize> },
}

/// The server sent something this client cannot make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn error(what: &str, line: &[u8]) -> ProtocolError {
    let shown = &line[..line.len().min(120)];
    ProtocolError(format!("{what}: {:?}", String::from_utf8_lossy(shown)))
}

/// Parses the first operation in `buf`.
///
/// # Errors
/// A malformed or unknown control line, a payload not followed by CRLF, or a control line longer
/// than 64 KiB.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, ProtocolError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(error("control line too long", buf));
        }
        return Ok(Parsed::Incomplete { needed: None });
    };
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let after = nl + 1;
    let (verb, args) = split_verb(line);
    match verb {
        b"MSG" => parse_msg(buf, line, args, after, false),
        b"HMSG" => parse_msg(buf, line, args, after, true),
        b"PING" => Ok(Parsed::Op(ServerOp::Ping, after)),
        b"PONG" => Ok(Parsed::Op(ServerOp::Pong, after)),
        b"+OK" => Ok(Parsed::Op(ServerOp::Ok, after)),
        b"-ERR" => Ok(Parsed::Op(ServerOp::Err(args), after)),
        b"INFO" => Ok(Parsed::Op(ServerOp::Info(args), after)),
        _ => Err(error("unknown operation", line)),
    }
}

/// Splits a control line into its verb and the rest, trimmed of leading blanks.
fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(line.len());
    let rest = &line[end..];
    let start = rest
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(rest.len());
    (&line[..end], &rest[start..])
}

/// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdr> <total>`.
fn parse_msg<'a>(
    buf: &'a [u8],
    line: &'a [u8],
    args: &'a [u8],
    after: usize,
    headers: bool,
) -> Result<Parsed<'a>, ProtocolError> {
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for part in args
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|p| !p.is_empty())
    {
        if n == parts.len() {
            return Err(error("too many arguments", line));
        }
        parts[n] = part;
        n += 1;
    }
    let sizes = if headers { 2 } else { 1 };
    let reply = match n - sizes.min(n) {
        2 => None,
        3 => Some(parts[2]),
        _ => return Err(error("wrong number of arguments", line)),
    };
    let total = parse_size(parts[n - 1]).ok_or_else(|| error("bad size", line))?;
    let header_len = if headers {
        let h = parse_size(parts[n - 2]).ok_or_else(|| error("bad header size", line))?;
        if h > total {
            return Err(error("header size above total size", line));
        }
        h
    } else {
        0
    };
    let end = after + total;
    if buf.len() < end + 2 {
        return Ok(Parsed::Incomplete {
            needed: Some(end + 2),
        });
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(error("payload not followed by CRLF", line));
    }
    let msg = Msg {
        subject: parts[0],
        sid: parts[1],
        reply,
        header_len,
        body: &buf[after..end],
    };
    Ok(Parsed::Op(ServerOp::Msg(msg), end + 2))
}

fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + usize::from(d - b'0'))
    })
}

/// Appends `PUB <subject> [reply] <len>\r\n<payload>\r\n`.
pub fn encode_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    write!(out, "{}\r\n", payload.len()).expect("writing to a Vec cannot fail");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends `SUB <subject> [queue] <sid>\r\n`.
pub fn encode_sub(out: &mut Vec<u8>, subject: &str, queue: Option<&str>, sid: u64) {
    match queue {
        Some(q) => write!(out, "SUB {subject} {q} {sid}\r\n"),
        None => write!(out, "SUB {subject} {sid}\r\n"),
    }
    .expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(buf: &[u8]) -> (ServerOp<'_>, usize) {
        match parse(buf).unwrap() {
            Parsed::Op(op, n) => (op, n),
            other => panic!("expected an op, got {other:?}"),
        }
    }

    #[test]
    fn parses_control_ops() {
        assert_eq!(op(b"PING\r\n"), (ServerOp::Ping, 6));
        assert_eq!(op(b"PONG\r\nPING\r\n"), (ServerOp::Pong, 6));
        assert_eq!(op(b"+OK\r\n"), (ServerOp::Ok, 5));
        assert_eq!(
            op(b"-ERR 'Slow Consumer'\r\n"),
            (ServerOp::Err(b"'Slow Consumer'"), 22)
        );
        assert_eq!(
            op(b"INFO {\"a\":1}\r\n"),
            (ServerOp::Info(b"{\"a\":1}"), 14)
        );
    }

    #[test]
    fn parses_msg_with_and_without_reply() {
        let (m, n) = op(b"MSG a.b 7 5\r\nhello\r\nPING\r\n");
        assert_eq!(n, 20);
        let ServerOp::Msg(m) = m else { panic!() };
        assert_eq!((m.subject, m.sid, m.reply), (&b"a.b"[..], &b"7"[..], None));
        assert_eq!(m.payload(), b"hello");

        let (m, _) = op(b"MSG a 1 _INBOX.x 0\r\n\r\n");
        let ServerOp::Msg(m) = m else { panic!() };
        assert_eq!(m.reply, Some(&b"_INBOX.x"[..]));
        assert_eq!(m.payload(), b"");
    }

    #[test]
    fn parses_hmsg() {
        let frame = b"HMSG a 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let (m, n) = op(frame);
        assert_eq!(n, frame.len());
        let ServerOp::Msg(m) = m else { panic!() };
        assert_eq!((m.reply, m.header_len), (Some(&b"r"[..]), 12));
        assert_eq!(m.payload(), b"hi");
    }

    #[test]
    fn every_split_of_a_frame_is_incomplete_until_whole() {
        let frame = b"MSG subject 1 reply 10\r\n0123456789\r\n";
        for cut in 0..frame.len() {
            assert!(
                matches!(parse(&frame[..cut]).unwrap(), Parsed::Incomplete { .. }),
                "cut at {cut}"
            );
        }
        assert!(matches!(parse(frame).unwrap(), Parsed::Op(_, n) if n == frame.len()));
        assert_eq!(
            parse(&frame[..30]).unwrap(),
            Parsed::Incomplete {
                needed: Some(frame.len())
            }
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"WHAT\r\n").is_err());
        assert!(parse(b"MSG a 1 x\r\n").is_err());
        assert!(parse(b"MSG a\r\n").is_err());
        assert!(parse(b"MSG a 1 2\r\nabXX").is_err());
        assert!(parse(b"HMSG a 1 5 2\r\n").is_err());
    }

    #[test]
    fn encodes_frames() {
        let mut out = Vec::new();
        encode_pub(&mut out, b"a.b", None, b"xy");
        encode_pub(&mut out, b"a", Some(b"r.1"), b"");
        encode_sub(&mut out, "s.>", None, 3);
        encode_sub(&mut out, "s", Some("q"), 4);
        assert_eq!(
            out,
            b"PUB a.b 2\r\nxy\r\nPUB a r.1 0\r\n\r\nSUB s.> 3\r\nSUB s q 4\r\n"
        );
    }
}
