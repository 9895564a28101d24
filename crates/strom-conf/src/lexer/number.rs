//! Values that start with a digit or '-': integers with size suffixes, floats, dates, and the
//! words nats-server reads as strings although they start like numbers (`30s`, `1e5`, IPs).
//!
//! nats-server's `conf/lex.go` decides these character by character; the rules here follow
//! what nats-server 2.15 does, checked against the binary where its source and behaviour differ.

use super::{shown, Lexer, Token};
use crate::error::ConfError;
use crate::value::{Position, ValueKind};

/// Where a bare number stops being a number: nats-server's list, which lacks `]`.
fn ends_number(c: Option<char>) -> bool {
    matches!(c, None | Some('\n' | '\r' | '}' | ';' | ',' | ' ' | '\t'))
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

impl Lexer<'_> {
    /// A value starting with a digit: integer, size, float, date, IP address or string.
    pub(super) fn number(&mut self, at: &Position) -> Result<Token, ConfError> {
        let start = self.pos;
        let mut digits = 0;
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    self.bump();
                    digits += 1;
                }
                Some('-') if digits == 4 => {
                    self.bump();
                    return self.datetime(at, start);
                }
                Some('-') => {
                    return Err(self.error(
                        at.clone(),
                        "a value that starts with digits and a '-' must be a date like 2006-01-02T15:04:05Z; quote it if it is a string",
                    ))
                }
                Some('.') => {
                    self.bump();
                    return self.float_or_address(at, start);
                }
                Some(c) if is_size_suffix(c) => {
                    self.bump();
                    return self.sized(at, start);
                }
                c if ends_number(c) => return self.integer(at, start),
                Some(']') => {
                    return Err(self.error_here(
                        "nats-server reads a number directly followed by ']' as a string; put a space or a new line before ']'",
                    ))
                }
                _ => {
                    // Not a number after all: the rest is a bare string, this character
                    // included as it is (even a backslash or a quote, as in nats-server).
                    self.bump();
                    return self.bare_string(self.text.as_bytes()[start..self.pos].to_vec(), false);
                }
            }
        }
    }

    /// After `-`: an integer, size or float.
    pub(super) fn negative_number(&mut self, at: &Position) -> Result<Token, ConfError> {
        let start = self.pos - 1;
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.error_here(format!(
                "expected a digit after '-' but found {}; quote the value if it is a string",
                shown(self.peek())
            )));
        }
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    self.bump();
                }
                Some('.') => {
                    self.bump();
                    return self.float_or_address(at, start);
                }
                Some(c) if is_size_suffix(c) => {
                    self.bump();
                    return self.sized(at, start);
                }
                _ => return self.integer(at, start),
            }
        }
    }

    /// After the digits and a size letter: more `b`/`i` letters, then the number must end.
    fn sized(&mut self, at: &Position, start: usize) -> Result<Token, ConfError> {
        while matches!(self.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.bump();
        }
        if ends_number(self.peek()) {
            return self.integer(at, start);
        }
        // `500ms`, `1h30m`, `10mins`, `1e5`: a string, as in nats-server 2.15.
        self.bare_string(self.text.as_bytes()[start..self.pos].to_vec(), false)
    }

    fn integer(&self, at: &Position, start: usize) -> Result<Token, ConfError> {
        let text = &self.text[start..self.pos];
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(split);
        let n: i64 = digits.parse().map_err(|_| {
            self.error(
                at.clone(),
                format!("the integer {text} is out of range; it must fit in 64 bits"),
            )
        })?;
        let multiplier = size_multiplier(suffix).ok_or_else(|| {
            self.error(
                at.clone(),
                format!("unknown size suffix '{suffix}' in {text}; use k, m, g, t, p, e (powers of 1000) or kb/ki/kib, mb/mi/mib, ... (powers of 1024)"),
            )
        })?;
        let value = n.checked_mul(multiplier).ok_or_else(|| {
            self.error(
                at.clone(),
                format!("the size {text} is out of range; it must fit in 64 bits"),
            )
        })?;
        Ok(Token::Scalar(ValueKind::Integer(value)))
    }

    /// After digits and a '.': a float, or an IP address (with a port) if another '.' follows.
    fn float_or_address(&mut self, at: &Position, start: usize) -> Result<Token, ConfError> {
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.error_here(format!(
                "expected a digit after '.' but found {}; quote the value if it is a string",
                shown(self.peek())
            )));
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            while matches!(self.peek(), Some(c) if c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
            {
                self.bump();
            }
            let s = self.text[start..self.pos].to_string();
            return Ok(Token::Scalar(ValueKind::String(s)));
        }
        let text = &self.text[start..self.pos];
        let x: f64 = text
            .parse()
            .map_err(|_| self.error(at.clone(), format!("{text} is not a valid float")))?;
        Ok(Token::Scalar(ValueKind::Float(x)))
    }

    /// After `YYYY-`: the rest of an ISO 8601 Zulu date, `MM-DDTHH:MM:SSZ`.
    fn datetime(&mut self, at: &Position, start: usize) -> Result<Token, ConfError> {
        for expected in "00-00T00:00:00Z".chars() {
            let here = self.position();
            let c = self.bump();
            let ok = match expected {
                '0' => c.is_some_and(|c| c.is_ascii_digit()),
                e => c == Some(e),
            };
            if !ok {
                let wanted = if expected == '0' {
                    "a digit".to_string()
                } else {
                    format!("'{expected}'")
                };
                return Err(self.error(
                    here,
                    format!(
                        "expected {wanted} in a date like 2006-01-02T15:04:05Z but found {}; quote the value if it is a string",
                        shown(c)
                    ),
                ));
            }
        }
        let text = &self.text[start..self.pos];
        if !valid_date(text) {
            return Err(self.error(at.clone(), format!("{text} is not a real date and time")));
        }
        Ok(Token::Scalar(ValueKind::Datetime(text.to_string())))
    }
}

