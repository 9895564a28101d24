//! The monitoring endpoints asked over the system account, as `nats server ls/report/check`
//! ask them: `$SYS.REQ.SERVER.PING.<EP>` (every server answers), `$SYS.REQ.SERVER.<id>.<EP>`
//! (this one) and `$SYS.REQ.ACCOUNT.<account>.<EP>`. The request body is the endpoint's
//! options as JSON plus nats-server's server filter (`server_name`, `host`, `cluster`,
//! `tags`, `domain`, `exact_match`); a server the filter leaves out does not answer. The
//! reply is `{"server": …, "data": …}`, or `"error": {"code", "description"}` with 400 for
//! a body that is not the options' JSON and 500 for an endpoint that failed.

use serde::Deserialize;

use super::{accountz, cluster, connz, jsz, subsz, varz};
use crate::server::Shared;

/// What a request asks of this server.
pub enum Reply {
    /// `data` for the envelope.
    Data(Vec<u8>),
    /// The envelope's error: nats-server's HTTP-like code and text.
    Error(u16, String),
    /// A body that needs no envelope (`IDZ`).
    Bare(Vec<u8>),
    /// No answer: the request's filter leaves this server out. It was still heard, so the
    /// requester gets no "no responders".
    Silent,
}

/// nats-server's `EventFilterOptions`, which every request body may carry.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Filter {
    server_name: String,
    host: String,
    cluster: String,
    exact_match: bool,
    tags: Vec<String>,
    domain: String,
}

impl Filter {
    /// Whether this server is among those the filter selects.
    fn selects(&self, s: &Shared) -> bool {
        let fits = |want: &str, have: &str| {
            want.is_empty()
                || if self.exact_match {
                    want == have
                } else {
                    have.contains(want)
                }
        };
        // A single server has no cluster name and no tags: filters on them leave it out.
        fits(&self.server_name, &s.server_name)
            && fits(&self.host, &s.opts.host)
            && self.cluster.is_empty()
            && self.tags.is_empty()
            && (self.domain.is_empty() || s.opts.js_domain.as_deref() == Some(&self.domain))
    }
}

/// Whether a request body's server filter (`server_name`, `host`, ...) selects this server;
/// an empty body selects every server. The error is why the body could not be read.
pub fn selected_by(s: &Shared, body: &[u8]) -> Result<bool, String> {
    super::request_options::<Filter>(body).map(|f| f.selects(s))
}

/// `ACCOUNTZ`'s options.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AccountzOptions {
    account: String,
}

/// `$SYS.REQ.ACCOUNT.<account>.STATZ`'s and `$SYS.REQ.ACCOUNT.PING.STATZ`'s options.
#[derive(Deserialize, Default)]
#[serde(default)]
struct StatzOptions {
    /// PING only: the accounts to report (all when empty).
    accounts: Vec<String>,
    include_unused: bool,
}

/// The endpoint a subject names, and the account for `$SYS.REQ.ACCOUNT.<account>.<EP>`;
/// `None` when the subject is not a monitoring request to this server.
fn route<'a>(s: &Shared, subject: &'a str) -> Option<(&'a str, Option<&'a str>)> {
    let rest = subject.strip_prefix("$SYS.REQ.")?;
    let mut tokens = rest.split('.');
    let (kind, target, endpoint) = (tokens.next()?, tokens.next()?, tokens.next()?);
    if tokens.next().is_some() {
        return None;
    }
    match kind {
        "SERVER" if target == "PING" || target == s.server_id => Some((endpoint, None)),
        "ACCOUNT" if target != "PING" => Some((endpoint, Some(target))),
        // Every account's statistics (the only account PING nats-server answers).
        "ACCOUNT" if endpoint == "STATZ" => Some(("ACCOUNTS_STATZ", None)),
        _ => None,
    }
}

