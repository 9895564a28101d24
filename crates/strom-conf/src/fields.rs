//! Reading typed values out of the tree, collecting every error and warning on the way.
//!
//! nats-server reports all the problems of a configuration at once, so the typed layer does
//! not stop at the first one: each getter records what is wrong in a [`Report`] and returns
//! `None`, and the caller carries on.

use std::time::Duration;

use crate::duration::parse_duration;
use crate::error::{ConfError, ConfWarning};
use crate::suggest::{self, Place};
use crate::value::{Entry, Map, Value, ValueKind};

/// A listen address: `4222` (port only) or `"host:port"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The host, `None` when only a port was given (nats-server then listens on all
    /// interfaces). May be empty for `":4222"`.
    pub host: Option<String>,
    /// The port; 0 picks a free port, -1 a random one, as in nats-server.
    pub port: i32,
}

/// Errors and warnings found so far.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub errors: Vec<ConfError>,
    pub warnings: Vec<ConfWarning>,
}

const SIZE: &str = "a size without quotes, e.g. 1MB (= 1048576) or 1M (= 1000000)";
const DURATION: &str =
    "a duration in quotes, e.g. \"30s\" or \"2m\" (a bare 2m is the size 2000000)";
const HOST_PORT: &str = "a port or \"host:port\", e.g. 8222 or \"0.0.0.0:8222\"";

impl Report {
    pub fn wrong_type(&mut self, e: &Entry, expected: impl Into<String>) {
        self.wrong_value_type(&e.key, &e.value, expected);
    }

    pub fn wrong_value_type(&mut self, field: &str, v: &Value, expected: impl Into<String>) {
        let mut expected = expected.into();
        if matches!(
            v.kind,
            ValueKind::Integer(_) | ValueKind::Float(_) | ValueKind::Bool(_)
        ) && expected == "a string"
        {
            expected.push_str(" (put the value in quotes)");
        }
        self.errors.push(ConfError::WrongType {
            at: v.at.clone(),
            field: field.to_string(),
            expected,
            found: v.describe(),
        });
    }

    pub fn invalid(&mut self, e: &Entry, message: impl Into<String>) {
        self.errors.push(ConfError::InvalidValue {
            at: e.value.at.clone(),
            field: e.key.clone(),
            message: message.into(),
        });
    }

    pub fn warn(&mut self, e: &Entry, message: impl Into<String>) {
        self.warnings.push(ConfWarning {
            at: e.value.at.clone(),
            field: e.key.clone(),
            message: message.into(),
        });
    }

    /// An unknown field, unless it was used as a `$VAR` (nats-server allows those anywhere).
    pub fn unknown(&mut self, e: &Entry, place: Place, known: &[&str]) {
        if e.used_as_variable {
            return;
        }
        self.errors.push(ConfError::UnknownField {
            at: e.key_at.clone(),
            field: e.key.clone(),
            place: place.name().to_string(),
            hint: suggest::hint(&e.key, place, known),
        });
    }

