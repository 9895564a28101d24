//! The streaming parser: a complete control line first, then one small function per operation.
//!
//! [`parse`] looks at the front of a buffer and returns either one operation with the number of bytes
//! it used, or [`Parsed::Incomplete`] with how many bytes it needs in all (when that is known). It
//! keeps no state between calls, so any split of a byte stream into reads yields the same operations.

use crate::error::ProtoError;
use crate::ops::ClientOp;

/// The limits a connection enforces while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest control line (without its line end) accepted, nats-server's `max_control_line`.
    pub max_control_line: usize,
    /// Largest PUB/HPUB size accepted, nats-server's `max_payload`.
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
        }
    }
}

/// The outcome of one [`parse`] call that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// One operation, and how many bytes of the buffer it used.
    Op(ClientOp<'a>, usize),
    /// Not enough bytes yet. `needed` is the total length the buffer must reach for the next
    /// operation, when the control line has been seen; `None` when the line end is still missing.
    Incomplete { needed: Option<usize> },
}

/// CONNECT carries JWTs and signatures; nats-server does not hold it to `max_control_line`.
/// It is still bounded, so a client cannot make us buffer without end.
const MAX_CONNECT_LINE: usize = 1024 * 1024;

/// Most arguments any operation takes (HPUB with a reply subject has four).
const MAX_ARGS: usize = 4;

/// Parses the operation at the front of `buf`.
///
/// # Errors
/// A [`ProtoError`] when the bytes cannot be a valid operation; the connection must then be closed
/// (after sending [`ProtoError::err_text`], when there is one).
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtoError> {
    let Some(first) = buf.first() else {
        return Ok(Parsed::Incomplete { needed: None });
    };
    let line_limit = if matches!(first, b'C' | b'c') {
        MAX_CONNECT_LINE
    } else {
        limits.max_control_line
    };
    // The line may end in "\r\n" (or a bare "\n"), so look two bytes past the limit.
    let window = &buf[..buf.len().min(line_limit + 2)];
    let Some(nl) = memchr::memchr(b'\n', window) else {
        if buf.len() > line_limit + 1 {
            return Err(ProtoError::MaxControlLine);
        }
        return Ok(Parsed::Incomplete { needed: None });
    };
    let line_end = nl + 1;
    let line = strip_cr(&buf[..nl]);
    if line.len() > line_limit {
        return Err(ProtoError::MaxControlLine);
    }
    let (op, rest) = split_op(line);
    match op.len() {
        3 if op.eq_ignore_ascii_case(b"PUB") => parse_pub(buf, line_end, rest, limits),
        4 if op.eq_ignore_ascii_case(b"HPUB") => parse_hpub(buf, line_end, rest, limits),
        3 if op.eq_ignore_ascii_case(b"SUB") => parse_sub(rest).map(|o| Parsed::Op(o, line_end)),
        5 if op.eq_ignore_ascii_case(b"UNSUB") => {
            parse_unsub(rest).map(|o| Parsed::Op(o, line_end))
        }
        4 if op.eq_ignore_ascii_case(b"PING") => Ok(Parsed::Op(ClientOp::Ping, line_end)),
        4 if op.eq_ignore_ascii_case(b"PONG") => Ok(Parsed::Op(ClientOp::Pong, line_end)),
        7 if op.eq_ignore_ascii_case(b"CONNECT") => {
            Ok(Parsed::Op(ClientOp::Connect(trim(rest)), line_end))
        }
        4 if op.eq_ignore_ascii_case(b"INFO") => Ok(Parsed::Op(ClientOp::Ignored, line_end)),
        3 if op.eq_ignore_ascii_case(b"+OK") => Ok(Parsed::Op(ClientOp::Ignored, line_end)),
        4 if op.eq_ignore_ascii_case(b"-ERR") => Err(ProtoError::ClientErr),
        _ => Err(ProtoError::UnknownOp),
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Splits the operation name from its arguments.
fn split_op(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| is_space(b)) {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, &[]),
    }
}

/// Splits arguments on runs of spaces and tabs. Returns `None` when there are more than
/// [`MAX_ARGS`].
fn split_args(rest: &[u8]) -> Option<([&[u8]; MAX_ARGS], usize)> {
    let mut args: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let mut n = 0;
    for arg in rest.split(|&b| is_space(b)).filter(|a| !a.is_empty()) {
        if n == MAX_ARGS {
            return None;
        }
        args[n] = arg;
        n += 1;
    }
    Some((args, n))
}

