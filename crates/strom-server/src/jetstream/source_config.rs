//! The configuration of a stream's mirror and sources (nats-server's `StreamSource`): the
//! JSON types, echoed back as given; the identifiers derived from them (the index name and
//! nats-server's 8-character hash); and the checks `checkStreamCfg` makes on them, in its
//! order and with its errors. Copying messages is the `sourcing` runtime's business; this
//! module only says what a valid configuration is.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::errors::JsError;
use super::stream_config::{is_valid_name, null_as_default, StreamConfig};
use crate::transform::Transform;

/// The account's streams as the checks that involve other streams see them: a stream's
/// configuration by name, `None` when the account has no such stream.
pub type StreamLookup<'a> = dyn Fn(&str) -> Option<StreamConfig> + 'a;

/// nats-server's err_codes for mirror and source configuration errors with a fixed text
/// (`server/errors.json`; the texts are in [`super::errors`]).
pub mod code {
    pub const MIRROR_MAX_MSG_SIZE: u16 = 10030;
    pub const MIRROR_WITH_SOURCES: u16 = 10031;
    pub const MIRROR_WITH_SUBJECTS: u16 = 10034;
    pub const SOURCE_MAX_MSG_SIZE: u16 = 10046;
    pub const MIRROR_NOT_UPDATABLE: u16 = 10055;
    pub const SOURCE_DUPLICATE: u16 = 10140;
    pub const SOURCE_INVALID_NAME: u16 = 10141;
    pub const MIRROR_INVALID_NAME: u16 = 10142;
    pub const MIRROR_WITH_FIRST_SEQ: u16 = 10143;
    pub const SOURCE_FILTER_AND_TRANSFORMS: u16 = 10144;
    pub const SOURCE_OVERLAPPING_FILTERS: u16 = 10147;
    pub const MIRROR_FILTER_AND_TRANSFORMS: u16 = 10150;
    pub const MIRROR_OVERLAPPING_FILTERS: u16 = 10152;
    pub const MIRROR_WITH_COUNTERS: u16 = 10173;
    pub const MIRROR_WITH_SCHEDULES: u16 = 10186;
    pub const SOURCE_WITH_SCHEDULES: u16 = 10187;
    pub const MIRROR_WITH_ATOMIC: u16 = 10198;
    pub const MIRROR_WITH_BATCHED: u16 = 10209;
    pub const MIRROR_CONSUMER_INVALID: u16 = 10213;
    pub const SOURCE_CONSUMER_INVALID: u16 = 10215;
    pub const SOURCE_CONSUMER_DUPLICATE: u16 = 10216;
}

/// nats-server's `JSApiPrefix`, which an external API prefix must not overlap.
const JS_API_PREFIX: &str = "$JS.API";

/// A subject transform of a mirror or source. Both fields are always serialized; an empty
/// `dest` keeps the subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectTransformConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub src: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dest: String,
}

/// Where an origin in another domain or account is reached: its API prefix and the prefix
/// its deliveries come back under. Both are always serialized (`"deliver":""` when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalStream {
    #[serde(default, deserialize_with = "null_as_default")]
    pub api: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub deliver: String,
}

/// A durable push consumer on the origin that the user created for this mirror or source
/// (nats-server 2.14's "durable sourcing").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConsumerSource {
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
    pub deliver_subject: String,
}

/// A stream's mirror, or one of its sources, in nats-server's field order; empty fields are
/// left out when serialized, so the configuration comes back as the client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSource {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub opt_start_seq: u64,
    /// RFC 3339, as Go writes a `time.Time` (`RFC3339Nano`, the offset given kept).
    #[serde(
        default,
        deserialize_with = "go_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<String>,
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
    pub subject_transforms: Vec<SubjectTransformConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamConsumerSource>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A JSON time as Go reads it into a `time.Time` and writes it back.
fn go_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    go_rfc3339(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\": not an RFC 3339 time"
        ))
    })
}

/// `text` parsed as RFC 3339 and written as Go's `RFC3339Nano`: the fraction without its
/// trailing zeros, the offset as given, `Z` for UTC.
fn go_rfc3339(text: &str) -> Option<String> {
    use chrono::Timelike;
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond();
    if nanos > 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    if t.offset().local_minus_utc() == 0 {
        out.push('Z');
    } else {
        out.push_str(&t.format("%:z").to_string());
    }
    Some(out)
}

/// nats-server's `getHash`: the first eight bytes of the SHA-256 of `input`, each as one of
/// 62 letters and digits. Used for index names, consumer names and stream identities.
pub fn get_hash(input: &str) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let sha = Sha256::digest(input.as_bytes());
    sha.iter()
        .take(8)
        .map(|b| char::from(DIGITS[usize::from(b % 62)]))
        .collect()
}

