//! Message headers as NATS carries them: a `NATS/1.0` line, optionally with a status code and
//! description, then `Name: value` lines, then an empty line.
//!
//! Lookups are by exact name, as nats-server's `getHeader` does: JetStream's headers
//! (`Nats-Msg-Id`, `Nats-Expected-Stream`, ...) are matched byte for byte.

/// The first line of every header block.
pub const VERSION_LINE: &[u8] = b"NATS/1.0";

/// The value of the first header called `name`, without surrounding whitespace.
pub fn get<'a>(block: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    lines(block).find_map(|(n, v)| (n == name).then_some(v))
}

/// Every `Name: value` pair after the version line, in order.
pub fn lines(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    block
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            Some((trim(&l[..colon]), trim(&l[colon + 1..])))
        })
}

/// The status code on the version line (`NATS/1.0 503`), if any.
pub fn status(block: &[u8]) -> Option<u16> {
    let first = block.split(|&b| b == b'\n').next()?;
    let rest = first.strip_prefix(VERSION_LINE)?;
    let rest = trim(rest.strip_suffix(b"\r").unwrap_or(rest));
    let code = rest.split(|&b| b == b' ').next()?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Builds a header block.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    /// `NATS/1.0` without a status.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(VERSION_LINE);
        buf.extend_from_slice(b"\r\n");
        Builder { buf }
    }

    /// `NATS/1.0 <code> <description>`.
    pub fn with_status(code: u16, description: &str) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(VERSION_LINE);
        buf.extend_from_slice(format!(" {code}").as_bytes());
        if !description.is_empty() {
            buf.push(b' ');
            buf.extend_from_slice(description.as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        Builder { buf }
    }

    /// Starts from an existing block, dropping its final empty line, to add more headers.
    pub fn extend(block: &[u8]) -> Self {
        if block.is_empty() {
            return Builder::new();
        }
        let mut buf = block.to_vec();
        while buf.ends_with(b"\r\n\r\n") {
            buf.truncate(buf.len() - 2);
        }
        Builder { buf }
    }

    pub fn add(mut self, name: &str, value: &[u8]) -> Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let h = b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX:  spaced  \r\nNats-Msg-Id: second\r\n\r\n";
        assert_eq!(get(h, b"Nats-Msg-Id"), Some(&b"abc"[..]));
        assert_eq!(get(h, b"X"), Some(&b"spaced"[..]));
        assert_eq!(get(h, b"nats-msg-id"), None);
        assert_eq!(get(h, b"Missing"), None);
        assert_eq!(status(h), None);
        assert_eq!(status(b"NATS/1.0 503\r\n\r\n"), Some(503));
        assert_eq!(status(b"NATS/1.0 404 Message Not Found\r\n\r\n"), Some(404));
    }

    #[test]
    fn building() {
        let h = Builder::new().add("Nats-Stream", b"S").finish();
        assert_eq!(h, b"NATS/1.0\r\nNats-Stream: S\r\n\r\n");
        let h = Builder::with_status(404, "Message Not Found").finish();
        assert_eq!(h, b"NATS/1.0 404 Message Not Found\r\n\r\n");
        let h = Builder::extend(b"NATS/1.0\r\nA: 1\r\n\r\n")
            .add("B", b"2")
            .finish();
        assert_eq!(h, b"NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n");
        assert_eq!(get(&h, b"B"), Some(&b"2"[..]));
    }

    #[test]
    fn garbage_is_harmless() {
        for h in [
            &b""[..],
            b"\r\n",
            b"NATS/1.0",
            b"junk\r\n:\r\n",
            b"NATS/1.0 abc\r\n",
        ] {
            let _ = get(h, b"A");
            let _ = status(h);
        }
    }
}