/// Parses a decimal size as nats-server does: ASCII digits only, no sign, no overflow.
pub fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: usize = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Some(n)
}

/// Checks the payload bounds shared by PUB and HPUB, returning where the payload ends.
fn payload_frame(
    buf: &[u8],
    line_end: usize,
    size: usize,
    limits: &Limits,
) -> Result<Option<usize>, ProtoError> {
    if size > limits.max_payload {
        return Err(ProtoError::MaxPayload {
            size,
            max: limits.max_payload,
        });
    }
    let payload_end = line_end + size;
    if buf.len() < payload_end + 2 {
        return Ok(None);
    }
    if &buf[payload_end..payload_end + 2] != b"\r\n" {
        return Err(ProtoError::UnknownOp);
    }
    Ok(Some(payload_end))
}

fn parse_pub<'a>(
    buf: &'a [u8],
    line_end: usize,
    rest: &'a [u8],
    limits: &Limits,
) -> Result<Parsed<'a>, ProtoError> {
    const BAD: ProtoError = ProtoError::BadArgs { op: "PUB" };
    let (args, n) = split_args(rest).ok_or(BAD)?;
    let (subject, reply, size) = match n {
        2 => (args[0], None, args[1]),
        3 => (args[0], Some(args[1]), args[2]),
        0 => return Err(ProtoError::UnknownOp),
        _ => return Err(BAD),
    };
    let size = parse_size(size).ok_or(BAD)?;
    let Some(payload_end) = payload_frame(buf, line_end, size, limits)? else {
        return Ok(Parsed::Incomplete {
            needed: Some(line_end + size + 2),
        });
    };
    Ok(Parsed::Op(
        ClientOp::Pub {
            subject,
            reply,
            headers: None,
            payload: &buf[line_end..payload_end],
        },
        payload_end + 2,
    ))
}

fn parse_hpub<'a>(
    buf: &'a [u8],
    line_end: usize,
    rest: &'a [u8],
    limits: &Limits,
) -> Result<Parsed<'a>, ProtoError> {
    const BAD: ProtoError = ProtoError::BadArgs { op: "HPUB" };
    let (args, n) = split_args(rest).ok_or(BAD)?;
    let (subject, reply, hdr, total) = match n {
        3 => (args[0], None, args[1], args[2]),
        4 => (args[0], Some(args[1]), args[2], args[3]),
        0 => return Err(ProtoError::UnknownOp),
        _ => return Err(BAD),
    };
    let hdr = parse_size(hdr).ok_or(BAD)?;
    let total = parse_size(total).ok_or(BAD)?;
    if hdr > total {
        return Err(BAD);
    }
    let Some(payload_end) = payload_frame(buf, line_end, total, limits)? else {
        return Ok(Parsed::Incomplete {
            needed: Some(line_end + total + 2),
        });
    };
    let hdr_end = line_end + hdr;
    Ok(Parsed::Op(
        ClientOp::Pub {
            subject,
            reply,
            headers: Some(&buf[line_end..hdr_end]),
            payload: &buf[hdr_end..payload_end],
        },
        payload_end + 2,
    ))
}

fn parse_sub(rest: &[u8]) -> Result<ClientOp<'_>, ProtoError> {
    const BAD: ProtoError = ProtoError::BadArgs { op: "SUB" };
    let (args, n) = split_args(rest).ok_or(BAD)?;
    match n {
        2 => Ok(ClientOp::Sub {
            subject: args[0],
            queue: None,
            sid: args[1],
        }),
        3 => Ok(ClientOp::Sub {
            subject: args[0],
            queue: Some(args[1]),
            sid: args[2],
        }),
        _ => Err(BAD),
    }
}