impl StreamSource {
    /// The index name (nats-server's `composeIName`): the origin's name (with the API
    /// prefix's and durable consumer's hashes when set), the filters and the destinations,
    /// several joined by form feeds. It tells sources apart and keys their state.
    pub fn iname(&self) -> String {
        let mut name = self.name.clone();
        if let Some(ext) = &self.external {
            name.push(':');
            name.push_str(&get_hash(&ext.api));
        }
        if let Some(c) = &self.consumer {
            name.push_str(":C=");
            name.push_str(&get_hash(&c.name));
        }
        let or_all = |s: &str| if s.is_empty() { ">" } else { s }.to_string();
        let (source, dest) = if self.subject_transforms.is_empty() {
            (or_all(&self.filter_subject), ">".to_string())
        } else {
            let join = |f: fn(&SubjectTransformConfig) -> &str| {
                self.subject_transforms
                    .iter()
                    .map(|t| or_all(f(t)))
                    .collect::<Vec<_>>()
                    .join("\x0c")
            };
            (join(|t| &t.src), join(|t| &t.dest))
        };
        format!("{name} {source} {dest}")
    }

    /// nats-server's `composeCName`: the origin (with the API prefix's hash) and the durable
    /// consumer's name; two sources may not share one.
    fn cname(&self) -> String {
        let mut name = self.name.clone();
        if let Some(ext) = &self.external {
            name.push(':');
            name.push_str(&get_hash(&ext.api));
        }
        let consumer = self.consumer.as_ref().map_or("", |c| c.name.as_str());
        format!("{name} {consumer}")
    }

    /// `opt_start_time` as nanoseconds since the epoch; `None` when unset (or past what
    /// nanoseconds since 1970 can hold).
    pub fn opt_start_nanos(&self) -> Option<i64> {
        let t = chrono::DateTime::parse_from_rfc3339(self.opt_start_time.as_deref()?).ok()?;
        t.timestamp_nanos_opt()
    }

    /// The subjects the origin's consumer filters on: the filter subject, or each
    /// transform's source (empty meaning all); empty for everything.
    pub fn filters(&self) -> Vec<String> {
        if self.subject_transforms.is_empty() {
            return (!self.filter_subject.is_empty())
                .then(|| self.filter_subject.clone())
                .into_iter()
                .collect();
        }
        self.subject_transforms
            .iter()
            .map(|t| {
                if t.src.is_empty() {
                    ">".to_string()
                } else {
                    t.src.clone()
                }
            })
            .collect()
    }

    /// Whether the origin is in this account (no `external` block).
    pub fn is_local(&self) -> bool {
        self.external.is_none()
    }
}

impl StreamConsumerSource {
    /// The checks nats-server makes on a durable consumer given for a mirror or source.
    fn is_valid(&self) -> bool {
        is_valid_name(&self.name)
            && strom_proto::subject::is_valid_literal_subject(self.deliver_subject.as_bytes())
    }
}

/// What the mirror and source checks collect for the checks on external prefixes.
#[derive(Default)]
struct Collected {
    /// The subjects of the local origins.
    origin_subjects: Vec<String>,
    deliver_prefixes: Vec<String>,
    api_prefixes: Vec<String>,
}

impl Collected {
    fn external(&mut self, ext: &ExternalStream) {
        if !ext.deliver.is_empty() {
            self.deliver_prefixes.push(ext.deliver.clone());
        }
        if !ext.api.is_empty() {
            self.api_prefixes.push(ext.api.clone());
        }
    }
}

/// The mirror and source part of nats-server's `checkStreamCfg`, in its order: the mirror,
/// the sources, the external prefixes, then cycles through the account's streams. Returns
/// the `mirror_direct` the stream gets: a mirror of a local origin inherits the origin's
/// `allow_direct` (refused in pedantic mode when the request says otherwise).
///
/// # Errors
/// nats-server's error for the first check that fails.
pub(crate) fn check(
    cfg: &StreamConfig,
    streams: &StreamLookup,
    pedantic: bool,
) -> Result<bool, JsError> {
    let mut seen = Collected::default();
    let mut mirror_direct = cfg.mirror_direct;
    if let Some(mirror) = &cfg.mirror {
        mirror_direct = check_mirror(cfg, mirror, streams, pedantic, &mut seen)?;
    }
    check_sources(cfg, streams, &mut seen)?;
    check_prefixes(&seen)?;
    check_cycles(cfg, streams)?;
    Ok(mirror_direct)
}

