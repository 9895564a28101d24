//! `/healthz` and `$SYS.REQ.SERVER.*.HEALTHZ`: health as nats-server judges it on a single
//! server. Healthy means ready for clients and, when JetStream is configured, JetStream
//! running and every stream on disk recovered and writable. `js-enabled-only` and
//! `js-server-only` stop the checks early; `account`, `stream` and `consumer` narrow them to
//! one asset (404 when it is missing); `details` lists every problem instead of the first.
//!
//! nats-server walks the store directory, not its own tables: a stream directory whose stream
//! did not load is a stream that could not be recovered. Strom does the same.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::query::Query;
use crate::server::Shared;

/// What to check (`HealthzOptions`: the query string of `/healthz`, the JSON body of a
/// system-account request).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Options {
    /// Deprecated in nats-server for `js-enabled-only`; still honoured.
    #[serde(rename = "js-enabled")]
    js_enabled: bool,
    #[serde(rename = "js-enabled-only")]
    js_enabled_only: bool,
    #[serde(rename = "js-server-only")]
    js_server_only: bool,
    /// Only meaningful with clustering; accepted.
    #[serde(rename = "js-meta-only")]
    js_meta_only: bool,
    account: String,
    stream: String,
    consumer: String,
    details: bool,
}

impl Options {
    /// The options of `/healthz?...`, or nats-server's 400 text for a bad boolean.
    pub fn parse(query: Option<&str>) -> Result<Options, String> {
        let q = Query::parse(query);
        Ok(Options {
            js_enabled: q.boolean("js-enabled")?,
            js_enabled_only: q.boolean("js-enabled-only")?,
            js_server_only: q.boolean("js-server-only")?,
            js_meta_only: q.boolean("js-meta-only")?,
            details: q.boolean("details")?,
            account: q.get("account").to_string(),
            stream: q.get("stream").to_string(),
            consumer: q.get("consumer").to_string(),
        })
    }

    /// Whether the deprecated `js-enabled` was asked for (nats-server warns about it).
    pub fn deprecated_js_enabled(&self) -> bool {
        self.js_enabled
    }
}

/// nats-server's `HealthzError` types.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Kind {
    BadRequest,
    Jetstream,
    Account,
    Stream,
    Consumer,
}

#[derive(Debug, Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    stream: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    consumer: String,
    error: String,
}

/// nats-server's `HealthStatus`.
#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    /// Left out of the HTTP answer, whose status line carries it.
    #[serde(skip_serializing_if = "is_zero")]
    status_code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Problem>,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl Health {
    pub fn status_code(&self) -> u16 {
        self.status_code
    }

    /// The first problem's words, for the warning nats-server logs.
    pub fn failure(&self) -> Option<String> {
        if !self.error.is_empty() {
            Some(format!("{:?}", self.error))
        } else if !self.errors.is_empty() {
            Some(format!("{} errors", self.errors.len()))
        } else {
            None
        }
    }

    /// The JSON body; `with_code` keeps `status_code` (system-account answers do).
    pub fn body(mut self, with_code: bool) -> Vec<u8> {
        if !with_code {
            self.status_code = 0;
        }
        serde_json::to_vec(&self).unwrap_or_default()
    }
}

const UNAVAILABLE: &str = "unavailable";

/// Collects problems as nats-server does: without `details` the first one decides the
/// answer; with it, each is listed.
struct Checker {
    details: bool,
    health: Health,
}

impl Checker {
    /// Records a problem; true when the check should stop here (no `details`).
    fn fail(&mut self, status: &'static str, p: Problem) -> bool {
        if self.details {
            self.health.errors.push(p);
            false
        } else {
            self.health.status = status;
            self.health.error = p.error;
            true
        }
    }

    /// A problem that replaces everything found so far and ends the check, with `code`.
    fn only(&mut self, code: u16, status: &'static str, p: Problem) {
        self.health.status_code = code;
        if self.details {
            self.health.errors = vec![p];
        } else {
            self.health.status = status;
            self.health.error = p.error;
        }
    }

    fn finish(mut self) -> Health {
        if self.details {
            self.health.status = if self.health.errors.is_empty() {
                "ok"
            } else {
                "error"
            };
        }
        if self.health.status_code == 0 {
            let failed = !self.health.error.is_empty() || !self.health.errors.is_empty();
            self.health.status_code = if failed { 503 } else { 200 };
        }
        self.health
    }
}

/// Go's `%q`.
fn quote(s: &str) -> String {
    crate::log::go_quote(s.as_bytes())
}

fn problem(kind: Kind, account: &str, stream: &str, consumer: &str, error: String) -> Problem {
    Problem {
        kind,
        account: account.to_string(),
        stream: stream.to_string(),
        consumer: consumer.to_string(),
        error,
    }
}

