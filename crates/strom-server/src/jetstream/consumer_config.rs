//! A consumer's configuration as the JetStream API carries it, with the defaults nats-server
//! fills in (`setConsumerConfigDefaults`) and its field order; groundwork for issue #6,
//! pinned against responses captured from nats-server 2.15.1; the checks of
//! `checkConsumerCfg` and what an update may change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::JsError;
use super::stream_config::{null_as_default, Retention, StreamConfig};

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
    /// A sourcing stream's durable consumer (nats-server 2.14+): its answers to flow-control
    /// requests acknowledge everything up to the stream sequence they name.
    FlowControl,
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

fn is_zero_u(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityPolicy {
    #[default]
    None,
    Overflow,
    PinnedClient,
    Prioritized,
}

impl PriorityPolicy {
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
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
    /// Bits per second.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_u"
    )]
    pub rate_limit_bps: u64,
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
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
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
    /// A consumer of a mirror or source (nats-server's internal "direct" consumer).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub direct: bool,
    /// Set by a mirror or sourcing stream on the consumer it asks its origin for.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub sourcing: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// RFC 3339; the consumer delivers nothing before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub priority_groups: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "PriorityPolicy::is_none"
    )]
    pub priority_policy: PriorityPolicy,
    /// Nanoseconds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub priority_timeout: i64,
}

impl ConsumerConfig {
    /// Whether the consumer outlives its subscribers: it has a durable name.
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Whether this is the internal consumer of a mirror or sourcing stream: not listed, not
    /// counted against limits, never stored (nats-server's direct sourcing consumer).
    pub fn is_sourcing(&self) -> bool {
        self.direct && self.sourcing
    }

    /// Whether messages are pushed to a subject rather than pulled.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// Fills in what nats-server fills in on create (`setConsumerConfigDefaults`), for a
    /// single server without server consumer limits; `stream_max_ack_pending` and
    /// `stream_inactive_threshold` are the stream's `consumer_limits`, `account_max_ack_pending`
    /// the account's limit (or -1). The stored metadata carries the user's keys and
    /// `_nats.req.level`; responses add the rest ([`ConsumerConfig::with_server_metadata`]).
    pub fn with_defaults(
        mut self,
        stream_max_ack_pending: i64,
        stream_inactive_threshold: i64,
        account_max_ack_pending: i64,
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
            &mut self.priority_timeout,
        ] {
            *v = (*v).max(0);
        }
        if !self.is_push() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0
            && self.ack_policy != AckPolicy::None
            && self.ack_policy != AckPolicy::FlowControl
        {
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
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
            if account_max_ack_pending > 0 {
                self.max_ack_pending = self.max_ack_pending.min(account_max_ack_pending);
            }
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout == 0 {
            self.priority_timeout = DEFAULT_PINNED_TTL;
        }
        if !self.is_durable() && self.inactive_threshold == 0 {
            self.inactive_threshold = EPHEMERAL_INACTIVE_THRESHOLD;
        }
        self.set_required_level();
        self
    }

    /// `_nats.req.level`: the API level the configuration needs (1 with pause or priority
    /// groups, 2 with the prioritized policy).
    pub fn set_required_level(&mut self) {
        let level = if self.priority_policy == PriorityPolicy::Prioritized {
            "2"
        } else if self.pause_until.is_some() || !self.priority_groups.is_empty() {
            "1"
        } else {
            "0"
        };
        self.metadata.remove("_nats.level");
        self.metadata.remove("_nats.ver");
        self.metadata
            .insert("_nats.req.level".into(), level.to_string());
    }

    /// The configuration as CREATE and INFO answer it: with the server's API level and version.
    pub fn with_server_metadata(mut self) -> Self {
        self.metadata
            .insert("_nats.level".into(), crate::identity::API_LEVEL.to_string());
        self.metadata
            .insert("_nats.ver".into(), crate::identity::NATS_VERSION.into());
        self
    }

    /// Every filter: `filter_subject` or `filter_subjects`.
    pub fn filters(&self) -> Vec<String> {
        if !self.filter_subject.is_empty() {
            vec![self.filter_subject.clone()]
        } else {
            self.filter_subjects.clone()
        }
    }