/// The checks on a mirror (M1–M16 of the design notes).
fn check_mirror(
    cfg: &StreamConfig,
    mirror: &StreamSource,
    streams: &StreamLookup,
    pedantic: bool,
    seen: &mut Collected,
) -> Result<bool, JsError> {
    if cfg.first_seq > 0 {
        return Err(JsError::Coded(code::MIRROR_WITH_FIRST_SEQ));
    }
    if !cfg.subjects.is_empty() {
        return Err(JsError::Coded(code::MIRROR_WITH_SUBJECTS));
    }
    if !cfg.sources.is_empty() {
        return Err(JsError::Coded(code::MIRROR_WITH_SOURCES));
    }
    for (flag, err) in [
        ("allow_msg_counter", code::MIRROR_WITH_COUNTERS),
        ("allow_atomic", code::MIRROR_WITH_ATOMIC),
        ("allow_batched", code::MIRROR_WITH_BATCHED),
        ("allow_msg_schedules", code::MIRROR_WITH_SCHEDULES),
    ] {
        if cfg.flag(flag) {
            return Err(JsError::Coded(err));
        }
    }
    if mirror
        .consumer
        .as_ref()
        .is_some_and(|c| !c.is_valid() || has_start_or_filter(mirror))
    {
        return Err(JsError::Coded(code::MIRROR_CONSUMER_INVALID));
    }
    if !mirror.filter_subject.is_empty() && !mirror.subject_transforms.is_empty() {
        return Err(JsError::Coded(code::MIRROR_FILTER_AND_TRANSFORMS));
    }
    if cfg.subject_delete_marker_ttl > 0 {
        // Markers would take sequence numbers the origin does not have.
        return Err(JsError::InvalidStreamConfig(
            "subject delete markers forbidden on mirrors".into(),
        ));
    }
    check_mirror_transforms(&mirror.subject_transforms)?;
    let Some(ext) = &mirror.external else {
        return check_local_mirror(cfg, mirror, streams, pedantic, seen);
    };
    seen.external(ext);
    Ok(cfg.mirror_direct)
}

/// A mirror's transforms, one at a time: its source, its destination, then whether its
/// source overlaps another's.
fn check_mirror_transforms(transforms: &[SubjectTransformConfig]) -> Result<(), JsError> {
    for (i, t) in transforms.iter().enumerate() {
        check_transform_source(&t.src).map_err(JsError::MirrorInvalidSubjectFilter)?;
        validate_mapping(&t.src, &t.dest).map_err(JsError::MirrorInvalidTransformDestination)?;
        let overlap = transforms.iter().enumerate().any(|(j, u)| {
            i != j && strom_proto::subject::overlaps(t.src.as_bytes(), u.src.as_bytes())
        });
        if overlap {
            return Err(JsError::Coded(code::MIRROR_OVERLAPPING_FILTERS));
        }
    }
    Ok(())
}

/// The checks on a mirror of a stream in this account, and the `mirror_direct` it inherits.
fn check_local_mirror(
    cfg: &StreamConfig,
    mirror: &StreamSource,
    streams: &StreamLookup,
    pedantic: bool,
    seen: &mut Collected,
) -> Result<bool, JsError> {
    if !is_valid_name(&mirror.name) {
        return Err(JsError::Coded(code::MIRROR_INVALID_NAME));
    }
    // The origin need not exist; when it does, its messages must fit.
    let Some(origin) = streams(&mirror.name) else {
        return Ok(cfg.mirror_direct);
    };
    if smaller_max_msg_size(cfg, &origin) {
        return Err(JsError::Coded(code::MIRROR_MAX_MSG_SIZE));
    }
    if pedantic && cfg.mirror_direct != origin.allow_direct {
        return Err(JsError::Pedantic(
            "origin stream has direct get set, mirror has it disabled".into(),
        ));
    }
    seen.origin_subjects.extend(origin.subjects);
    Ok(origin.allow_direct)
}

/// The checks on the sources (S0–S9 of the design notes), each source in turn.
fn check_sources(
    cfg: &StreamConfig,
    streams: &StreamLookup,
    seen: &mut Collected,
) -> Result<(), JsError> {
    if !cfg.sources.is_empty() && cfg.flag("allow_msg_schedules") {
        return Err(JsError::Coded(code::SOURCE_WITH_SCHEDULES));
    }
    let mut inames = HashSet::new();
    let mut cnames = HashSet::new();
    for source in &cfg.sources {
        if !is_valid_name(&source.name) {
            return Err(JsError::Coded(code::SOURCE_INVALID_NAME));
        }
        if !inames.insert(source.iname()) {
            return Err(JsError::Coded(code::SOURCE_DUPLICATE));
        }
        if !source.filter_subject.is_empty() && !source.subject_transforms.is_empty() {
            return Err(JsError::Coded(code::SOURCE_FILTER_AND_TRANSFORMS));
        }
        check_source_transforms(&source.subject_transforms)?;
        if let Some(c) = &source.consumer {
            if !c.is_valid() || has_start_or_filter(source) {
                return Err(JsError::Coded(code::SOURCE_CONSUMER_INVALID));
            }
            if !cnames.insert(source.cname()) {
                return Err(JsError::Coded(code::SOURCE_CONSUMER_DUPLICATE));
            }
        }
        match &source.external {
            Some(ext) => seen.external(ext),
            None => {
                let Some(origin) = streams(&source.name) else {
                    continue;
                };
                if smaller_max_msg_size(cfg, &origin) {
                    return Err(JsError::Coded(code::SOURCE_MAX_MSG_SIZE));
                }
                seen.origin_subjects.extend(origin.subjects);
            }
        }
    }
    Ok(())
}

