//! Frames the server writes: `MSG`, `HMSG`, `INFO`, `PING`, `PONG`, `+OK`, `-ERR`.
//!
//! Frames are appended to a caller's buffer with no intermediate `String`; sizes are formatted into
//! a stack buffer.

use bytes::{BufMut, BytesMut};

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";
pub const CRLF: &[u8] = b"\r\n";

/// Formats `n` in decimal into `buf`, returning the digits.
#[inline]
pub fn fmt_usize(n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// An upper bound on the length of the frame [`write_msg`] writes, to reserve once.
#[inline]
fn msg_len_bound(subject: &[u8], sid: &[u8], reply: Option<&[u8]>, total: usize) -> usize {
    // "HMSG " subject " " sid " " [reply " "] hdr " " total "\r\n" payload "\r\n"
    5 + subject.len() + 1 + sid.len() + 1 + reply.map_or(0, |r| r.len() + 1) + 42 + total + 4
}

/// Appends `MSG subject sid [reply] size\r\npayload\r\n`, or the `HMSG` form when `headers` is
/// given (and the receiver negotiated headers).
#[inline]
pub fn write_msg(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let total = headers.map_or(0, <[u8]>::len) + payload.len();
    out.reserve(msg_len_bound(subject, sid, reply, total));
    write_msg_head(out, subject, sid, reply, headers, payload.len());
    out.put_slice(payload);
    out.put_slice(CRLF);
}

/// Appends the part of a frame before the payload: the control line and, for `HMSG`, the
/// header block. The caller sends `payload_len` payload bytes and a CRLF after it.
#[inline]
pub fn write_msg_head(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload_len: usize,
) {
    let hdr_len = headers.map_or(0, <[u8]>::len);
    let total = hdr_len + payload_len;
    out.reserve(msg_len_bound(subject, sid, reply, hdr_len));
    let mut num = [0u8; 20];
    if headers.is_some() {
        out.put_slice(b"HMSG ");
    } else {
        out.put_slice(b"MSG ");
    }
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    if let Some(h) = headers {
        out.put_slice(fmt_usize(hdr_len, &mut num));
        out.put_u8(b' ');
        out.put_slice(fmt_usize(total, &mut num));
        out.put_slice(CRLF);
        out.put_slice(h);
    } else {
        out.put_slice(fmt_usize(total, &mut num));
        out.put_slice(CRLF);
    }
}

/// Appends `-ERR '<text>'\r\n`.
pub fn write_err(out: &mut BytesMut, text: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// Appends `INFO <json> \r\n`; nats-server puts a space before the line end and clients accept it.
pub fn write_info(out: &mut BytesMut, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(b" \r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_frames() {
        let mut out = BytesMut::new();
        write_msg(&mut out, b"foo", b"1", None, None, b"hi");
        assert_eq!(&out[..], b"MSG foo 1 2\r\nhi\r\n");
        out.clear();
        write_msg(&mut out, b"foo", b"1", Some(b"r"), None, b"");
        assert_eq!(&out[..], b"MSG foo 1 r 0\r\n\r\n");
        out.clear();
        write_msg(
            &mut out,
            b"foo",
            b"22",
            Some(b"r"),
            Some(b"NATS/1.0\r\n\r\n"),
            b"hi",
        );
        assert_eq!(&out[..], b"HMSG foo 22 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    }

    #[test]
    fn numbers() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_usize(0, &mut b), b"0");
        assert_eq!(fmt_usize(1048576, &mut b), b"1048576");
        assert_eq!(
            fmt_usize(usize::MAX, &mut b),
            usize::MAX.to_string().as_bytes()
        );
    }
}