fn parse_unsub(rest: &[u8]) -> Result<ClientOp<'_>, ProtoError> {
    let (args, n) = split_args(rest).ok_or(ProtoError::BadArgs { op: "UNSUB" })?;
    match n {
        // nats-server answers a bare UNSUB as an unknown operation.
        0 => Err(ProtoError::UnknownOp),
        1 => Ok(ClientOp::Unsub {
            sid: args[0],
            max: None,
        }),
        // A max that is not a number is ignored by nats-server: a plain UNSUB.
        2 => Ok(ClientOp::Unsub {
            sid: args[0],
            max: parse_size(args[1]).map(|m| m as u64),
        }),
        _ => Err(ProtoError::BadArgs { op: "UNSUB" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Parsed<'_>, ProtoError> {
        parse(input, &Limits::default())
    }

    #[test]
    fn pub_with_and_without_reply() {
        assert_eq!(
            one(b"PUB foo 2\r\nhi\r\n"),
            Ok(Parsed::Op(
                ClientOp::Pub {
                    subject: b"foo",
                    reply: None,
                    headers: None,
                    payload: b"hi"
                },
                15
            ))
        );
        assert_eq!(
            one(b"pub\tfoo  r 0\r\n\r\n"),
            Ok(Parsed::Op(
                ClientOp::Pub {
                    subject: b"foo",
                    reply: Some(b"r"),
                    headers: None,
                    payload: b""
                },
                16
            ))
        );
    }

    #[test]
    fn hpub_splits_headers_from_payload() {
        let input = b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        match one(input) {
            Ok(Parsed::Op(
                ClientOp::Pub {
                    headers, payload, ..
                },
                n,
            )) => {
                assert_eq!(headers, Some(&b"NATS/1.0\r\n\r\n"[..]));
                assert_eq!(payload, b"hi");
                assert_eq!(n, input.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incomplete_payload_says_how_much_is_needed() {
        assert_eq!(
            one(b"PUB foo 5\r\nhe"),
            Ok(Parsed::Incomplete { needed: Some(18) })
        );
        assert_eq!(one(b"PUB fo"), Ok(Parsed::Incomplete { needed: None }));
    }

    #[test]
    fn errors_match_nats_server_classes() {
        assert_eq!(one(b"FOO bar\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"PUB\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"UNSUB\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"PUB foo 2\r\nhiXX"), Err(ProtoError::UnknownOp));
        assert_eq!(
            one(b"PUB foo abc\r\n"),
            Err(ProtoError::BadArgs { op: "PUB" })
        );
        assert_eq!(
            one(b"PUB foo -1\r\n"),
            Err(ProtoError::BadArgs { op: "PUB" })
        );
        assert_eq!(
            one(b"HPUB foo 20 10\r\n"),
            Err(ProtoError::BadArgs { op: "HPUB" })
        );
        assert_eq!(one(b"SUB foo\r\n"), Err(ProtoError::BadArgs { op: "SUB" }));
        assert_eq!(one(b"-ERR 'x'\r\n"), Err(ProtoError::ClientErr));
        let limits = Limits {
            max_control_line: 16,
            max_payload: 4,
        };
        assert_eq!(
            parse(b"PUB foo 5\r\n", &limits),
            Err(ProtoError::MaxPayload { size: 5, max: 4 })
        );
        assert_eq!(
            parse(b"PUB aaaaaaaaaaaaaaaaaaaa", &limits),
            Err(ProtoError::MaxControlLine)
        );
        assert_eq!(
            parse(b"PUB aaaaaaaaaaaaaaaaaaaa 1\r\n", &limits),
            Err(ProtoError::MaxControlLine)
        );
    }

    #[test]
    fn unsub_with_max() {
        assert_eq!(
            one(b"UNSUB 1 5\r\n"),
            Ok(Parsed::Op(
                ClientOp::Unsub {
                    sid: b"1",
                    max: Some(5)
                },
                11
            ))
        );
        assert_eq!(
            one(b"UNSUB 1 x\r\n"),
            Ok(Parsed::Op(
                ClientOp::Unsub {
                    sid: b"1",
                    max: None
                },
                11
            ))
        );
    }

    #[test]
    fn connect_is_not_held_to_max_control_line() {
        let limits = Limits {
            max_control_line: 16,
            max_payload: 4,
        };
        let line = format!("CONNECT {{\"jwt\":\"{}\"}}\r\n", "x".repeat(100));
        assert!(matches!(
            parse(line.as_bytes(), &limits),
            Ok(Parsed::Op(ClientOp::Connect(_), _))
        ));
    }
}