/// A source's transforms: each source and destination, then whether any two overlap
/// (by nats-server's subset match, unlike a mirror's).
fn check_source_transforms(transforms: &[SubjectTransformConfig]) -> Result<(), JsError> {
    for t in transforms {
        check_transform_source(&t.src).map_err(JsError::SourceInvalidSubjectFilter)?;
        validate_mapping(&t.src, &t.dest).map_err(JsError::SourceInvalidTransformDestination)?;
    }
    for (i, t) in transforms.iter().enumerate() {
        for (j, u) in transforms.iter().enumerate() {
            if i != j && subset_match(&t.src, &u.src) {
                return Err(JsError::Coded(code::SOURCE_OVERLAPPING_FILTERS));
            }
        }
    }
    Ok(())
}

/// Whether a mirror or source with a durable consumer also says where to start or what to
/// take, which the consumer decides.
fn has_start_or_filter(s: &StreamSource) -> bool {
    s.opt_start_seq != 0 || s.opt_start_time.is_some() || !s.filter_subject.is_empty()
}

/// Whether the stream takes smaller messages than its origin may hold.
fn smaller_max_msg_size(cfg: &StreamConfig, origin: &StreamConfig) -> bool {
    cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size
}

/// A transform source is empty (all) or a valid subject; the error is nats-server's text.
fn check_transform_source(src: &str) -> Result<(), String> {
    if src.is_empty() || strom_proto::subject::is_valid_subject(src.as_bytes()) {
        Ok(())
    } else {
        Err(format!("invalid subject {src}"))
    }
}

/// nats-server's `subjectIsSubsetMatch`, which unlike a subset test never matches an empty
/// token (so two empty sources do not overlap, and an empty one is inside `>` only).
fn subset_match(subject: &str, test: &str) -> bool {
    if subject.is_empty() || test.is_empty() {
        return subject.is_empty() && test == ">";
    }
    strom_proto::subject::is_subset(subject.as_bytes(), test.as_bytes())
}

/// nats-server's `ValidateMapping`: whether a transform of `src` may have `dest` (empty
/// keeps the subject), with nats-server's texts.
fn validate_mapping(src: &str, dest: &str) -> Result<(), String> {
    const INVALID: &str = "invalid mapping destination: invalid transform";
    if dest.is_empty() {
        return Ok(());
    }
    let mut after_fwc = false;
    for t in dest.split('.') {
        if t.is_empty() || after_fwc {
            return Err(if t.is_empty() {
                INVALID.to_string()
            } else {
                format!("{INVALID} in {t}")
            });
        }
        let function = t.len() > 4 && t.starts_with("{{") && t.ends_with("}}");
        if function {
            continue;
        }
        if t == ">" {
            after_fwc = true;
        } else if t.contains([' ', '\t', '\n', '\x0c', '\r']) {
            return Err(INVALID.to_string());
        }
    }
    // nats-server's `NewSubjectTransform`: both valid subjects, no `*` in the destination,
    // and a `>` in both or in neither.
    let src = if src.is_empty() { ">" } else { src };
    let has_fwc = |s: &str| s.split('.').any(|t| t == ">");
    let subjects_fit = strom_proto::subject::is_valid_subject(src.as_bytes())
        && strom_proto::subject::is_valid_subject(dest.as_bytes())
        && !dest.split('.').any(|t| t == "*")
        && has_fwc(src) == has_fwc(dest);
    if !subjects_fit {
        return Err("invalid subject".into());
    }
    Transform::new(src, dest).map(|_| ())
}

/// The external prefixes (X1–X4): deliveries must come back on a literal subject that the
/// local origins' subjects do not catch, and an API prefix must be literal and not this
/// account's own API.
fn check_prefixes(seen: &Collected) -> Result<(), JsError> {
    let literal = |s: &str| strom_proto::subject::is_valid_literal_subject(s.as_bytes());
    for pfx in &seen.deliver_prefixes {
        if !literal(pfx) {
            return Err(JsError::ExternalDeliverPrefixWildcards(pfx.clone()));
        }
        for sub in &seen.origin_subjects {
            let delivered = format!("{pfx}.{sub}");
            if strom_proto::subject::overlaps(sub.as_bytes(), delivered.as_bytes()) {
                return Err(JsError::ExternalDeliverPrefixOverlaps {
                    prefix: pfx.clone(),
                    subject: sub.clone(),
                });
            }
        }
    }
    for pfx in &seen.api_prefixes {
        if !literal(pfx) {
            return Err(JsError::InvalidStreamConfig(format!(
                "stream external api prefix {pfx:?} must be a valid subject without wildcards"
            )));
        }
        if strom_proto::subject::overlaps(pfx.as_bytes(), JS_API_PREFIX.as_bytes()) {
            return Err(JsError::ExternalApiOverlap(pfx.clone()));
        }
    }
    Ok(())
}

