//! The consumer a mirror or source asks its origin for, as nats-server asks: a push
//! consumer with flow control and idle heartbeats, no acks, marked `direct` and `sourcing`,
//! created through the JetStream API (`$JS.API.CONSUMER.CREATE…`, or the external API
//! prefix), so that an origin in another account or domain answers the same way.

use serde::{Deserialize, Serialize};

use super::link::Link;
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use crate::jetstream::errors::ApiError;
use crate::jetstream::source_config::get_hash;
use crate::jetstream::wire;

/// nats-server's values for a sourcing consumer.
const ACK_WAIT: i64 = 22 * 3600 * 1_000_000_000;
const HEARTBEAT: i64 = 1_000_000_000;
const INACTIVE: i64 = 10_000_000_000;

/// Where the consumer starts.
pub enum Start {
    All,
    Seq(u64),
    Time(String),
}

/// What the stream asking is.
pub struct Asker<'a> {
    pub stream: &'a str,
    pub account: &'a str,
    pub domain: Option<&'a str>,
    /// How many sources of the stream name this link's origin.
    pub same_origin: usize,
}

#[derive(Serialize)]
struct CreateRequest<'a> {
    stream_name: &'a str,
    config: ConsumerConfig,
    action: &'static str,
}

/// A request ready to publish.
pub struct Request {
    pub subject: String,
    pub headers: Vec<u8>,
    pub body: Vec<u8>,
    pub deliver: String,
}

/// The consumer name a stream asks for: `JS_MIRROR_<hash>` or `JS_SRC_<hash>`.
pub fn consumer_name(link: &Link, asker: &Asker<'_>) -> String {
    let base = match asker.domain {
        Some(d) => format!("{} {} {d}", asker.stream, asker.account),
        None => format!("{} {}", asker.stream, asker.account),
    };
    let id = get_hash(&base);
    if link.mirror {
        return format!("JS_MIRROR_{id}");
    }
    let h = if asker.same_origin > 1 && link.source.external.is_none() {
        get_hash(&format!("{id} {}", link.iname))
    } else {
        get_hash(&id)
    };
    format!("JS_SRC_{h}")
}

/// The API prefix requests go to: `$JS.API` or the external one.
pub fn api_prefix(link: &Link) -> String {
    link.source
        .external
        .as_ref()
        .map(|e| e.api.trim_end_matches('.').to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "$JS.API".to_string())
}

/// Builds the consumer create request for `link`, starting at `start`.
pub fn build(link: &Link, asker: &Asker<'_>, start: Start, ident: &str) -> Request {
    let name = consumer_name(link, asker);
    let kind = if link.mirror { "M" } else { "S" };
    let prefix = link
        .source
        .external
        .as_ref()
        .map(|e| e.deliver.trim_end_matches('.'))
        .filter(|p| !p.is_empty())
        .map_or_else(|| format!("$JS.{kind}"), |p| format!("{p}.{kind}"));
    let deliver = format!("{prefix}.{}", wire::random_token(8));
    let filters = link.source.filters();
    let mut cfg = ConsumerConfig {
        name: name.clone(),
        ack_policy: AckPolicy::None,
        ack_wait: ACK_WAIT,
        max_deliver: 1,
        flow_control: true,
        deliver_subject: deliver.clone(),
        idle_heartbeat: HEARTBEAT,
        inactive_threshold: INACTIVE,
        direct: true,
        sourcing: true,
        ..ConsumerConfig::default()
    };
    match start {
        Start::All => cfg.deliver_policy = DeliverPolicy::All,
        Start::Seq(s) => {
            cfg.deliver_policy = DeliverPolicy::ByStartSequence;
            cfg.opt_start_seq = s as i64;
        }
        Start::Time(t) => {
            cfg.deliver_policy = DeliverPolicy::ByStartTime;
            cfg.opt_start_time = Some(t);
        }
    }
    let (key, role) = if link.mirror {
        ("_nats.mirror", 4)
    } else {
        ("_nats.src", 5)
    };
    cfg.metadata
        .insert(format!("{key}.acc"), asker.account.to_string());
    cfg.metadata
        .insert(format!("{key}.stream"), asker.stream.to_string());
    if let Some(d) = asker.domain {
        cfg.metadata.insert(format!("{key}.domain"), d.to_string());
    }
    let api = api_prefix(link);
    let origin = &link.source.name;
    let subject = match filters.as_slice() {
        [one] => {
            cfg.filter_subject = one.clone();
            format!("{api}.CONSUMER.CREATE.{origin}.{name}.{one}")
        }
        [] => format!("{api}.CONSUMER.CREATE.{origin}"),
        many => {
            cfg.filter_subjects = many.to_vec();
            format!("{api}.CONSUMER.CREATE.{origin}")
        }
    };
    let mut headers = strom_proto::headers::Builder::new()
        .add("Nats-Required-Api-Level", role.to_string().as_bytes());
    if !link.mirror {
        headers = headers.add("Nats-Stream-Identity", ident.as_bytes());
    }
    let body = serde_json::to_vec(&CreateRequest {
        stream_name: origin,
        config: cfg,
        action: "",
    })
    .unwrap_or_default();
    Request {
        subject,
        headers: headers.finish(),
        body,
        deliver,
    }
}

