//! Pull requests (`CONSUMER.MSG.NEXT`): the request forms nats-server accepts and the status
//! frames it answers with.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use crate::jetstream::stream_config::null_as_default;

/// `JSApiConsumerGetNextRequest`. A `null` is the zero value, as Go decodes it (async-nats sends
/// `"group":null`, `"min_pending":null` in every request).
#[derive(Debug, Default, Deserialize)]
struct NextJson {
    #[serde(default, deserialize_with = "null_as_default")]
    batch: i64,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    expires: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    max_bytes: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    no_wait: bool,
    /// Nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    idle_heartbeat: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    min_pending: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    min_ack_pending: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    priority: i64,
}

/// A request waiting for messages.
pub struct PullRequest {
    pub reply: Bytes,
    /// Messages still wanted.
    pub batch: i64,
    /// Bytes still allowed (0: no limit).
    pub max_bytes: i64,
    /// Messages delivered to it so far.
    pub delivered: u64,
    pub expires: Option<Instant>,
    pub no_wait: bool,
    pub heartbeat: Option<Duration>,
    pub next_heartbeat: Option<Instant>,
    /// Priority groups: the group, the pin id the requester holds (pinned_client), the
    /// thresholds below which it is passed over (overflow), its priority (prioritized).
    pub group: String,
    pub pin: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    pub priority: i64,
    /// Who receives what is sent to `reply`.
    pub route: super::Route,
}

/// What a request asked for, or why it is refused.
pub enum Parsed {
    Request(Box<PullRequest>),
    /// A status frame to answer with: `NATS/1.0 <code> <text>`.
    Refuse(u16, String),
}

impl PullRequest {
    /// nats-server's `nextReqFromMsg`: an empty body is one message, a number is a batch,
    /// JSON is a full request.
    pub fn parse(reply: Bytes, body: &[u8], now: Instant) -> Parsed {
        let trimmed = body.trim_ascii();
        let mut req = PullRequest {
            reply,
            batch: 1,
            max_bytes: 0,
            delivered: 0,
            expires: None,
            no_wait: false,
            heartbeat: None,
            next_heartbeat: None,
            group: String::new(),
            pin: String::new(),
            min_pending: 0,
            min_ack_pending: 0,
            priority: 0,
            route: super::Route::default(),
        };
        if trimmed.first() == Some(&b'{') {
            let j: NextJson = match serde_json::from_slice(trimmed) {
                Ok(j) => j,
                Err(e) => return Parsed::Refuse(400, format!("Bad Request - {e}")),
            };
            if j.idle_heartbeat > 0 {
                if j.idle_heartbeat.saturating_mul(2) > j.expires {
                    return Parsed::Refuse(400, "Bad Request - heartbeat value too large".into());
                }
                let hb = Duration::from_nanos(j.idle_heartbeat as u64);
                req.heartbeat = Some(hb);
                req.next_heartbeat = Some(now + hb);
            }
            req.batch = j.batch;
            req.max_bytes = j.max_bytes;
            req.no_wait = j.no_wait;
            if j.expires != 0 {
                req.expires = Some(if j.expires > 0 {
                    now + Duration::from_nanos(j.expires as u64)
                } else {
                    now
                });
            }
            req.group = j.group;
            req.pin = j.id;
            req.min_pending = j.min_pending;
            req.min_ack_pending = j.min_ack_pending;
            req.priority = j.priority;
        } else if let Some(n) = std::str::from_utf8(trimmed)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            req.batch = n;
        }
        Parsed::Request(Box::new(req))
    }

    /// `Nats-Pending-Messages` / `Nats-Pending-Bytes` headers of a status frame.
    pub fn pending_headers(&self) -> String {
        format!(
            "Nats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n",
            self.batch, self.max_bytes
        )
    }
}

/// A status frame's header block.
pub fn status(code: u16, text: &str, extra: &str) -> Vec<u8> {
    format!("NATS/1.0 {code} {text}\r\n{extra}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Parsed {
        PullRequest::parse(
            Bytes::from_static(b"_INBOX.x"),
            body.as_bytes(),
            Instant::now(),
        )
    }

    #[test]
    fn request_forms() {
        let Parsed::Request(r) = parse("") else {
            panic!("empty body is one message")
        };
        assert_eq!(r.batch, 1);
        let Parsed::Request(r) = parse(" 5 ") else {
            panic!("a number is a batch")
        };
        assert_eq!(r.batch, 5);
        let Parsed::Request(r) = parse(r#"{"batch":10,"expires":1000000000,"no_wait":true}"#)
        else {
            panic!("json")
        };
        assert_eq!((r.batch, r.no_wait, r.expires.is_some()), (10, true, true));
        let Parsed::Refuse(400, text) =
            parse(r#"{"batch":1,"expires":1000000000,"idle_heartbeat":800000000}"#)
        else {
            panic!("heartbeat too large")
        };
        assert_eq!(text, "Bad Request - heartbeat value too large");
        assert!(matches!(parse("{bad"), Parsed::Refuse(400, _)));
        // async-nats's form: unset options as nulls.
        let Parsed::Request(r) = parse(
            r#"{"batch":3,"expires":1000000000,"max_bytes":0,"min_pending":null,"min_ack_pending":null,"group":null}"#,
        ) else {
            panic!("nulls are zero values")
        };
        assert_eq!((r.batch, r.group.as_str()), (3, ""));
    }

    #[test]
    fn status_frames() {
        assert_eq!(
            status(404, "No Messages", ""),
            b"NATS/1.0 404 No Messages\r\n\r\n".to_vec()
        );
    }
}