/// Judges the server's health.
pub fn healthz(s: &Shared, o: &Options) -> Health {
    let mut c = Checker {
        details: o.details,
        health: Health {
            status: "ok",
            status_code: 0,
            error: String::new(),
            errors: Vec::new(),
        },
    };
    let bad_request = if o.account.is_empty() && !o.stream.is_empty() {
        Some(format!(
            "{:?} must not be empty when checking stream health",
            "account"
        ))
    } else if o.stream.is_empty() && !o.consumer.is_empty() {
        Some(format!(
            "{:?} must not be empty when checking consumer health",
            "stream"
        ))
    } else {
        None
    };
    if let Some(text) = bad_request {
        c.only(400, "error", problem(Kind::BadRequest, "", "", "", text));
        return c.finish();
    }
    if o.js_server_only || !s.opts.jetstream {
        return c.finish();
    }
    let Some(js) = s.jetstream() else {
        c.health.status_code = 503;
        c.fail(
            UNAVAILABLE,
            problem(Kind::Jetstream, "", "", "", "JetStream not enabled".into()),
        );
        return c.finish();
    };
    if o.js_enabled_only || o.js_enabled {
        return c.finish();
    }
    let _ = o.js_meta_only;
    check_assets(s, js, o, &mut c);
    c.finish()
}

/// Directory names under `dir`, sorted as Go's `os.ReadDir` returns them.
fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Every stream directory on disk must belong to a loaded, writable stream.
fn check_assets(s: &Shared, js: &crate::jetstream::JetStream, o: &Options, c: &mut Checker) {
    let (mut acc_found, mut stream_found, mut consumer_found) = (false, false, false);
    for acc_name in dir_names(&js.root) {
        if !o.account.is_empty() {
            if acc_name != o.account {
                continue;
            }
            acc_found = true;
        }
        let Some(account) = s.account_named(&acc_name) else {
            let text = format!("JetStream account '{acc_name}' could not be resolved");
            if c.fail(UNAVAILABLE, problem(Kind::Account, &acc_name, "", "", text)) {
                return;
            }
            continue;
        };
        let jsa = js.account(&account.name);
        for stream_name in dir_names(&js.root.join(&acc_name).join("streams")) {
            if !o.stream.is_empty() {
                if stream_name != o.stream {
                    continue;
                }
                stream_found = true;
            }
            // A stream being restored fills its directory before it is loaded: not a failure.
            if jsa
                .as_ref()
                .is_some_and(|a| a.restoring.lock().contains(&stream_name))
            {
                continue;
            }
            let stream = jsa
                .as_ref()
                .and_then(|a| a.streams.read().get(&stream_name).cloned());
            let Some(stream) = stream else {
                let text =
                    format!("JetStream stream '{acc_name} > {stream_name}' could not be recovered");
                if c.fail(
                    UNAVAILABLE,
                    problem(Kind::Stream, &acc_name, &stream_name, "", text),
                ) {
                    return;
                }
                continue;
            };
            if let Some(e) = stream.write_error() {
                let text =
                    format!("JetStream stream '{acc_name} > {stream_name}' write error: {e}");
                if c.fail(
                    UNAVAILABLE,
                    problem(Kind::Stream, &acc_name, &stream_name, "", text),
                ) {
                    return;
                }
                continue;
            }
            if stream_found {
                if !o.consumer.is_empty() && stream.consumers.read().contains_key(&o.consumer) {
                    consumer_found = true;
                }
                break;
            }
        }
        if acc_found {
            break;
        }
    }
    if !o.account.is_empty() && !acc_found {
        let text = format!("JetStream account {} not found", quote(&o.account));
        c.only(
            404,
            UNAVAILABLE,
            problem(Kind::Account, &o.account, "", "", text),
        );
    } else if !o.stream.is_empty() && !stream_found {
        let text = format!(
            "JetStream stream {} not found on account {}",
            quote(&o.stream),
            quote(&o.account)
        );
        c.only(
            404,
            UNAVAILABLE,
            problem(Kind::Stream, &o.account, &o.stream, "", text),
        );
    } else if !o.consumer.is_empty() && !consumer_found {
        let text = format!(
            "JetStream consumer {} not found for stream {} on account {}",
            quote(&o.consumer),
            quote(&o.stream),
            quote(&o.account)
        );
        c.only(
            404,
            UNAVAILABLE,
            problem(Kind::Consumer, &o.account, &o.stream, &o.consumer, text),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_booleans_get_gos_words() {
        let e = Options::parse(Some("details=maybe")).expect_err("refused");
        assert_eq!(
            e,
            r#"Error decoding boolean for 'details': strconv.ParseBool: parsing "maybe": invalid syntax"#
        );
        let o = Options::parse(Some("js-enabled-only=1&account=A&stream=S")).expect("parses");
        assert!(o.js_enabled_only && o.account == "A" && o.stream == "S");
    }

    #[test]
    fn problem_types_are_named_as_nats_server_names_them() {
        let p = problem(Kind::BadRequest, "", "", "", "x".into());
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"type":"BAD_REQUEST","error":"x"}"#
        );
        assert_eq!(
            serde_json::to_string(&Kind::Jetstream).expect("json"),
            r#""JETSTREAM""#
        );
    }
}