    /// nats-server's `checkConsumerCfg` for a single server: what a new configuration (with
    /// defaults filled in) may not be.
    ///
    /// # Errors
    /// The API error nats-server answers with.
    pub fn check(
        &self,
        stream: &StreamConfig,
        account_max_ack_pending: i64,
    ) -> Result<(), JsError> {
        let bad_name = |n: &str| {
            n.chars()
                .any(|c| matches!(c, '.' | '*' | '>' | '\\' | '/') || c.is_whitespace())
        };
        if !self.name.is_empty() && bad_name(&self.name) {
            return Err(JsError::InvalidStreamConfig(
                "consumer name can not contain '.', '*', '>', '\\', '/'".into(),
            ));
        }
        if !self.durable_name.is_empty() && bad_name(&self.durable_name) {
            return Err(JsError::InvalidStreamConfig(
                "consumer durable name can not contain '.', '*', '>', '\\', '/'".into(),
            ));
        }
        if self.num_replicas > 1 {
            return Err(JsError::ReplicasNotSupported);
        }
        if self.num_replicas < 0 {
            return Err(JsError::Text(
                400,
                10133,
                "replicas count cannot be negative".into(),
            ));
        }
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(JsError::Coded(10184));
        }
        if self.ack_wait < 0 {
            return Err(JsError::Coded(10183));
        }
        if !self.backoff.is_empty()
            && self.max_deliver != -1
            && self.backoff.len() as i64 > self.max_deliver
        {
            return Err(JsError::Coded(10116));
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(JsError::Text(
                400,
                10107,
                format!("consumer description is too long, maximum allowed is {MAX_DESCRIPTION}"),
            ));
        }
        if self.is_push() {
            let d = self.deliver_subject.as_bytes();
            if d.split(|b| *b == b'.').any(|t| t == b"*" || t == b">") {
                return Err(JsError::Coded(10079));
            }
            if !strom_proto::subject::is_valid_subject(d) {
                return Err(JsError::Coded(10112));
            }
            if stream
                .subjects
                .iter()
                .any(|s| strom_proto::subject::matches(s.as_bytes(), d))
            {
                return Err(JsError::Coded(10081));
            }
            if self.max_waiting != 0 {
                return Err(JsError::Coded(10080));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(JsError::Coded(10082));
            }
            if self.idle_heartbeat > 0 && self.idle_heartbeat < 100_000_000 {
                return Err(JsError::Coded(10083));
            }
        } else {
            if self.ack_policy == AckPolicy::None && stream.retention == Retention::Workqueue {
                return Err(JsError::Coded(10084));
            }
            if self.rate_limit_bps > 0 {
                return Err(JsError::Coded(10086));
            }
            if self.max_waiting < 0 {
                return Err(JsError::Coded(10087));
            }
            if self.idle_heartbeat > 0 {
                return Err(JsError::Coded(10088));
            }
            if self.flow_control {
                return Err(JsError::Coded(10089));
            }
            if self.max_batch < 0 {
                return Err(JsError::Coded(10114));
            }
            if self.max_expires != 0 && self.max_expires < 1_000_000 {
                return Err(JsError::Coded(10115));
            }
        }
        let limits = [
            account_max_ack_pending,
            stream.consumer_limits.max_ack_pending.unwrap_or(0),
        ];
        for limit in limits {
            if limit > 0 && self.max_ack_pending > limit {
                return Err(JsError::Text(
                    400,
                    10121,
                    format!("consumer max ack pending exceeds system limit of {limit}"),
                ));
            }
        }
        let it = stream.consumer_limits.inactive_threshold.unwrap_or(0);
        if it > 0 && self.inactive_threshold > it {
            return Err(JsError::Text(
                400,
                10153,
                format!(
                    "consumer inactive threshold exceeds system limit of {}",
                    super::wire::go_duration_ns(it)
                ),
            ));
        }
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(JsError::Coded(10136));
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(JsError::Coded(10139));
        }
        let filters = self.filters();
        for (i, f) in filters.iter().enumerate() {
            if !strom_proto::subject::is_valid_subject(f.as_bytes()) {
                return Err(JsError::InvalidStreamConfig("invalid subject".into()));
            }
            for (j, g) in filters.iter().enumerate() {
                if i != j && strom_proto::subject::is_subset(f.as_bytes(), g.as_bytes()) {
                    return Err(JsError::Coded(10138));
                }
            }
        }
        self.check_start()?;
        if !self.sample_freq.is_empty() {
            let s = self.sample_freq.trim_end_matches('%');
            if let Err(e) =
                s.parse::<i64>()
                    .map_err(|_| s)
                    .and_then(|n| if n < 0 { Err(s) } else { Ok(n) })
            {
                return Err(JsError::Text(
                    400,
                    10095,
                    format!(
                        "failed to parse consumer sampling configuration: strconv.Atoi: parsing {e:?}: invalid syntax"
                    ),
                ));
            }
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(JsError::Coded(10108));
        }
        if !self.durable_name.is_empty() && !self.name.is_empty() && self.name != self.durable_name
        {
            return Err(JsError::Coded(10132));
        }
        let meta: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta > MAX_METADATA {
            return Err(JsError::Text(
                400,
                10135,
                "consumer metadata exceeds maximum size of 128KB".into(),
            ));
        }
        if self.priority_policy != PriorityPolicy::None {
            if self.is_push() {
                return Err(JsError::Coded(10178));
            }
            if self.priority_groups.is_empty() {
                return Err(JsError::Coded(10159));
            }
            for g in &self.priority_groups {
                if g.is_empty() {
                    return Err(JsError::Coded(10161));
                }
                let ok = g.len() <= 16
                    && g.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_/=)+".contains(c));
                if !ok {
                    return Err(JsError::Coded(10162));
                }
            }
        } else {
            if !self.priority_groups.is_empty() {
                return Err(JsError::Coded(10196));
            }
            if self.priority_timeout > 0 {
                return Err(JsError::Coded(10197));
            }
        }
        if let Some(t) = &self.pause_until {
            super::wire::parse_time(t)
                .ok_or_else(|| JsError::InvalidJson(format!("parsing time {t:?}: cannot parse")))?;
        }
        Ok(())
    }

    /// The start position rules of `checkConsumerCfg`.
    fn check_start(&self) -> Result<(), JsError> {
        let bad = |dp: &str, start: &str| {
            Err(JsError::consumer_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
            )))
        };
        let not_set = |dp: &str, what: &str| {
            Err(JsError::consumer_policy(format!(
                "consumer delivery policy is deliver {dp}, but optional {what} is not set"
            )))
        };
        let seq = self.opt_start_seq > 0;
        let time = self.opt_start_time.is_some();
        match self.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                let dp = match self.deliver_policy {
                    DeliverPolicy::All => "all",
                    DeliverPolicy::Last => "last",
                    _ => "new",
                };
                if seq {
                    return bad(dp, "sequence");
                }
                if time {
                    return bad(dp, "time");
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return bad("last per subject", "sequence");
                }
                if time {
                    return bad("last per subject", "time");
                }
                if self.filter_subject.is_empty() && self.filter_subjects.is_empty() {
                    return not_set("last per subject", "filter subject");
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return not_set("by start sequence", "start sequence");
                }
                if time {
                    return bad("by start sequence", "time");
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return not_set("by start time", "start time");
                }
                if self.opt_start_seq != 0 {
                    return bad("by start time", "start sequence");
                }
            }
        }
        if let Some(t) = &self.opt_start_time {
            super::wire::parse_time(t)
                .ok_or_else(|| JsError::InvalidJson(format!("parsing time {t:?}: cannot parse")))?;
        }
        Ok(())
    }

    /// nats-server's `checkNewConsumerConfig`: what an update may not change. `bound` says
    /// whether the old deliver subject has interest now.
    ///
    /// # Errors
    /// JSConsumerCreateErrF with nats-server's text, or 10013 when a bound push consumer's
    /// deliver subject would change.
    pub fn check_update(&self, new: &ConsumerConfig, bound: bool) -> Result<(), JsError> {
        if self == new {
            return Ok(());
        }
        let refuse = |what: &str| Err(JsError::consumer_create(what.to_string()));
        if self.deliver_policy != new.deliver_policy {
            return refuse("deliver policy can not be updated");
        }
        if self.mem_storage != new.mem_storage {
            return refuse("storage type can not be updated");
        }
        if self.opt_start_seq != new.opt_start_seq {
            return refuse("start sequence can not be updated");
        }
        if self.opt_start_time != new.opt_start_time {
            return refuse("start time can not be updated");
        }
        if self.ack_policy != new.ack_policy {
            return refuse("ack policy can not be updated");
        }
        if self.replay_policy != new.replay_policy {
            return refuse("replay policy can not be updated");
        }
        if self.idle_heartbeat != new.idle_heartbeat {
            return refuse("heart beats can not be updated");
        }
        if self.flow_control != new.flow_control {
            return refuse("flow control can not be updated");
        }
        if self.deliver_subject != new.deliver_subject {
            if self.deliver_subject.is_empty() {
                return refuse("can not update pull consumer to push based");
            }
            if new.deliver_subject.is_empty() {
                return refuse("can not update push consumer to pull based");
            }
            if bound {
                return Err(JsError::Coded(10013));
            }
        }
        if self.max_waiting != new.max_waiting {
            return refuse("max waiting can not be updated");
        }
        if !new.backoff.is_empty()
            && new.max_deliver != -1
            && new.backoff.len() as i64 > new.max_deliver
        {
            return Err(JsError::Coded(10116));
        }
        Ok(())
    }
}

