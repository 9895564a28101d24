//! A stream's configuration as the JetStream API carries it, with the defaults nats-server
//! fills in and the checks it makes on create. Field names, order and defaults follow
//! nats-server 2.15.1's `StreamConfig` (the test below pins a captured response).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::JsError;

/// nats-server's default duplicate window: two minutes, in nanoseconds.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

/// Limits applied to consumers that do not set their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ack_pending: Option<i64>,
}

fn minus_one() -> i64 {
    -1
}

fn one() -> i64 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The stream configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default = "minus_one")]
    pub max_consumers: i64,
    #[serde(default = "minus_one")]
    pub max_msgs: i64,
    #[serde(default = "minus_one")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 is unlimited.
    #[serde(default)]
    pub max_age: i64,
    #[serde(default = "minus_one")]
    pub max_msgs_per_subject: i64,
    #[serde(default = "minus_one")]
    pub max_msg_size: i64,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default = "one")]
    pub num_replicas: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Nanoseconds; filled in from `max_age` when not given.
    #[serde(default)]
    pub duplicate_window: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<serde_json::Value>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub first_seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<serde_json::Value>,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(default)]
    pub allow_rollup_hdrs: bool,
    #[serde(default)]
    pub consumer_limits: ConsumerLimits,
    #[serde(default)]
    pub allow_msg_ttl: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subject_delete_marker_ttl: i64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// What the server adds to `metadata`: the API level the stream needs and the server version.
fn server_metadata(meta: &mut BTreeMap<String, String>) {
    meta.insert("_nats.level".into(), crate::identity::API_LEVEL.to_string());
    meta.entry("_nats.req.level".into())
        .or_insert_with(|| "0".into());
    meta.insert("_nats.ver".into(), crate::identity::NATS_VERSION.into());
}

impl StreamConfig {
    /// Parses a create request for the stream named in the API subject, fills nats-server's
    /// defaults, and makes the checks nats-server makes on a single server.
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn for_create(json: &[u8], name_in_subject: &str) -> Result<StreamConfig, JsError> {
        let mut cfg: StreamConfig =
            serde_json::from_slice(json).map_err(|e| JsError::InvalidJson(e.to_string()))?;
        if !cfg.name.is_empty() && cfg.name != name_in_subject {
            return Err(JsError::StreamNameMismatch);
        }
        cfg.name = name_in_subject.to_string();
        if cfg.num_replicas > 1 {
            return Err(JsError::ReplicasNotSupported);
        }
        if cfg.num_replicas < 1 {
            cfg.num_replicas = 1;
        }
        if cfg.max_age < 0 {
            return Err(JsError::InvalidStreamConfig(
                "max age can not be negative".into(),
            ));
        }
        if cfg.subjects.is_empty() && cfg.mirror.is_none() && cfg.sources.is_none() {
            cfg.subjects = vec![cfg.name.clone()];
        }
        if cfg.duplicate_window == 0 {
            cfg.duplicate_window = if cfg.max_age > 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW {
                cfg.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        }
        server_metadata(&mut cfg.metadata);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `config` of nats-server 2.15.1's answer to `{"name":"ORDERS","subjects":["orders.>"]}`.
    const REFERENCE: &str = r#"{"name":"ORDERS","subjects":["orders.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#;

    #[test]
    fn defaults_and_field_order_match_nats_server() {
        let cfg =
            StreamConfig::for_create(br#"{"name":"ORDERS","subjects":["orders.>"]}"#, "ORDERS")
                .expect("valid");
        assert_eq!(serde_json::to_string(&cfg).expect("serializes"), REFERENCE);
    }

    #[test]
    fn subjects_default_to_the_name_and_the_window_to_max_age() {
        let cfg = StreamConfig::for_create(br#"{"name":"AGE","max_age":1000000000}"#, "AGE")
            .expect("valid");
        assert_eq!(cfg.subjects, vec!["AGE"]);
        assert_eq!(cfg.duplicate_window, 1_000_000_000);
        let cfg = StreamConfig::for_create(
            br#"{"storage":"memory","discard":"new","max_msgs":10}"#,
            "MEM",
        )
        .expect("valid");
        assert_eq!(
            (cfg.storage, cfg.discard, cfg.max_msgs),
            (Storage::Memory, Discard::New, 10)
        );
    }

    #[test]
    fn create_errors_match_nats_server() {
        let err = |json: &str, name: &str| {
            StreamConfig::for_create(json.as_bytes(), name).expect_err("refused")
        };
        assert_eq!(
            err(r#"{"name":"B","subjects":["x"]}"#, "A"),
            JsError::StreamNameMismatch
        );
        assert_eq!(
            err(r#"{"name":"R3","num_replicas":3}"#, "R3"),
            JsError::ReplicasNotSupported
        );
        assert_eq!(
            err(r#"{"name":"NEG","max_age":-5}"#, "NEG").api().err_code,
            10052
        );
        assert_eq!(
            err(r#"{"name":"X","retention":"bogus"}"#, "X")
                .api()
                .err_code,
            10025
        );
        assert_eq!(err("{bad", "X").api().err_code, 10025);
    }
}
