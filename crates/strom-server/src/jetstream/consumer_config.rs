//! A consumer's configuration as the JetStream API carries it, with the defaults nats-server
//! fills in (`setConsumerConfigDefaults`) and its field order; groundwork for issue #6,
//! pinned against responses captured from nats-server 2.15.1. Not served yet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stream_config::null_as_default;

/// nats-server's `JsAckWaitDefault`: 30 s, in nanoseconds.
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// nats-server's `JsDefaultMaxAckPending`.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// nats-server's `JSWaitQueueDefaultMax`: pull requests waiting at once.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Ephemeral consumers go after this long without interest (5 s, in nanoseconds).
pub const EPHEMERAL_INACTIVE_THRESHOLD: i64 = 5_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

/// Omitted in a request, nats-server takes `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The configuration, in nats-server's field order; zero values are left out as Go's
/// `omitempty` leaves them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub durable_name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deliver_policy: DeliverPolicy,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub opt_start_seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub ack_wait: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_deliver: i64,
    /// Nanoseconds each.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff: Vec<i64>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_subject: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filter_subjects: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub replay_policy: ReplayPolicy,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_freq: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_waiting: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_ack_pending: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_batch: i64,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_expires: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub max_bytes: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_subject: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_group: String,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub idle_heartbeat: i64,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub inactive_threshold: i64,
    /// nats-server reports 0 on a single server (it means "as the stream").
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_replicas: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub mem_storage: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
}

impl ConsumerConfig {
    /// Whether the consumer outlives its subscribers: it has a durable name.
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Whether messages are pushed to a subject rather than pulled.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// Fills in what nats-server fills in on create, for a single server without account
    /// or server consumer limits; `stream_max_ack_pending` and `stream_inactive_threshold`
    /// are the stream's `consumer_limits`.
    pub fn with_defaults(
        mut self,
        stream_max_ack_pending: i64,
        stream_inactive_threshold: i64,
    ) -> Self {
        if self.is_durable() && self.name.is_empty() {
            self.name = self.durable_name.clone();
        }
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        self.max_waiting = self.max_waiting.max(0);
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        for v in [
            &mut self.max_batch,
            &mut self.max_expires,
            &mut self.max_bytes,
            &mut self.idle_heartbeat,
            &mut self.inactive_threshold,
        ] {
            *v = (*v).max(0);
        }
        if !self.is_push() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0 && self.ack_policy != AckPolicy::None {
            self.ack_wait = DEFAULT_ACK_WAIT;
        }
        if let Some(first) = self.backoff.first() {
            self.ack_wait = *first;
        }
        if self.max_ack_pending == 0 {
            self.max_ack_pending = stream_max_ack_pending.max(0);
        }
        if self.inactive_threshold == 0 {
            self.inactive_threshold = stream_inactive_threshold.max(0);
        }
        if !self.is_durable() && self.inactive_threshold == 0 {
            self.inactive_threshold = EPHEMERAL_INACTIVE_THRESHOLD;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        self.metadata
            .insert("_nats.level".into(), crate::identity::API_LEVEL.to_string());
        self.metadata.insert("_nats.req.level".into(), "0".into());
        self.metadata
            .insert("_nats.ver".into(), crate::identity::NATS_VERSION.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(json: &str) -> String {
        let cfg: ConsumerConfig = serde_json::from_str(json).expect("valid JSON");
        serde_json::to_string(&cfg.with_defaults(0, 0)).expect("serializes")
    }

    /// nats-server 2.15.1's `config` in answer to CONSUMER.CREATE with these requests.
    #[test]
    fn defaults_and_field_order_match_nats_server() {
        assert_eq!(
            filled(r#"{"durable_name":"C1","ack_policy":"explicit"}"#),
            r#"{"durable_name":"C1","name":"C1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#
        );
        assert_eq!(
            filled(
                r#"{"durable_name":"C1","description":"updated","ack_policy":"explicit","max_ack_pending":50}"#
            ),
            r#"{"durable_name":"C1","name":"C1","description":"updated","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":50,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#
        );
    }

    #[test]
    fn ack_none_by_default_and_backoff_sets_ack_wait() {
        let cfg: ConsumerConfig = serde_json::from_str(r#"{"durable_name":"D"}"#).expect("json");
        let cfg = cfg.with_defaults(0, 0);
        assert_eq!(cfg.ack_policy, AckPolicy::None);
        assert_eq!((cfg.ack_wait, cfg.max_ack_pending), (0, 0));
        let cfg: ConsumerConfig = serde_json::from_str(
            r#"{"durable_name":"B","ack_policy":"explicit","ack_wait":30000000000,"backoff":[1000000000,5000000000]}"#,
        )
        .expect("json");
        assert_eq!(cfg.with_defaults(0, 0).ack_wait, 1_000_000_000);
        let eph: ConsumerConfig = serde_json::from_str(r#"{"name":"E"}"#).expect("json");
        assert_eq!(
            eph.with_defaults(0, 0).inactive_threshold,
            EPHEMERAL_INACTIVE_THRESHOLD
        );
    }
}