/// nats-server's cycle check: a walk from the new configuration through the local origins
/// of its sources and mirror. Reaching a stream already visited is a cycle for a mirror, and
/// for a source whose filter takes what the visiting stream stores.
fn check_cycles(cfg: &StreamConfig, streams: &StreamLookup) -> Result<(), JsError> {
    let cycle = || JsError::InvalidStreamConfig("detected cycle".into());
    let mut queue = VecDeque::from([cfg.clone()]);
    let mut visited = HashSet::new();
    while let Some(c) = queue.pop_front() {
        visited.insert(c.name.clone());
        for s in c.sources.iter().filter(|s| s.is_local()) {
            if visited.contains(&s.name) {
                if takes_from(&c.subjects, &s.filter_subject) {
                    return Err(cycle());
                }
            } else if let Some(origin) = streams(&s.name) {
                queue.push_back(origin);
            }
        }
        if let Some(m) = c.mirror.as_ref().filter(|m| m.is_local()) {
            if visited.contains(&m.name) {
                return Err(cycle());
            }
            if let Some(origin) = streams(&m.name) {
                queue.push_back(origin);
            }
        }
    }
    Ok(())
}

/// Whether a source filter (empty: everything) takes messages stored under `subjects`.
fn takes_from(subjects: &[String], filter: &str) -> bool {
    filter.is_empty()
        || subjects
            .iter()
            .any(|s| strom_proto::subject::overlaps(s.as_bytes(), filter.as_bytes()))
}

/// The checks nats-server's `addStream` makes on a new stream's mirror and source filters
/// after its limits, which `checkStreamCfg` leaves to it (500/10049).
///
/// # Errors
/// [`JsError::StreamCreateFailed`] with nats-server's text.
pub(crate) fn check_filters(cfg: &StreamConfig) -> Result<(), JsError> {
    let valid = |s: &str| s.is_empty() || strom_proto::subject::is_valid_subject(s.as_bytes());
    if let Some(m) = &cfg.mirror {
        if m.subject_transforms.is_empty() && !valid(&m.filter_subject) {
            // nats-server wraps its "invalid subject" without a colon here.
            return Err(JsError::StreamCreateFailed(format!(
                "subject filter '{}' for the mirror invalid subject",
                m.filter_subject
            )));
        }
        for t in &m.subject_transforms {
            if !valid(&t.src) {
                return Err(JsError::StreamCreateFailed(format!(
                    "invalid subject transform source '{}' for the mirror: invalid subject",
                    t.src
                )));
            }
            check_transform(&t.src, &t.dest, "mirror")?;
        }
    }
    for s in &cfg.sources {
        if s.subject_transforms.is_empty() && !valid(&s.filter_subject) {
            return Err(JsError::StreamCreateFailed(format!(
                "subject filter '{}' for the source: invalid subject",
                s.filter_subject
            )));
        }
        for t in &s.subject_transforms {
            if !valid(&t.src) {
                return Err(JsError::StreamCreateFailed(format!(
                    "subject filter '{}' for the source: invalid subject",
                    t.src
                )));
            }
            check_transform(&t.src, &t.dest, "source")?;
        }
    }
    Ok(())
}

