//! Go's `time.ParseDuration` syntax, which nats-server uses for every duration string.
//!
//! `"30s"`, `"1h30m"`, `"1.5h"`, `"500ms"`, `"2us"`, `"0"`. Negative durations parse in Go but
//! no option of ours means anything by them, so they are refused here.

use std::time::Duration;

/// Parses a duration the way Go's `time.ParseDuration` does.
///
/// # Errors
/// A message saying what is wrong with the text and how to write it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("{text:?} is not a duration; write it like \"30s\", \"2m\" or \"1h30m\"");
    let mut s = text;
    if let Some(rest) = s.strip_prefix('-') {
        if rest != "0" {
            return Err(format!(
                "{text:?} is negative; durations here must be positive"
            ));
        }
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let len = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                after.split_at(len)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "{text:?} has a number without a unit; add one of ns, us, ms, s, m, h (e.g. \"{int_part}s\")"
            ));
        }
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => {
                return Err(format!(
                    "{text:?} has the unknown unit {unit:?}; use ns, us, ms, s, m or h (e.g. \"48h\" for two days)"
                ))
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        // The fraction, to nanosecond precision (Go truncates the same way).
        let mut scale = nanos_per_unit;
        for digit in frac_part.bytes().take(30) {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(nanos).ok_or_else(invalid)?;
        s = rest;
    }
    // Go's durations are int64 nanoseconds.
    if total > i64::MAX as u128 {
        return Err(format!(
            "{text:?} is too long; the limit is about 292 years"
        ));
    }
    let secs = (total / 1_000_000_000) as u64;
    let sub = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_forms() {
        let ok = |s: &str| parse_duration(s).ok();
        assert_eq!(ok("30s"), Some(Duration::from_secs(30)));
        assert_eq!(ok("2m"), Some(Duration::from_secs(120)));
        assert_eq!(ok("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(ok("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(ok("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(ok(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(ok("2us"), Some(Duration::from_micros(2)));
        assert_eq!(ok("2\u{b5}s"), Some(Duration::from_micros(2)));
        assert_eq!(ok("10ns"), Some(Duration::from_nanos(10)));
        assert_eq!(ok("0"), Some(Duration::ZERO));
        assert_eq!(ok("+1s"), Some(Duration::from_secs(1)));
        assert_eq!(ok("1m0.5s"), Some(Duration::from_millis(60_500)));
    }

    #[test]
    fn refused_forms_say_why() {
        for (s, why) in [
            ("", "not a duration"),
            ("5", "without a unit"),
            ("5d", "unknown unit"),
            ("-1s", "negative"),
            ("s", "not a duration"),
            (".s", "not a duration"),
            ("1h 30m", "unknown unit"),
            ("3000000h", "too long"),
        ] {
            let e = parse_duration(s).expect_err(s);
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