    pub fn string(&mut self, e: &Entry) -> Option<String> {
        match &e.value.kind {
            ValueKind::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(e, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, e: &Entry) -> Option<bool> {
        match e.value.kind {
            ValueKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(e, "true or false (without quotes)");
                None
            }
        }
    }

    /// An integer; `example` completes "e.g. `key: ...`".
    pub fn integer(&mut self, e: &Entry, example: &str) -> Option<i64> {
        match e.value.kind {
            ValueKind::Integer(n) => Some(n),
            _ => {
                self.wrong_type(
                    e,
                    format!("an integer without quotes, e.g. `{}: {example}`", e.key),
                );
                None
            }
        }
    }

    /// A size in bytes, at least 0.
    pub fn size(&mut self, e: &Entry) -> Option<u64> {
        let ValueKind::Integer(n) = e.value.kind else {
            self.wrong_type(e, SIZE);
            return None;
        };
        match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.invalid(e, format!("{n} is negative; sizes must be 0 or more"));
                None
            }
        }
    }

    /// A size that nats-server keeps in an `int32`.
    pub fn size_i32(&mut self, e: &Entry) -> Option<u32> {
        let n = self.size(e)?;
        match u32::try_from(n) {
            Ok(n) if n <= i32::MAX as u32 => Some(n),
            _ => {
                self.invalid(
                    e,
                    format!("{n} is too big; the limit is {} (2GB - 1)", i32::MAX),
                );
                None
            }
        }
    }

    pub fn port(&mut self, e: &Entry) -> Option<i32> {
        let n = self.integer(e, "4222")?;
        self.port_number(e, n)
    }

    fn port_number(&mut self, e: &Entry, n: i64) -> Option<i32> {
        match i32::try_from(n) {
            Ok(p) if (-1..=65535).contains(&p) => Some(p),
            _ => {
                self.invalid(
                    e,
                    format!("{n} is not a port; use 1 to 65535, 0 for any free port or -1 for a random one"),
                );
                None
            }
        }
    }

    /// `listen`, `http`, `https`: a port, or "host:port" as Go's `net.SplitHostPort` reads it.
    pub fn host_port(&mut self, e: &Entry) -> Option<HostPort> {
        match &e.value.kind {
            ValueKind::Integer(n) => Some(HostPort {
                host: None,
                port: self.port_number(e, *n)?,
            }),
            ValueKind::String(s) => {
                let Some((host, port)) = split_host_port(s) else {
                    self.invalid(
                        e,
                        format!("could not parse address string {s:?}; write a port or \"host:port\", e.g. 8222 or \"0.0.0.0:8222\""),
                    );
                    return None;
                };
                let Ok(n) = port.parse::<i64>() else {
                    self.invalid(
                        e,
                        format!("could not parse port {port:?} in {s:?}; write \"host:port\" with a numeric port"),
                    );
                    return None;
                };
                Some(HostPort {
                    host: Some(host.to_string()),
                    port: self.port_number(e, n)?,
                })
            }
            _ => {
                self.wrong_type(e, HOST_PORT);
                None
            }
        }
    }

    /// A duration string.
    pub fn duration(&mut self, e: &Entry) -> Option<Duration> {
        let ValueKind::String(s) = &e.value.kind else {
            self.wrong_type(e, DURATION);
            return None;
        };
        match parse_duration(s) {
            Ok(d) => Some(d),
            Err(message) => {
                self.invalid(e, message);
                None
            }
        }
    }

    /// A duration string, or (as older nats-server configurations have it) an integer number
    /// of seconds, which nats-server accepts with a warning.
    pub fn duration_or_seconds(&mut self, e: &Entry) -> Option<Duration> {
        let ValueKind::Integer(n) = e.value.kind else {
            return self.duration(e);
        };
        let Ok(secs) = u64::try_from(n) else {
            self.invalid(
                e,
                format!("{n} is negative; durations here must be positive"),
            );
            return None;
        };
        self.warn(
            e,
            format!("the number {n} is taken as {n} seconds; nats-server warns about plain numbers here (and `nats-server -t` refuses them): write a quoted duration such as \"{n}s\" (a bare 2m is the number 2000000, not two minutes)"),
        );
        Some(Duration::from_secs(secs))
    }

    pub fn map<'v>(&mut self, e: &'v Entry, example: &str) -> Option<&'v Map> {
        match &e.value.kind {
            ValueKind::Map(m) => Some(m),
            _ => {
                self.wrong_type(e, format!("a block, e.g. `{} {{ {example} }}`", e.key));
                None
            }
        }
    }
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port`, `:port`.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return (!port.contains(':') && !host.contains(['[', ']'])).then_some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':') && !host.contains(['[', ']'])).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Position;
    use std::sync::Arc;

    fn entry(key: &str, kind: ValueKind) -> Entry {
        let at = Position::new(Arc::from("t.conf"), 1, 1);
        Entry {
            key: key.to_string(),
            key_at: at.clone(),
            value: Value::new(kind, at),
            used_as_variable: false,
        }
    }

    #[test]
    fn host_port_forms() {
        let mut r = Report::default();
        let s = |v: &str| entry("listen", ValueKind::String(v.into()));
        assert_eq!(
            r.host_port(&s("0.0.0.0:4222")),
            Some(HostPort {
                host: Some("0.0.0.0".into()),
                port: 4222
            })
        );
        assert_eq!(
            r.host_port(&s("[::1]:4222")).and_then(|h| h.host),
            Some("::1".into())
        );
        assert_eq!(
            r.host_port(&s(":4222")).and_then(|h| h.host),
            Some(String::new())
        );
        assert_eq!(
            r.host_port(&entry("listen", ValueKind::Integer(4222))),
            Some(HostPort {
                host: None,
                port: 4222
            })
        );
        assert!(r.errors.is_empty());
        for bad in ["8222", "localhost", "::1:4222", "h:x", "h:70000"] {
            assert_eq!(r.host_port(&s(bad)), None, "{bad}");
        }
        assert_eq!(r.errors.len(), 5);
    }

    #[test]
    fn wrong_types_name_field_and_expectation() {
        let mut r = Report::default();
        assert_eq!(
            r.port(&entry("port", ValueKind::String("abc".into()))),
            None
        );
        assert_eq!(r.size(&entry("max_payload", ValueKind::Bool(true))), None);
        assert_eq!(r.string(&entry("server_name", ValueKind::Integer(5))), None);
        let texts: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        assert!(
            texts[0].contains("`port` must be an integer"),
            "{}",
            texts[0]
        );
        assert!(texts[0].contains("the string \"abc\""), "{}", texts[0]);
        assert!(
            texts[1].contains("`max_payload` must be a size"),
            "{}",
            texts[1]
        );
        assert!(texts[2].contains("put the value in quotes"), "{}", texts[2]);
    }

    #[test]
    fn sizes_and_durations() {
        let mut r = Report::default();
        assert_eq!(
            r.size_i32(&entry("max_payload", ValueKind::Integer(3 << 30))),
            None
        );
        assert_eq!(r.size(&entry("max_pending", ValueKind::Integer(-1))), None);
        let d = r.duration_or_seconds(&entry("ping_interval", ValueKind::Integer(5)));
        assert_eq!(d, Some(Duration::from_secs(5)));
        assert_eq!(r.warnings.len(), 1);
        let d = r.duration(&entry("write_deadline", ValueKind::String("10s".into())));
        assert_eq!(d, Some(Duration::from_secs(10)));
        assert_eq!(
            r.duration(&entry("write_deadline", ValueKind::Integer(10))),
            None
        );
        assert_eq!(r.errors.len(), 3);
    }
}
