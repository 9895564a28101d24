//! The result of a run, printed twice: one JSON object on one line for scripts (the first line
//! of output that starts with `{`), then one line for people.

use std::fmt::Write;

/// A flat JSON object built field by field, in order.
#[derive(Default)]
pub struct Report {
    json: String,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report::default().text("scenario", scenario)
    }

    pub fn text(mut self, key: &str, value: &str) -> Report {
        self.key(key);
        self.json.push('"');
        for c in value.chars() {
            match c {
                '"' => self.json.push_str("\\\""),
                '\\' => self.json.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.json, "\\u{:04x}", c as u32);
                }
                c => self.json.push(c),
            }
        }
        self.json.push('"');
        self
    }

    pub fn int(mut self, key: &str, value: u64) -> Report {
        self.key(key);
        let _ = write!(self.json, "{value}");
        self
    }

    pub fn ints(mut self, key: &str, values: &[u64]) -> Report {
        self.key(key);
        self.json.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.json.push(',');
            }
            let _ = write!(self.json, "{v}");
        }
        self.json.push(']');
        self
    }

    pub fn float(mut self, key: &str, value: f64) -> Report {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.json, "{value:.3}");
        } else {
            self.json.push_str("null");
        }
        self
    }

    fn key(&mut self, key: &str) {
        self.json.push(if self.json.is_empty() { '{' } else { ',' });
        let _ = write!(self.json, "\"{key}\":");
    }

    /// Prints the JSON line, then `human`.
    pub fn print(self, human: &str) {
        println!("{}}}", self.json);
        println!("{human}");
    }
}

/// `1234567.0` as `1.23M`, for the human line.
pub fn si(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.2}G", v / 1e9),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_json_line() {
        let r = Report::new("pub")
            .int("msgs", 3)
            .float("rate", 1.5)
            .ints("per_sub", &[1, 2])
            .text("note", "a\"b");
        assert_eq!(
            r.json + "}",
            r#"{"scenario":"pub","msgs":3,"rate":1.500,"per_sub":[1,2],"note":"a\"b"}"#
        );
    }

    #[test]
    fn formats_rates() {
        assert_eq!(si(2_345_678.0), "2.35M");
        assert_eq!(si(999.0), "999");
    }
}
