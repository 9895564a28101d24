//! nats-server's command line, read the way Go's `flag` package reads it.
//!
//! nats-server accepts `-port 4222`, `--port 4222`, `-port=4222` and `--port=4222` alike, and
//! multi-letter short forms such as `-js`, `-sd` and `-DV`. clap cannot express that without
//! changing what existing scripts and Helm charts pass, so this small reader keeps Go's rules:
//! one or two dashes, `=value` or the next argument for value flags, `=true|false` for switches,
//! and flags end at the first non-flag argument or `--`.

use std::collections::HashMap;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Switch,
    Value,
    /// A value Go reads as an integer (`flag.Int64Var`): refused at parse time otherwise.
    Int,
}

/// One flag: all its names, and what it is for in `--help`.
pub struct FlagDef {
    pub names: &'static [&'static str],
    pub kind: Kind,
    /// The issue that will serve it, when Strom accepts the flag but does not act on it yet.
    pub not_yet: Option<&'static str>,
}

/// The flags nats-server 2.15 accepts, with the canonical name first.
pub const FLAGS: &[FlagDef] = &[
    v(&["addr", "a", "net"]),
    v(&["port", "p"]),
    v(&["name", "n", "server_name"]),
    v(&["pid", "P"]),
    v(&["http_port", "m"]),
    v(&["https_port", "ms"]),
    v(&["config", "c"]),
    s(&["t"]),
    v(&["signal", "sl"]),
    later(
        &["client_advertise"],
        Kind::Value,
        "client advertise URLs (clustering)",
    ),
    v(&["ports_file_dir"]),
    v(&["log", "l"]),
    s(&["logtime", "T"]),
    s(&["logtime_utc"]),
    later(&["syslog", "s"], Kind::Switch, "syslog output"),
    later(&["remote_syslog", "r"], Kind::Value, "remote syslog output"),
    s(&["debug", "D"]),
    s(&["trace", "V"]),
    s(&["VV"]),
    s(&["DV"]),
    s(&["DVV"]),
    i(&["log_size_limit"]),
    i(&["max_traced_msg_len"]),
    // Strom's own: nats-server has no JSON logging.
    v(&["log_format"]),
    s(&["jetstream", "js"]),
    v(&["store_dir", "sd"]),
    v(&["user"]),
    v(&["pass"]),
    v(&["auth"]),
    s(&["tls"]),
    v(&["tlscert"]),
    v(&["tlskey"]),
    s(&["tlsverify"]),
    v(&["tlscacert"]),
    later(&["routes"], Kind::Value, "clustering"),
    later(&["cluster"], Kind::Value, "clustering"),
    later(&["cluster_name"], Kind::Value, "clustering"),
    later(&["no_advertise"], Kind::Switch, "clustering"),
    later(&["cluster_advertise"], Kind::Value, "clustering"),
    later(&["connect_retries"], Kind::Value, "clustering"),
    later(&["cluster_listen"], Kind::Value, "clustering"),
    later(&["profile"], Kind::Value, "the profiling port"),
    s(&["help", "h"]),
    s(&["version", "v"]),
    s(&["help_tls"]),
];

const fn v(names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        names,
        kind: Kind::Value,
        not_yet: None,
    }
}

const fn i(names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        names,
        kind: Kind::Int,
        not_yet: None,
    }
}

const fn s(names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        names,
        kind: Kind::Switch,
        not_yet: None,
    }
}

const fn later(names: &'static [&'static str], kind: Kind, what: &'static str) -> FlagDef {
    FlagDef {
        names,
        kind,
        not_yet: Some(what),
    }
}

/// The flags given, by canonical name, in order; later values win as in Go.
#[derive(Debug, Default)]
pub struct Parsed {
    values: HashMap<&'static str, String>,
    /// Canonical names of flags given that are accepted but not served yet, with what they need.
    pub not_yet: Vec<(String, &'static str)>,
    /// Arguments after the flags.
    pub rest: Vec<String>,
    /// Whether the `server` subcommand was named.
    pub subcommand: bool,
}

impl Parsed {
    /// The value of a value flag.
    pub fn value(&self, canonical: &str) -> Option<&str> {
        self.values.get(canonical).map(String::as_str)
    }

    /// The value of an integer flag (checked when parsed).
    pub fn int(&self, canonical: &str) -> Option<i64> {
        self.values.get(canonical).and_then(|v| parse_go_int(v))
    }

    /// Whether a switch was given (and not `=false`).
    pub fn switch(&self, canonical: &str) -> bool {
        self.values.get(canonical).is_some_and(|v| v == "true")
    }
}

/// Why the command line was refused; the text matches Go's flag package.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    Undefined(String),
    MissingValue(String),
    BadBool { flag: String, value: String },
    BadValue { flag: String, value: String },
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagError::Undefined(n) => write!(f, "flag provided but not defined: -{n}"),
            FlagError::MissingValue(n) => write!(f, "flag needs an argument: -{n}"),
            FlagError::BadBool { flag, value } => write!(
                f,
                "invalid boolean value \"{value}\" for -{flag}: parse error"
            ),
            FlagError::BadValue { flag, value } => {
                write!(f, "invalid value \"{value}\" for flag -{flag}: parse error")
            }
        }
    }
}