/// Answers a monitoring request on `subject` with `body`; `None` when it is not one this
/// server serves.
pub fn answer(s: &Shared, subject: &str, body: &[u8]) -> Option<Reply> {
    let (endpoint, account) = route(s, subject)?;
    let served = match account {
        None => matches!(
            endpoint,
            "IDZ"
                | "VARZ"
                | "CONNZ"
                | "SUBSZ"
                | "JSZ"
                | "HEALTHZ"
                | "ROUTEZ"
                | "GATEWAYZ"
                | "LEAFZ"
                | "ACCOUNTZ"
                | "ACCOUNTS_STATZ"
        ),
        Some(_) => matches!(endpoint, "CONNZ" | "SUBSZ" | "JSZ" | "LEAFZ" | "STATZ"),
    };
    if !served {
        return None;
    }
    if endpoint == "IDZ" {
        let id = serde_json::json!({
            "name": s.server_name,
            "host": s.opts.host,
            "id": s.server_id,
        });
        return Some(Reply::Bare(serde_json::to_vec(&id).unwrap_or_default()));
    }
    match super::request_options::<Filter>(body) {
        Err(e) => return Some(Reply::Error(400, e)),
        Ok(f) if !f.selects(s) => return Some(Reply::Silent),
        Ok(_) => {}
    }
    let bad = |e: String| Reply::Error(400, e);
    let failed = |e: String| Reply::Error(500, e);
    Some(match endpoint {
        "VARZ" => Reply::Data(varz::varz(s)),
        "HEALTHZ" => match super::request_options::<super::healthz::Options>(body) {
            Ok(o) => Reply::Data(super::healthz::healthz(s, &o).body(true)),
            Err(e) => bad(e),
        },
        "ROUTEZ" => Reply::Data(cluster::body(s, "/routez")),
        "GATEWAYZ" => Reply::Data(cluster::body(s, "/gatewayz")),
        "LEAFZ" => Reply::Data(cluster::body(s, "/leafz")),
        "ACCOUNTZ" => match super::request_options::<AccountzOptions>(body) {
            Ok(o) => accountz::accountz(s, &o.account).map_or_else(failed, Reply::Data),
            Err(e) => bad(e),
        },
        "ACCOUNTS_STATZ" => match super::request_options::<StatzOptions>(body) {
            Err(e) => bad(e),
            Ok(o) => {
                let (stats, n) = accountz::accstatz_for(s, &o.accounts, o.include_unused);
                if n == 0 && !o.include_unused {
                    return Some(Reply::Silent);
                }
                Reply::Data(stats)
            }
        },
        "STATZ" => match super::request_options::<StatzOptions>(body) {
            Err(e) => bad(e),
            Ok(o) => {
                let only = [account.unwrap_or_default().to_string()];
                let (stats, n) = accountz::accstatz_for(s, &only, o.include_unused);
                // nats-server stays silent about an account with nothing to report.
                if n == 0 && !o.include_unused {
                    return Some(Reply::Silent);
                }
                Reply::Data(stats)
            }
        },
        "CONNZ" => match connz::Options::from_json(body, account) {
            Ok(o) => connz::connz(s, &o).map_or_else(failed, Reply::Data),
            Err((code, e)) => Reply::Error(code, e),
        },
        "SUBSZ" => match subsz::Options::from_json(body, account) {
            Ok(o) => subsz::subsz(s, &o).map_or_else(failed, Reply::Data),
            Err(e) => bad(e),
        },
        _ => match (jsz::Options::from_json(body, account), s.jetstream()) {
            (Err(e), _) => bad(e),
            (Ok(_), None) if account.is_some() => failed("jetstream not enabled".into()),
            (Ok(_), None) => Reply::Data(jsz::disabled(s)),
            (Ok(o), Some(js)) if account.is_some() => {
                jsz::account_jsz(s, js, &o).map_or_else(failed, Reply::Data)
            }
            (Ok(o), Some(js)) => Reply::Data(jsz::jsz(s, js, &o)),
        },
    })
}