/// A transform with a destination can be built (nats-server's `NewSubjectTransform`).
fn check_transform(src: &str, dest: &str, of: &str) -> Result<(), JsError> {
    if dest.is_empty() {
        return Ok(());
    }
    validate_mapping(src, dest).map_err(|e| {
        JsError::StreamCreateFailed(format!(
            "subject transform from '{src}' to '{dest}' for the {of}: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::jetstream::errors::ApiError;

    /// The streams the design notes' captures (exp4) were made against.
    const ACCOUNT: &[&str] = &[
        r#"{"name":"ORIG","subjects":["orig.>"]}"#,
        r#"{"name":"ORIG2","subjects":["orig2.>"]}"#,
        r#"{"name":"ORIGX","subjects":["dlv.>"]}"#,
        r#"{"name":"ORIGMS","subjects":["origms.>"],"max_msg_size":1000}"#,
        r#"{"name":"CYB","subjects":["cyb"],"sources":[{"name":"CYA"}]}"#,
        r#"{"name":"CYM2","mirror":{"name":"CYM"}}"#,
        r#"{"name":"DIRECT","subjects":["direct.>"],"allow_direct":true}"#,
    ];

    /// A create as the API makes it: the request, `checkStreamCfg`, then `addStream`'s
    /// filter checks; the error as nats-server's JSON has it.
    fn create(
        json: &str,
        account: &BTreeMap<String, StreamConfig>,
    ) -> Result<StreamConfig, ApiError> {
        let v: serde_json::Value = serde_json::from_str(json).expect("test JSON");
        let name = v["name"].as_str().unwrap_or_default();
        let lookup = |n: &str| account.get(n).cloned();
        StreamConfig::for_create(json.as_bytes(), name)
            .and_then(|c| c.checked(&lookup))
            .and_then(|c| check_filters(&c).map(|()| c))
            .map_err(|e| e.api())
    }

    fn account() -> BTreeMap<String, StreamConfig> {
        let mut account = BTreeMap::new();
        for json in ACCOUNT {
            let cfg = create(json, &account).expect("the account's streams are valid");
            account.insert(cfg.name.clone(), cfg);
        }
        account
    }

    /// Every refusal captured from nats-server 2.15.1 (design notes §2.5), with its request.
    const REFUSED: &[(&str, u16, u16, &str)] = &[
        (r#"{"name":"E1","subjects":["e1"],"mirror":{"name":"ORIG"}}"#, 400, 10034, "stream mirrors can not contain subjects"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"sources":[{"name":"ORIG2"}]}"#, 400, 10031, "stream mirrors can not also contain other sources"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"first_seq":10}"#, 400, 10143, "stream mirrors can not have first sequence configured"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig.a","subject_transforms":[{"src":"orig.b","dest":"x"}]}}"#, 400, 10150, "mirror with multiple subject transforms cannot also have a single subject filter"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.>","dest":"x.>"},{"src":"orig.a","dest":"y"}]}}"#, 400, 10152, "mirror subject filters can not overlap"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig..a","dest":"x"}]}}"#, 400, 10151, "mirror transform source: invalid subject orig..a"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.*","dest":"x.{{wildcard(2)}}"}]}}"#, 400, 10154, "mirror transform: invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"),
        (r#"{"name":"E1","mirror":{"name":"a.b"}}"#, 400, 10142, "mirrored stream name is invalid"),
        (r#"{"name":"E1","mirror":{"name":""}}"#, 400, 10142, "mirrored stream name is invalid"),
        (r#"{"name":"E1","mirror":{"name":"E1"}}"#, 500, 10052, "detected cycle"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig..a"}}"#, 500, 10049, "subject filter 'orig..a' for the mirror invalid subject"),
        (r#"{"name":"E1","mirror":{"name":"ORIGMS"},"max_msg_size":100}"#, 400, 10030, "stream mirror must have max message size >= source"),
        (r#"{"name":"E1","subjects":["e1"],"mirror_direct":true}"#, 500, 10052, "stream has no mirror but does have mirror direct"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"allow_msg_counter":true}"#, 400, 10173, "stream mirrors can not also calculate counters"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"allow_atomic":true}"#, 400, 10198, "stream mirrors can not also use atomic publishing"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"allow_msg_schedules":true}"#, 400, 10186, "stream mirrors can not also schedule messages"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"allow_batched":true}"#, 400, 10209, "stream mirrors can not also use batch publishing"),
        (r#"{"name":"E1","mirror":{"name":"ORIG"},"subject_delete_marker_ttl":5000000000,"allow_msg_ttl":true,"allow_rollup_hdrs":true}"#, 500, 10052, "subject delete markers forbidden on mirrors"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","consumer":{"name":"c.x","deliver_subject":"dd"}}}"#, 400, 10213, "stream mirror consumer config is invalid"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig.a","consumer":{"name":"cx","deliver_subject":"dd"}}}"#, 400, 10213, "stream mirror consumer config is invalid"),
        (r#"{"name":"E1","mirror":{"name":"DIRECT"},"mirror_direct":false,"pedantic":true}"#, 400, 10157, "pedantic mode: origin stream has direct get set, mirror has it disabled"),
        (r#"{"name":"E1","subjects":["e1"],"sources":[{"name":"ORIG"}],"allow_msg_schedules":true}"#, 400, 10187, "stream source can not also schedule messages"),
        (r#"{"name":"E1","sources":[{"name":"ORIG"},{"name":"ORIG"}]}"#, 400, 10140, "duplicate source configuration detected"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a"},{"name":"ORIG","subject_transforms":[{"src":"orig.a","dest":">"}]}]}"#, 400, 10140, "duplicate source configuration detected"),
        (r#"{"name":"E1","sources":[{"name":"a b"}]}"#, 400, 10141, "sourced stream name is invalid"),
        (r#"{"name":"E1","sources":[{"name":""}]}"#, 400, 10141, "sourced stream name is invalid"),
        (r#"{"name":"E1","sources":[null]}"#, 400, 10141, "sourced stream name is invalid"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a","subject_transforms":[{"src":"orig.b","dest":"x"}]}]}"#, 400, 10144, "source with multiple subject transforms cannot also have a single subject filter"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.>","dest":"x.>"},{"src":"orig.a","dest":"y"}]}]}"#, 400, 10147, "source filters can not overlap"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig..a","dest":"x"}]}]}"#, 400, 10145, "source transform source: invalid subject orig..a"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.*","dest":"x.{{wildcard(2)}}"}]}]}"#, 400, 10146, "source transform: invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig..a"}]}"#, 500, 10049, "subject filter 'orig..a' for the source: invalid subject"),
        (r#"{"name":"E1","sources":[{"name":"ORIGMS"}],"max_msg_size":100}"#, 400, 10046, "stream source must have max message size >= target"),
        (r#"{"name":"E1","subjects":["e1.>"],"sources":[{"name":"E1"}]}"#, 500, 10052, "detected cycle"),
        (r#"{"name":"E1","sources":[{"name":"E1"}]}"#, 500, 10052, "detected cycle"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","consumer":{"name":"cx","deliver_subject":"d.*"}}]}"#, 400, 10215, "stream source consumer config is invalid"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a","consumer":{"name":"cx","deliver_subject":"d1"}}]}"#, 400, 10215, "stream source consumer config is invalid"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.a","dest":"a"}],"consumer":{"name":"cx","deliver_subject":"d1"}},{"name":"ORIG","subject_transforms":[{"src":"orig.b","dest":"b"}],"consumer":{"name":"cx","deliver_subject":"d2"}}]}"#, 400, 10216, "duplicate stream source consumer detected"),
        (r#"{"name":"E1","sources":[{"name":"X","external":{"api":"$JS.hub.API","deliver":"dlv.*"}}]}"#, 400, 10024, "stream external delivery prefix dlv.* must not contain wildcards"),
        (r#"{"name":"E1","sources":[{"name":"X","external":{"api":"$JS.API","deliver":"dlv"}}]}"#, 400, 10021, "stream external api prefix $JS.API must not overlap with $JS.API"),
        (r#"{"name":"E1","sources":[{"name":"X","external":{"api":"$JS.*.API","deliver":"dlv"}}]}"#, 500, 10052, "stream external api prefix \"$JS.*.API\" must be a valid subject without wildcards"),
        (r#"{"name":"E1","sources":[{"name":"ORIG","external":{"api":"$JS.hub.API","deliver":"dlv"}},{"name":"ORIGX"}]}"#, 400, 10022, "stream external delivery prefix dlv overlaps with stream subject dlv.>"),
        (r#"{"name":"CYA","subjects":["cya"],"sources":[{"name":"CYB"}]}"#, 500, 10052, "detected cycle"),
        (r#"{"name":"CYM","mirror":{"name":"CYM2"}}"#, 500, 10052, "detected cycle"),
        (r#"{"name":"E1","mirror":{"name":"ORIG","bogus":1}}"#, 400, 10025, "invalid JSON: json: unknown field \"bogus\""),
    ];

    #[test]
    fn refusals_match_nats_server() {
        let account = account();
        for (json, code, err_code, description) in REFUSED {
            let expected = ApiError {
                code: *code,
                err_code: *err_code,
                description: (*description).to_string(),
            };
            assert_eq!(create(json, &account).err(), Some(expected), "{json}");
        }
    }

    #[test]
    fn accepted_as_nats_server_accepts() {
        let account = account();
        for json in [
            r#"{"name":"E1","mirror":{"name":"ORIG","opt_start_seq":5,"opt_start_time":"2024-01-01T00:00:00Z"}}"#,
            r#"{"name":"E1","subjects":["e1.>"],"sources":[{"name":"E1","filter_subject":"zzz"}]}"#,
            r#"{"name":"E_OK1","mirror":{"name":"NOPE"}}"#,
            r#"{"name":"E1","mirror":{"name":"ORIGMS"},"max_msg_size":1000}"#,
            r#"{"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a"},{"name":"ORIG","filter_subject":"orig.b"}]}"#,
            r#"{"name":"E1","sources":[{"name":"R","external":{"api":"$JS.hub.API","deliver":"dlv.hub"}}]}"#,
            r#"{"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.a","dest":""},{"src":"orig.b","dest":"x.b"}]}}"#,
        ] {
            assert!(
                create(json, &account).is_ok(),
                "{json}: {:?}",
                create(json, &account)
            );
        }
    }

    #[test]
    fn a_mirror_inherits_direct_gets_from_a_local_origin() {
        let account = account();
        let cfg = create(r#"{"name":"M","mirror":{"name":"DIRECT"}}"#, &account).expect("valid");
        assert!(cfg.mirror_direct && !cfg.allow_direct);
        let cfg = create(
            r#"{"name":"M","mirror":{"name":"ORIG"},"mirror_direct":true}"#,
            &account,
        )
        .expect("valid");
        assert!(!cfg.mirror_direct, "the origin has no direct gets");
        let cfg = create(
            r#"{"name":"M","mirror":{"name":"NOPE"},"mirror_direct":true}"#,
            &account,
        )
        .expect("valid");
        assert!(cfg.mirror_direct, "without an origin the request stands");
        let cfg = create(
            r#"{"name":"M","mirror":{"name":"DIRECT"},"mirror_direct":true,"pedantic":true}"#,
            &account,
        )
        .expect("valid");
        assert!(cfg.mirror_direct && !cfg.other.contains_key("pedantic"));
    }

    fn source(json: &str) -> StreamSource {
        serde_json::from_str(json).expect("a valid source")
    }

    #[test]
    fn hashes_match_captured_traffic() {
        assert_eq!(get_hash("MIR $G"), "L9fwEMNd");
        assert_eq!(
            get_hash(&format!("{} ORIGIN o.a.> >", get_hash("SRC $G"))),
            "Jr5Dr9Zo"
        );
        assert_eq!(get_hash("2026-11-23T21:16:46.815977933Z"), "o3a1sMPt");
    }

    #[test]
    fn index_names_follow_nats_server() {
        assert_eq!(
            source(r#"{"name":"ORIGIN","filter_subject":"o.a.>"}"#).iname(),
            "ORIGIN o.a.> >"
        );
        assert_eq!(
            source(r#"{"name":"ORIGIN","subject_transforms":[{"src":"o.b.>","dest":"bb.>"}]}"#)
                .iname(),
            "ORIGIN o.b.> bb.>"
        );
        assert_eq!(source(r#"{"name":"R"}"#).iname(), "R > >");
        assert_eq!(
            source(
                r#"{"name":"TT","subject_transforms":[{"src":"tt.a","dest":"x.a"},{"src":"tt.b","dest":""}]}"#
            )
            .iname(),
            "TT tt.a\x0ctt.b x.a\x0c>"
        );
        let ext =
            source(r#"{"name":"R","external":{"api":"$JS.hub.API"},"consumer":{"name":"C"}}"#);
        assert_eq!(
            ext.iname(),
            format!("R:{}:C={} > >", get_hash("$JS.hub.API"), get_hash("C"))
        );
        assert_eq!(ext.cname(), format!("R:{} C", get_hash("$JS.hub.API")));
        // A filter and the same subject as a transform to everything are one source.
        assert_eq!(
            source(r#"{"name":"O","filter_subject":"o.a"}"#).iname(),
            source(r#"{"name":"O","subject_transforms":[{"src":"o.a","dest":">"}]}"#).iname()
        );
    }

    #[test]
    fn serialization_echoes_the_config_as_given() {
        for json in [
            r#"{"name":"O3","opt_start_seq":7}"#,
            r#"{"name":"O3","filter_subject":"o3.a"}"#,
            r#"{"name":"TT","subject_transforms":[{"src":"tt.b","dest":""}]}"#,
            r#"{"name":"REMOTE","external":{"api":"$JS.hub.API","deliver":"dlv.hub"}}"#,
            r#"{"name":"KV_A","subject_transforms":[{"src":"$KV.A.>","dest":"$KV.S.>"}]}"#,
            r#"{"name":"O","opt_start_time":"2020-01-01T00:00:00Z","consumer":{"name":"c","deliver_subject":"d"}}"#,
        ] {
            assert_eq!(serde_json::to_string(&source(json)).expect("json"), json);
        }
        assert_eq!(
            serde_json::to_string(&source(
                r#"{"name":"REMOTE","external":{"api":"$JS.hub.API"}}"#
            ))
            .expect("json"),
            r#"{"name":"REMOTE","external":{"api":"$JS.hub.API","deliver":""}}"#
        );
        assert_eq!(
            serde_json::to_string(&source(
                r#"{"name":"N","opt_start_seq":null,"filter_subject":null,"subject_transforms":null,"external":null,"consumer":{}}"#
            ))
            .expect("json"),
            r#"{"name":"N","consumer":{}}"#
        );
    }

    #[test]
    fn start_times_are_written_as_go_writes_them() {
        let t = |s: &str| {
            source(&format!(r#"{{"name":"O","opt_start_time":"{s}"}}"#))
                .opt_start_time
                .expect("a time")
        };
        assert_eq!(t("2020-01-01T00:00:00.000Z"), "2020-01-01T00:00:00Z");
        assert_eq!(
            t("2020-01-01T00:00:00.120+00:00"),
            "2020-01-01T00:00:00.12Z"
        );
        assert_eq!(t("2020-01-01T01:00:00+01:00"), "2020-01-01T01:00:00+01:00");
        let s = source(r#"{"name":"O","opt_start_time":"2020-01-01T01:00:00.5+01:00"}"#);
        assert_eq!(s.opt_start_nanos(), Some(1_577_836_800_500_000_000));
        assert!(
            serde_json::from_str::<StreamSource>(r#"{"name":"O","opt_start_time":"x"}"#).is_err()
        );
        assert_eq!(source(r#"{"name":"O"}"#).opt_start_nanos(), None);
    }

    #[test]
    fn filters_are_the_filter_or_the_transform_sources() {
        assert!(source(r#"{"name":"O"}"#).filters().is_empty());
        assert_eq!(
            source(r#"{"name":"O","filter_subject":"o.a"}"#).filters(),
            ["o.a"]
        );
        assert_eq!(
            source(r#"{"name":"O","subject_transforms":[{"src":"o.b","dest":"x"},{"src":"","dest":"y.>"}]}"#)
                .filters(),
            ["o.b", ">"]
        );
    }

    #[test]
    fn mappings_are_validated_with_nats_server_texts() {
        assert_eq!(validate_mapping("orig.a", ""), Ok(()));
        assert_eq!(validate_mapping("o.>", "x.>"), Ok(()));
        assert_eq!(
            validate_mapping("orig.*", "x.{{wildcard(2)}}"),
            Err(
                "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
                    .into()
            )
        );
        assert_eq!(validate_mapping("o.>", "x"), Err("invalid subject".into()));
        assert_eq!(
            validate_mapping("o.*", "x.*"),
            Err("invalid subject".into())
        );
        assert_eq!(
            validate_mapping("o", "x..y"),
            Err("invalid mapping destination: invalid transform".into())
        );
        assert_eq!(
            validate_mapping("o.>", "x.>.y"),
            Err("invalid mapping destination: invalid transform in y".into())
        );
    }

    #[test]
    fn subset_match_never_matches_an_empty_token() {
        assert!(!subset_match("", ""));
        assert!(subset_match("", ">"));
        assert!(subset_match("o.a", "o.>"));
        assert!(!subset_match("o.>", "o.a"));
    }
}