/// nats-server's size suffixes: a bare letter is a power of 1000; with `b`, `i` or `ib` it is
/// a power of 1024.
fn size_multiplier(suffix: &str) -> Option<i64> {
    let lower = suffix.to_ascii_lowercase();
    if lower.is_empty() {
        return Some(1);
    }
    let mut chars = lower.chars();
    let exponent = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    Some(base.pow(exponent))
}

/// Ranges as Go's `time.Parse` checks them for `2006-01-02T15:04:05Z`.
fn valid_date(text: &str) -> bool {
    let num = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{int, string, value};
    use super::*;

    #[test]
    fn size_suffixes_follow_nats_server() {
        assert_eq!(value("2m").ok(), Some(int(2_000_000)));
        assert_eq!(value("1k").ok(), Some(int(1000)));
        assert_eq!(value("1K\n").ok(), Some(int(1000)));
        for s in ["1kb", "1KB", "1ki", "1Ki", "1kib", "1KiB"] {
            assert_eq!(value(s).ok(), Some(int(1024)), "{s}");
        }
        assert_eq!(value("2GB").ok(), Some(int(2 << 30)));
        assert_eq!(value("4Gi").ok(), Some(int(4 << 30)));
        assert_eq!(value("100Gi").ok(), Some(int(100 << 30)));
        assert_eq!(value("1t").ok(), Some(int(1_000_000_000_000)));
        assert_eq!(value("1tb").ok(), Some(int(1 << 40)));
        assert_eq!(value("-5k").ok(), Some(int(-5000)));
        assert_eq!(value("1p").ok(), Some(int(1_000_000_000_000_000)));
    }

    #[test]
    fn odd_suffixes_and_overflow_are_errors() {
        assert!(value("1kbib").is_err());
        assert!(value("9223372036854775808").is_err());
        assert!(value("10eb").is_err());
    }

    #[test]
    fn durations_and_other_digit_words_stay_strings() {
        for s in ["30s", "500ms", "1h30m", "10mins", "1k2", "1e5", "1k#c"] {
            assert_eq!(value(s).ok(), Some(string(s)), "{s}");
        }
    }

    #[test]
    fn addresses_floats_and_dates() {
        assert_eq!(value("0.0.0.0:4222").ok(), Some(string("0.0.0.0:4222")));
        assert_eq!(
            value("1.5").ok(),
            Some(Token::Scalar(ValueKind::Float(1.5)))
        );
        assert_eq!(
            value("2020-02-29T10:00:00Z").ok(),
            Some(Token::Scalar(ValueKind::Datetime(
                "2020-02-29T10:00:00Z".into()
            )))
        );
        assert!(value("2021-02-29T10:00:00Z").is_err());
        assert!(value("2024-abc").is_err());
        assert!(value("12-4").is_err());
        assert_eq!(value("localhost:4222").ok(), Some(string("localhost:4222")));
        assert_eq!(value("1abc").ok(), Some(string("1abc")));
    }
}
