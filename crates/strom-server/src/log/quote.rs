//! Go's `%q` for log text: nats-server quotes payloads, subjects, file names and client labels
//! with it, so lines that carry them read the same in Strom's logs.
//!
//! `strconv.Quote` semantics: printable characters as they are, `\"` and `\\`, the C escapes
//! (`\a \b \f \n \r \t \v`), `\xNN` for other control bytes and for every byte that is not
//! valid UTF-8, `\uNNNN` / `\UNNNNNNNN` for other characters Go does not print.

use std::fmt::Write as _;

/// `bytes` as Go's `fmt.Sprintf("%q", bytes)` writes them, quotes included.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    push_quoted(&mut out, bytes);
    out.push('"');
    out
}

/// Appends the quoted form of `bytes` without the surrounding quotes.
pub fn push_quoted(out: &mut String, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                text.chars().for_each(|c| push_char(out, c));
                return;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // Checked by from_utf8 just now: the prefix is valid UTF-8.
                let text = std::str::from_utf8(valid).unwrap_or_default();
                text.chars().for_each(|c| push_char(out, c));
                // Go decodes one byte at a time and writes each undecodable one as `\xNN`.
                let bad = e.error_len().unwrap_or(rest.len());
                for b in &rest[..bad] {
                    let _ = write!(out, "\\x{b:02x}");
                }
                bytes = &rest[bad..];
            }
        }
    }
}

fn push_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if is_print(c) => out.push(c),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
/// Outside ASCII this is an approximation without Unicode's category tables: controls, spaces
/// other than U+0020, the common format characters, private use and noncharacters are not
/// printed; unassigned code points are (Go escapes them).
fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format = matches!(
        u,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private = matches!(u, 0xe000..=0xf8ff | 0xf0000..=0x10ffff);
    let nonchar = matches!(u, 0xfdd0..=0xfdef) || (u & 0xfffe) == 0xfffe;
    !(format || private || nonchar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_escapes_match_go() {
        // Expected values from Go: fmt.Sprintf("%q", []byte(...)).
        assert_eq!(go_quote(b"hello"), r#""hello""#);
        assert_eq!(go_quote(b"a\x00\"\xff"), r#""a\x00\"\xff""#);
        assert_eq!(go_quote(b"NATS/1.0\r\n\r\n"), r#""NATS/1.0\r\n\r\n""#);
        assert_eq!(go_quote(b"\x07\x08\x0c\x0b\t\\"), r#""\a\b\f\v\t\\""#);
        assert_eq!(go_quote(b"\x7f\x1b"), r#""\x7f\x1b""#);
        assert_eq!(go_quote(b""), r#""""#);
    }

    #[test]
    fn unicode_is_printed_unless_go_would_escape_it() {
        assert_eq!(go_quote("héllo ✓".as_bytes()), "\"héllo ✓\"");
        assert_eq!(
            go_quote("\u{a0}\u{85}\u{feff}".as_bytes()),
            r#""\u00a0\u0085\ufeff""#
        );
        assert_eq!(go_quote("\u{10ffff}".as_bytes()), r#""\U0010ffff""#);
        // U+FFFD encoded properly is printable; a stray byte is not.
        assert_eq!(go_quote("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
    }

    #[test]
    fn truncated_sequences_are_escaped_byte_by_byte() {
        // "é" cut after its first byte, then a multi-byte lead without continuation.
        assert_eq!(go_quote(b"h\xc3"), r#""h\xc3""#);
        assert_eq!(go_quote(b"\xe2\x82A"), r#""\xe2\x82A""#);
    }
}
