//! A stream's configuration as the JetStream API carries it, with the defaults nats-server
//! fills in and the checks it makes on create and update. Field names, order and defaults
//! follow nats-server 2.15.1's `StreamConfig` (the test below pins a captured response); a
//! mirror's and sources' own fields and checks are in [`super::source_config`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::JsError;
use super::source_config::{self, StreamLookup, StreamSource};
use crate::transform::Transform;

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

/// Go's JSON decoding leaves a field at its zero value when the JSON says `null`; clients
/// (async-nats among them) send `null` for fields they leave unset.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_minus_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or(-1))
}

fn null_as_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or(1))
}

/// `sources` as Go reads them: `null` is none, and a `null` entry is a source without a name,
/// which the checks refuse as nats-server refuses a nil source.
fn null_sources<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<StreamSource>, D::Error> {
    let sources = Option::<Vec<Option<StreamSource>>>::deserialize(d)?;
    Ok(sources
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Empty (and left out) only for mirrors and sourcing streams.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subjects: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub retention: Retention,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub max_consumers: i64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub max_msgs: i64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 is unlimited.
    #[serde(default, deserialize_with = "null_as_default")]
    pub max_age: i64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub max_msgs_per_subject: i64,
    #[serde(default = "minus_one", deserialize_with = "null_as_minus_one")]
    pub max_msg_size: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub discard: Discard,
    #[serde(default, deserialize_with = "null_as_default")]
    pub storage: Storage,
    #[serde(default = "one", deserialize_with = "null_as_one")]
    pub num_replicas: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub no_ack: bool,
    /// Nanoseconds; filled in from `max_age` when not given, except for mirrors and sourcing
    /// streams, which keep 0 and leave it out.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub duplicate_window: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(
        default,
        deserialize_with = "null_sources",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<StreamSource>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub compression: Compression,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub first_seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allow_direct: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub mirror_direct: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub discard_new_per_subject: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sealed: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deny_delete: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deny_purge: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allow_rollup_hdrs: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub consumer_limits: ConsumerLimits,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allow_msg_ttl: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub subject_delete_marker_ttl: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// Fields nats-server knows that Strom does not model; checked by [`StreamConfig::validate`].
    #[serde(flatten, default, skip_serializing)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// Stream configuration fields of nats-server that Strom accepts only at their zero value.
const UNMODELLED: &[&str] = &[
    "template_owner",
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "allow_batched",
    "persist_mode",
    "pedantic",
];

/// nats-server's `JSMaxNameLen`.
const MAX_NAME_LEN: usize = 255;
/// nats-server's `JSMaxDescriptionLen`.
const MAX_DESCRIPTION_LEN: usize = 4096;

/// Whether a stream (or consumer) name is valid, as nats-server's `isValidAssetName`: not
/// empty, none of `.`, `*`, `>`, `\`, `/`, space, tab, CR, LF or form feed.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['.', '*', '>', '\\', '/', ' ', '\t', '\r', '\n', '\x0c'])
}

fn invalid(msg: &str) -> JsError {
    JsError::InvalidStreamConfig(msg.into())
}

/// A request that is not the JSON expected; an unknown field in a nested object (a mirror's
/// or source's) is named as Go's strict decoding names it.
fn json_error(e: serde_json::Error) -> JsError {
    let text = e.to_string();
    let unknown = text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) => JsError::InvalidJson(format!("json: unknown field {field:?}")),
        None => JsError::InvalidJson(text),
    }
}

/// What the server adds to `metadata`: the API level the stream needs and the server version.
fn server_metadata(meta: &mut BTreeMap<String, String>, needs_level_1: bool) {
    meta.insert("_nats.level".into(), crate::identity::API_LEVEL.to_string());
    // The API level a stream needs: per-message TTLs came with level 1.
    let level = if needs_level_1 { "1" } else { "0" };
    meta.insert("_nats.req.level".into(), level.into());
    meta.insert("_nats.ver".into(), crate::identity::NATS_VERSION.into());
}