/// The parts of a consumer create answer a link uses.
#[derive(Deserialize, Default)]
pub struct Answer {
    #[serde(default)]
    pub error: Option<AnswerError>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub config: Option<AnswerConfig>,
    #[serde(default)]
    pub delivered: Option<Delivered>,
}

#[derive(Deserialize, Default)]
pub struct AnswerError {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub err_code: u16,
    #[serde(default)]
    pub description: String,
}

impl AnswerError {
    pub fn api(&self) -> ApiError {
        ApiError {
            code: self.code,
            err_code: self.err_code,
            description: self.description.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct AnswerConfig {
    #[serde(default)]
    pub deliver_subject: String,
    /// Set when the origin made the consumer durable (interest and work-queue origins).
    #[serde(default)]
    pub durable_name: String,
}

#[derive(Deserialize, Default)]
pub struct Delivered {
    #[serde(default)]
    pub stream_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::source_config::{StreamSource, SubjectTransformConfig};

    fn link(source: StreamSource, mirror: bool) -> Link {
        let (tx, _rx) = std::sync::mpsc::channel();
        Link::new(source, mirror, tx)
    }

    fn source(name: &str) -> StreamSource {
        StreamSource {
            name: name.into(),
            ..StreamSource::default()
        }
    }

    #[test]
    fn consumer_names_as_nats_server_makes_them() {
        let asker = Asker {
            stream: "MIR",
            account: "$G",
            domain: None,
            same_origin: 1,
        };
        // Hashes captured from nats-server 2.15.1's requests.
        assert_eq!(
            consumer_name(&link(source("ORIGIN"), true), &asker),
            "JS_MIRROR_L9fwEMNd"
        );
        let mut filtered = source("ORIGIN");
        filtered.filter_subject = "o.a.>".into();
        let asker = Asker {
            stream: "SRC",
            same_origin: 2,
            ..asker
        };
        assert_eq!(
            consumer_name(&link(filtered, false), &asker),
            "JS_SRC_Jr5Dr9Zo"
        );
    }

    #[test]
    fn requests_name_one_filter_in_the_subject() {
        let asker = Asker {
            stream: "S",
            account: "$G",
            domain: None,
            same_origin: 1,
        };
        let mut s = source("O");
        s.subject_transforms = vec![SubjectTransformConfig {
            src: "o.b.>".into(),
            dest: "bb.>".into(),
        }];
        let r = build(&link(s, false), &asker, Start::Seq(4), "ID");
        assert!(r.subject.starts_with("$JS.API.CONSUMER.CREATE.O.JS_SRC_"));
        assert!(r.subject.ends_with(".o.b.>"));
        assert!(r.deliver.starts_with("$JS.S."));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["config"]["filter_subject"], "o.b.>");
        assert_eq!(body["config"]["opt_start_seq"], 4);
        assert_eq!(body["config"]["deliver_policy"], "by_start_sequence");
        assert_eq!(body["config"]["direct"], true);
        assert_eq!(body["config"]["sourcing"], true);
        assert_eq!(
            strom_proto::headers::get(&r.headers, b"Nats-Stream-Identity"),
            Some(&b"ID"[..])
        );
        let mut m = source("O");
        m.external = Some(crate::jetstream::source_config::ExternalStream {
            api: "$JS.hub.API".into(),
            deliver: "dlv.hub".into(),
        });
        let r = build(&link(m, true), &asker, Start::All, "");
        assert_eq!(r.subject, "$JS.hub.API.CONSUMER.CREATE.O");
        assert!(r.deliver.starts_with("dlv.hub.M."));
    }
}