fn find(name: &str) -> Option<&'static FlagDef> {
    FLAGS.iter().find(|d| d.names.contains(&name))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An integer as Go's `strconv.ParseInt(s, 0, 64)` reads it: an optional sign, then
/// decimal, `0x` hexadecimal, `0o` or leading-`0` octal, or `0b` binary, with `_` allowed
/// between digits and after a base prefix.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.contains('_') && !underscores_ok(body) {
        return None;
    }
    let plain: String = body.chars().filter(|&c| c != '_').collect::<String>();
    let lower = plain.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `underscoreOK`: each `_` follows a digit or the base prefix and precedes a digit.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    // What came last: a digit (or base prefix), an underscore, or something else.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'x' | b'o' | b'b') {
        hex = b[1] | 0x20 == b'x';
        saw = b'0';
        i = 2;
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Reads the arguments (without the program name).
///
/// # Errors
/// A [`FlagError`] for an unknown flag, a value flag without its value, or a bad boolean.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.rest.extend(args.by_ref());
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            // `strom server [flags]`: the subcommand may sit among the flags.
            if arg == "server" && !out.subcommand {
                out.subcommand = true;
                continue;
            }
            out.rest.push(arg);
            out.rest.extend(args.by_ref());
            break;
        };
        if body.is_empty() {
            out.rest.push(arg);
            out.rest.extend(args.by_ref());
            break;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let def = find(name).ok_or_else(|| FlagError::Undefined(name.to_string()))?;
        let canonical = def.names[0];
        let value = match def.kind {
            Kind::Switch => match inline {
                None => "true".to_string(),
                Some(v) => match parse_bool(&v) {
                    Some(b) => b.to_string(),
                    None => {
                        return Err(FlagError::BadBool {
                            flag: name.to_string(),
                            value: v,
                        })
                    }
                },
            },
            Kind::Value | Kind::Int => match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| FlagError::MissingValue(name.to_string()))?,
            },
        };
        if def.kind == Kind::Int && parse_go_int(&value).is_none() {
            return Err(FlagError::BadValue {
                flag: name.to_string(),
                value,
            });
        }
        if let Some(what) = def.not_yet {
            if !out.not_yet.iter().any(|(n, _)| n == canonical) {
                out.not_yet.push((canonical.to_string(), what));
            }
        }
        out.values.insert(canonical, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, FlagError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_flag_forms_are_all_accepted() {
        let f = p(&["-p", "4333", "--addr=127.0.0.1", "-DV", "--name", "x"]).expect("valid");
        assert_eq!(f.value("port"), Some("4333"));
        assert_eq!(f.value("addr"), Some("127.0.0.1"));
        assert_eq!(f.value("name"), Some("x"));
        assert!(f.switch("DV"));
        let f = p(&[
            "-port=1",
            "--server_name=y",
            "-js",
            "-sd",
            "/tmp/x",
            "--tls",
        ])
        .expect("valid");
        assert_eq!(f.value("port"), Some("1"));
        assert_eq!(f.value("name"), Some("y"));
        assert!(f.switch("jetstream"));
        assert!(f.not_yet.is_empty(), "JetStream flags are served");
    }

    #[test]
    fn switches_take_only_inline_values() {
        let f = p(&["-D=false", "-T", "rest"]).expect("valid");
        assert!(!f.switch("debug"));
        assert!(f.switch("logtime"));
        assert_eq!(f.rest, vec!["rest".to_string()]);
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            p(&["-max_payload", "1"]).unwrap_err().to_string(),
            "flag provided but not defined: -max_payload"
        );
        assert_eq!(
            p(&["-p"]).unwrap_err().to_string(),
            "flag needs an argument: -p"
        );
        assert!(matches!(p(&["-D=maybe"]), Err(FlagError::BadBool { .. })));
        // nats-server: `invalid value "1KB" for flag -log_size_limit: parse error`.
        assert_eq!(
            p(&["--log_size_limit", "1KB"]).unwrap_err().to_string(),
            "invalid value \"1KB\" for flag -log_size_limit: parse error"
        );
    }

    #[test]
    fn integer_flags_read_as_go_reads_them() {
        let f = p(&["--log_size_limit=0x400", "--max_traced_msg_len", "16"]).expect("valid");
        assert_eq!(f.int("log_size_limit"), Some(1024));
        assert_eq!(f.int("max_traced_msg_len"), Some(16));
        assert!(f.not_yet.is_empty(), "served");
        for (text, want) in [
            ("1024", Some(1024)),
            ("-5", Some(-5)),
            ("+7", Some(7)),
            ("010", Some(8)),
            ("0b101", Some(5)),
            ("0x_1F", Some(31)),
            ("1_000", Some(1000)),
            ("_1", None),
            ("1__0", None),
            ("", None),
            ("--1", None),
            ("9223372036854775808", None),
            ("-9223372036854775808", Some(i64::MIN)),
        ] {
            assert_eq!(parse_go_int(text), want, "{text:?}");
        }
    }
}