impl StreamConfig {
    /// Parses a create request for the stream named in the API subject, makes the checks
    /// nats-server's create handler makes before any other, and fills nats-server's defaults.
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn for_create(json: &[u8], name_in_subject: &str) -> Result<StreamConfig, JsError> {
        let cfg = StreamConfig::parse(json, name_in_subject)?;
        if cfg.sealed {
            return Err(invalid("stream configuration for create can not be sealed"));
        }
        if cfg.mirror_direct && cfg.mirror.is_none() {
            return Err(invalid("stream has no mirror but does have mirror direct"));
        }
        cfg.with_defaults()
    }

    /// Parses the configuration of a stream being restored: as a create, without the create
    /// handler's own checks (a restored stream may be sealed, as nats-server allows).
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn for_restore(json: &[u8], name_in_subject: &str) -> Result<StreamConfig, JsError> {
        StreamConfig::parse(json, name_in_subject)?.with_defaults()
    }

    /// Parses an update request: as a create, except that an empty body names no stream.
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn for_update(json: &[u8], name_in_subject: &str) -> Result<StreamConfig, JsError> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        StreamConfig::for_restore(json, name_in_subject)
    }

    /// The request's JSON, for the stream named in the subject.
    fn parse(json: &[u8], name_in_subject: &str) -> Result<StreamConfig, JsError> {
        let cfg: StreamConfig = if json.iter().all(u8::is_ascii_whitespace) {
            serde_json::from_slice(b"{}")
        } else {
            serde_json::from_slice(json)
        }
        .map_err(json_error)?;
        if cfg.name != name_in_subject {
            return Err(JsError::StreamNameMismatch);
        }
        Ok(cfg)
    }

    /// The configuration an update to `new` gives, or why nats-server refuses it: the rules
    /// of `configUpdateCheck` that follow `checkStreamCfg`, so `new` is as
    /// [`StreamConfig::checked`] returned it.
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn updated_to(&self, new: StreamConfig) -> Result<StreamConfig, JsError> {
        let mut new = new;
        if new.storage != self.storage {
            return Err(invalid(
                "stream configuration update can not change storage type",
            ));
        }
        if new.retention != self.retention
            && (new.retention == Retention::Workqueue || self.retention == Retention::Workqueue)
        {
            return Err(invalid(
                "stream configuration update can not change retention policy to/from workqueue",
            ));
        }
        if self.sealed && !new.sealed {
            return Err(invalid(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if self.deny_delete && !new.deny_delete {
            return Err(invalid(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if self.deny_purge && !new.deny_purge {
            return Err(invalid(
                "stream configuration update can not cancel deny purge",
            ));
        }
        // Removing the mirror promotes the stream to a plain one; any other change, adding a
        // mirror included, is refused.
        if new.mirror.is_some() && new.mirror != self.mirror {
            return Err(JsError::Coded(source_config::code::MIRROR_NOT_UPDATABLE));
        }
        if self.allow_msg_ttl && !new.allow_msg_ttl {
            return Err(invalid("message TTL status can not be disabled"));
        }
        // A sealed stream keeps everything it holds, as nats-server makes it.
        if new.sealed {
            new.max_age = 0;
            new.discard = Discard::New;
            new.deny_delete = true;
            new.deny_purge = true;
            new.allow_rollup_hdrs = false;
        }
        Ok(new)
    }

    /// The checks nats-server's `checkStreamCfg` makes, for a single server, in its order;
    /// returns the configuration with what depends on the account's other streams filled
    /// in (a mirror inherits its local origin's `allow_direct` as `mirror_direct`).
    /// `streams` are the account's streams as they are before this create or update.
    ///
    /// # Errors
    /// The [`JsError`] nats-server answers with.
    pub fn checked(mut self, streams: &StreamLookup) -> Result<StreamConfig, JsError> {
        self.check_known_fields()?;
        // `pedantic` belongs to the request, not to the configuration kept.
        let pedantic = matches!(
            self.other.remove("pedantic"),
            Some(serde_json::Value::Bool(true))
        );
        self.check_name()?;
        self.check_limits()?;
        self.mirror_direct = source_config::check(&self, streams, pedantic)?;
        self.check_subjects()?;
        if self.subjects.is_empty() && self.mirror.is_none() && self.sources.is_empty() {
            return Err(invalid(
                "stream needs at least one configured subject or be a source/mirror",
            ));
        }
        self.transform()?;
        self.republish()?;
        self.check_supported()?;
        Ok(self)
    }

    /// Whether a boolean field Strom does not model (`allow_msg_counter`...) is set.
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.other.get(key), Some(serde_json::Value::Bool(true)))
    }

    /// Go's strict decoding: a field nats-server does not know is a JSON error.
    fn check_known_fields(&self) -> Result<(), JsError> {
        match self
            .other
            .keys()
            .find(|k| !UNMODELLED.contains(&k.as_str()))
        {
            Some(k) => Err(JsError::InvalidJson(format!("json: unknown field {k:?}"))),
            None => Ok(()),
        }
    }

    /// Fields nats-server knows and Strom does not serve yet are refused unless at their
    /// zero value (checked last, so that nats-server's own errors come first).
    fn check_supported(&self) -> Result<(), JsError> {
        for (k, v) in &self.other {
            let zero = match v {
                serde_json::Value::Null => true,
                serde_json::Value::Bool(b) => !b,
                serde_json::Value::Number(n) => n.as_i64() == Some(0),
                serde_json::Value::String(s) => s.is_empty(),
                _ => false,
            };
            if !zero {
                return Err(invalid(&format!("{k} is not supported by Strom yet")));
            }
        }
        Ok(())
    }

    fn check_name(&self) -> Result<(), JsError> {
        if !is_valid_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(JsError::InvalidStreamConfig(format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION_LEN)
        {
            return Err(JsError::InvalidStreamConfig(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        Ok(())
    }

    /// Ages, the duplicate window, roll-ups, per-subject discard and delete markers.
    fn check_limits(&self) -> Result<(), JsError> {
        if self.max_age != 0 && self.max_age < 100_000_000 {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        if self.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if self.max_age > 0 && self.duplicate_window > self.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if self.duplicate_window > 0 && self.duplicate_window < 100_000_000 {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(invalid(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if self.subject_delete_marker_ttl < 0 {
            return Err(invalid("subject delete marker TTL must not be negative"));
        }
        if self.subject_delete_marker_ttl > 0 {
            if self.subject_delete_marker_ttl < 1_000_000_000 {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            if !self.allow_msg_ttl {
                return Err(invalid(
                    "subject delete marker cannot be set if message TTLs are disabled",
                ));
            }
            if !self.allow_rollup_hdrs {
                return Err(invalid(
                    "subject delete marker cannot be set if roll-ups are disabled",
                ));
            }
        }
        Ok(())
    }

    /// The subjects, in nats-server's order: each is checked, then compared with the later
    /// ones.
    fn check_subjects(&self) -> Result<(), JsError> {
        let mut seen = std::collections::HashSet::new();
        for (i, subj) in self.subjects.iter().enumerate() {
            let b = subj.as_bytes();
            if !strom_proto::subject::is_valid_subject(b) {
                return Err(invalid("invalid subject"));
            }
            if !seen.insert(subj) {
                return Err(invalid("duplicate subjects detected"));
            }
            if subj == ">" && !self.no_ack {
                return Err(invalid("capturing all subjects requires no-ack to be true"));
            }
            if !self.no_ack {
                let api = ["$JS.>", "$JSC.>", "$NRG.>"]
                    .iter()
                    .any(|ns| strom_proto::subject::overlaps(b, ns.as_bytes()));
                if api && !strom_proto::subject::is_subset(b, b"$JS.EVENT.>") {
                    return Err(invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
                if strom_proto::subject::overlaps(b, b"$SYS.>")
                    && !strom_proto::subject::is_subset(b, b"$SYS.ACCOUNT.>")
                {
                    return Err(invalid(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
            }
            for later in &self.subjects[i + 1..] {
                if strom_proto::subject::overlaps(later.as_bytes(), b) {
                    return Err(JsError::InvalidStreamConfig(format!(
                        "subject {subj:?} overlaps with {later:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The subject transform applied to messages before they are stored.
    ///
    /// # Errors
    /// nats-server's 10155 or 10156.
    pub fn transform(&self) -> Result<Option<Transform>, JsError> {
        let Some(t) = &self.subject_transform else {
            return Ok(None);
        };
        let src = t.get("src").and_then(|v| v.as_str()).unwrap_or("");
        let dest = t.get("dest").and_then(|v| v.as_str()).unwrap_or("");
        if !src.is_empty() && !strom_proto::subject::is_valid_subject(src.as_bytes()) {
            return Err(JsError::TransformInvalidSource(format!(
                "invalid subject {src}"
            )));
        }
        Transform::new(src, dest)
            .map(Some)
            .map_err(JsError::TransformInvalidDestination)
    }

    /// The republish directive: which stored messages go out again, to which subject, and
    /// whether with headers only.
    ///
    /// # Errors
    /// nats-server's 10052 texts.
    pub fn republish(&self) -> Result<Option<(Transform, bool)>, JsError> {
        let Some(r) = &self.republish else {
            return Ok(None);
        };
        let src = r.get("src").and_then(|v| v.as_str()).unwrap_or(">");
        let src = if src.is_empty() { ">" } else { src };
        let dest = r.get("dest").and_then(|v| v.as_str()).unwrap_or("");
        let headers_only = r
            .get("headers_only")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if self
            .subjects
            .iter()
            .any(|s| strom_proto::subject::overlaps(dest.as_bytes(), s.as_bytes()))
        {
            return Err(invalid(
                "stream configuration for republish destination forms a cycle",
            ));
        }
        Transform::new(src, dest)
            .map(|t| Some((t, headers_only)))
            .map_err(|_| {
                JsError::InvalidStreamConfig(format!(
                    "stream configuration for republish with transform from '{src}' to '{dest}' not valid"
                ))
            })
    }

    /// Fills nats-server's defaults.
    fn with_defaults(self) -> Result<StreamConfig, JsError> {
        let mut cfg = self;
        if cfg.num_replicas > 1 {
            return Err(JsError::ReplicasNotSupported);
        }
        if cfg.num_replicas < 1 {
            cfg.num_replicas = 1;
        }
        // nats-server: 0 means unlimited, reported as -1.
        for v in [
            &mut cfg.max_msgs,
            &mut cfg.max_bytes,
            &mut cfg.max_msgs_per_subject,
            &mut cfg.max_msg_size,
            &mut cfg.max_consumers,
        ] {
            if *v == 0 {
                *v = -1;
            }
        }
        if cfg.max_age < 0 {
            return Err(JsError::InvalidStreamConfig(
                "max age can not be negative".into(),
            ));
        }
        // A mirror or sourcing stream takes what its origins send: no subjects of its own,
        // and no duplicate window unless asked for.
        let sourcing = cfg.mirror.is_some() || !cfg.sources.is_empty();
        if cfg.subjects.is_empty() && !sourcing {
            cfg.subjects = vec![cfg.name.clone()];
        }
        if cfg.duplicate_window == 0 && !sourcing {
            cfg.duplicate_window = if cfg.max_age > 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW {
                cfg.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        }
        server_metadata(&mut cfg.metadata, cfg.allow_msg_ttl);
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
            br#"{"name":"MEM","storage":"memory","discard":"new","max_msgs":10}"#,
            "MEM",
        )
        .expect("valid");
        assert_eq!(
            (cfg.storage, cfg.discard, cfg.max_msgs),
            (Storage::Memory, Discard::New, 10)
        );
    }

    /// STREAM.INFO of a mirror from nats-server 2.15.1 (design notes §9.4): no
    /// `duplicate_window`, no `subjects`.
    const MIRROR_INFO: &str = r#"{"name":"MIR","retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"mirror":{"name":"ORIGIN"},"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#;

    /// The KV mirror bucket as nats.go creates it, echoed by nats-server 2.15.1 (§11).
    const KV_MIRROR: &str = r#"{"name":"KV_M","retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":5,"max_msg_size":-1,"discard":"new","storage":"file","num_replicas":1,"duplicate_window":120000000000,"mirror":{"name":"KV_A"},"compression":"none","allow_direct":true,"mirror_direct":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#;

    #[test]
    fn captured_mirror_configs_round_trip() {
        for captured in [MIRROR_INFO, KV_MIRROR] {
            let cfg: StreamConfig = serde_json::from_str(captured).expect("parses");
            assert_eq!(serde_json::to_string(&cfg).expect("serializes"), captured);
        }
        let sources = r#"{"name":"SRC","subjects":["s"],"sources":[{"name":"ORIGIN","filter_subject":"o.a.>"},{"name":"ORIGIN","subject_transforms":[{"src":"o.b.>","dest":"bb.>"}]},{"name":"REMOTE","external":{"api":"$JS.hub.API","deliver":""}}]}"#;
        let cfg = StreamConfig::for_create(sources.as_bytes(), "SRC")
            .and_then(|c| c.checked(&|_| None))
            .expect("valid");
        let json = serde_json::to_value(&cfg).expect("serializes");
        let given: serde_json::Value = serde_json::from_str(sources).expect("json");
        assert_eq!(json["sources"], given["sources"]);
    }

    #[test]
    fn mirrors_and_sourcing_streams_get_no_window_and_no_subjects() {
        let mirror =
            StreamConfig::for_create(br#"{"name":"MIR","mirror":{"name":"ORIGIN"}}"#, "MIR")
                .and_then(|c| c.checked(&|_| None))
                .expect("valid");
        let json = serde_json::to_string(&mirror).expect("serializes");
        assert_eq!(json, MIRROR_INFO);
        let src = StreamConfig::for_create(br#"{"name":"S","sources":[{"name":"O"}]}"#, "S")
            .and_then(|c| c.checked(&|_| None))
            .expect("valid");
        assert!(src.subjects.is_empty());
        assert_eq!(src.duplicate_window, 0);
        let kept = StreamConfig::for_create(
            br#"{"name":"S","sources":[{"name":"O"}],"duplicate_window":60000000000}"#,
            "S",
        )
        .expect("valid");
        assert_eq!(kept.duplicate_window, 60_000_000_000);
        let nulls = StreamConfig::for_create(br#"{"name":"N","mirror":null,"sources":null}"#, "N")
            .expect("valid");
        assert_eq!((nulls.mirror, nulls.sources.len()), (None, 0));
        assert_eq!(nulls.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
    }

    #[test]
    fn mirror_updates_follow_nats_server() {
        let none = |_: &str| None;
        let create = |json: &str| {
            StreamConfig::for_create(json.as_bytes(), "UM")
                .and_then(|c| c.checked(&none))
                .expect("valid")
        };
        let update = |old: &StreamConfig, json: &str| {
            StreamConfig::for_update(json.as_bytes(), "UM")
                .and_then(|new| new.checked(&none))
                .and_then(|new| old.updated_to(new))
                .map_err(|e| e.api().err_code)
        };
        let mirror = create(r#"{"name":"UM","mirror":{"name":"ORIG"}}"#);
        let plain = create(r#"{"name":"UM","subjects":["up"]}"#);
        assert_eq!(
            update(&mirror, r#"{"name":"UM","mirror":{"name":"ORIG2"}}"#),
            Err(10055)
        );
        assert_eq!(
            update(
                &mirror,
                r#"{"name":"UM","mirror":{"name":"ORIG","filter_subject":"orig.a"}}"#
            ),
            Err(10055)
        );
        assert_eq!(
            update(
                &mirror,
                r#"{"name":"UM","mirror":{"name":"ORIG"},"subjects":["um"]}"#
            ),
            Err(10034)
        );
        assert_eq!(
            update(&plain, r#"{"name":"UM","mirror":{"name":"ORIG"}}"#),
            Err(10055)
        );
        let same = update(&mirror, r#"{"name":"UM","mirror":{"name":"ORIG"}}"#).expect("no-op");
        assert_eq!(same.mirror, mirror.mirror);
        let promoted = update(&mirror, r#"{"name":"UM","subjects":["um.>"]}"#).expect("promotion");
        assert_eq!(promoted.mirror, None);
        assert_eq!(promoted.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        let sourcing = update(
            &plain,
            r#"{"name":"UM","subjects":["up"],"sources":[{"name":"ORIG"}]}"#,
        )
        .expect("sources may be added");
        assert_eq!(sourcing.duplicate_window, 0);
        let changed = update(
            &sourcing,
            r#"{"name":"UM","subjects":["up"],"sources":[{"name":"ORIG","filter_subject":"orig.a"}]}"#,
        )
        .expect("sources may change");
        assert_eq!(changed.sources[0].filter_subject, "orig.a");
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
        assert_eq!(
            err(r#"{"name":"SEAL","sealed":true}"#, "SEAL")
                .api()
                .description,
            "stream configuration for create can not be sealed"
        );
        // nats-server: an empty body names no stream, so it does not match the subject.
        assert_eq!(err("", "X"), JsError::StreamNameMismatch);
        assert_eq!(err("{}", "X"), JsError::StreamNameMismatch);
    }

    #[test]
    fn validation_matches_nats_server() {
        let check = |json: &str| {
            let name = serde_json::from_str::<serde_json::Value>(json).expect("json")["name"]
                .as_str()
                .expect("name")
                .to_string();
            StreamConfig::for_create(json.as_bytes(), &name)
                .and_then(|c| c.checked(&|_| None))
                .map_err(|e| e.api().description)
        };
        assert!(check(r#"{"name":"OK","subjects":["a.>"]}"#).is_ok());
        assert_eq!(
            check(r#"{"name":"A*"}"#).expect_err("bad name"),
            "stream name is required and can not contain '.', '*', '>', '\\', '/'"
        );
        assert_eq!(
            check(r#"{"name":"D","discard":"new","discard_new_per_subject":true}"#)
                .expect_err("needs per-subject limit"),
            "discard new per subject requires max msgs per subject > 0"
        );
        assert_eq!(
            check(r#"{"name":"W","max_age":1000000000,"duplicate_window":60000000000}"#)
                .expect_err("window"),
            "duplicates window can not be larger then max age"
        );
        assert_eq!(
            check(r#"{"name":"S","subjects":["a..b"]}"#).expect_err("subject"),
            "invalid subject"
        );
        assert_eq!(
            check(r#"{"name":"J","subjects":["*.>"]}"#).expect_err("api overlap"),
            "subjects that overlap with jetstream api require no-ack to be true"
        );
        assert_eq!(
            check(r#"{"name":"U","subjects":["dup.a","dup.a"]}"#).expect_err("dup"),
            "subject \"dup.a\" overlaps with \"dup.a\""
        );
        assert_eq!(
            check(r#"{"name":"B","bogus_field":1}"#).expect_err("unknown"),
            "invalid JSON: json: unknown field \"bogus_field\""
        );
    }
}