/// nats-server's `JSMaxDescriptionLen`.
const MAX_DESCRIPTION: usize = 4096;
/// nats-server's `JSMaxMetadataLen`.
const MAX_METADATA: usize = 128 * 1024;
/// nats-server's `JsDefaultPinnedTTL`: 2 minutes, in nanoseconds.
pub const DEFAULT_PINNED_TTL: i64 = 120_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(json: &str) -> String {
        let cfg: ConsumerConfig = serde_json::from_str(json).expect("valid JSON");
        serde_json::to_string(&cfg.with_defaults(0, 0, -1).with_server_metadata())
            .expect("serializes")
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
        let cfg = cfg.with_defaults(0, 0, -1);
        assert_eq!(cfg.ack_policy, AckPolicy::None);
        assert_eq!((cfg.ack_wait, cfg.max_ack_pending), (0, 0));
        let cfg: ConsumerConfig = serde_json::from_str(
            r#"{"durable_name":"B","ack_policy":"explicit","ack_wait":30000000000,"backoff":[1000000000,5000000000]}"#,
        )
        .expect("json");
        assert_eq!(cfg.with_defaults(0, 0, -1).ack_wait, 1_000_000_000);
        let eph: ConsumerConfig = serde_json::from_str(r#"{"name":"E"}"#).expect("json");
        assert_eq!(
            eph.with_defaults(0, 0, -1).inactive_threshold,
            EPHEMERAL_INACTIVE_THRESHOLD
        );
    }
}
