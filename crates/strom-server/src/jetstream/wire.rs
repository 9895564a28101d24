//! The JSON of JetStream API responses, in nats-server's field order: the `type` of every
//! response, stream info and state, paging, account info, stored messages.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use super::errors::{ApiError, JsError};
use super::stream_config::StreamConfig;

pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
pub const MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub const MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";

/// Go's zero `time.Time` as JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the epoch as Go encodes a `time.Time` in JSON (RFC 3339, UTC, trailing
/// zeros of the fraction dropped); 0 is Go's zero time.
pub fn time_json(nanos: i64) -> String {
    if nanos == 0 {
        return ZERO_TIME.to_string();
    }
    format_time(Utc.timestamp_nanos(nanos))
}

pub fn format_time(t: DateTime<Utc>) -> String {
    // Go's RFC3339Nano: nine digits of fraction with trailing zeros dropped (and the dot too).
    let mut s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    if let Some(dot) = s.rfind('.') {
        let z = s.len() - 1; // the 'Z'
        let frac_end = s[dot + 1..z].trim_end_matches('0').len() + dot + 1;
        let cut = if frac_end == dot + 1 { dot } else { frac_end };
        s.replace_range(cut..z, "");
    }
    s
}

/// An RFC 3339 time as nanoseconds since the epoch; Go's zero time is 0.
pub fn parse_time(s: &str) -> Option<i64> {
    if s == ZERO_TIME {
        return Some(0);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()?
        .with_timezone(&Utc)
        .timestamp_nanos_opt()
}

/// Nanoseconds as Go prints a `time.Duration` (`0s`, `500ms`, `1.5s`, `2m0s`, `1h0m0s`).
pub fn go_duration_ns(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.ilog10() as usize;
        let f = format!("{rest:0digits$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let s = frac(s * 1_000_000_000 + sub, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else if m > 0 {
            format!("{m}m{s}s")
        } else {
            format!("{s}s")
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// `n` random characters from nats-server's base-62 digits (ephemeral consumer names, flow
/// control subjects).
pub fn random_token(n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..n)
        .map(|_| DIGITS[rand::random::<usize>() % DIGITS.len()] as char)
        .collect()
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// An error response: `{"type":…,"error":{…}}`.
#[derive(Serialize)]
pub struct ErrorResponse<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub error: ApiError,
}

pub fn error_json(kind: &str, e: &JsError) -> Vec<u8> {
    serde_json::to_vec(&ErrorResponse {
        kind,
        error: e.api(),
    })
    .unwrap_or_default()
}

/// A stream's state.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StateJson {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    pub consumer_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterJson {
    pub leader: String,
}

/// What stream create, update, info and list answer with.
#[derive(Debug, Clone, Serialize)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: String,
    pub state: StateJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<super::sourcing::SourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<super::sourcing::SourceInfo>,
    pub ts: String,
}

#[derive(Serialize)]
pub struct InfoResponse<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub paged: Option<Paged>,
    #[serde(flatten)]
    pub info: &'a StreamInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub did_create: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Paged {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Serialize)]
pub struct NamesResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Vec<String>,
}

#[derive(Serialize)]
pub struct ListResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Vec<StreamInfo>,
}

#[derive(Serialize)]
pub struct SuccessResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub success: bool,
}

#[derive(Serialize)]
pub struct PurgeResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub success: bool,
    pub purged: u64,
}

/// A message as `STREAM.MSG.GET` returns it: headers and data in base64.
#[derive(Serialize)]
pub struct StoredMsgJson {
    pub subject: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    pub time: String,
}

impl StoredMsgJson {
    pub fn from(m: &strom_store::StoredMsg) -> Self {
        let b64 =
            |b: &[u8]| (!b.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(b));
        StoredMsgJson {
            subject: String::from_utf8_lossy(&m.subject).into_owned(),
            seq: m.seq,
            hdrs: b64(&m.headers),
            data: b64(&m.payload),
            time: time_json(m.ts),
        }
    }
}

#[derive(Serialize)]
pub struct MsgGetResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: StoredMsgJson,
}

/// An account's limits as `$JS.API.INFO` reports them.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsJson {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiStatsJson {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

#[derive(Serialize)]
pub struct AccountInfoResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: LimitsJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub api: ApiStatsJson,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_look_like_go() {
        assert_eq!(time_json(0), ZERO_TIME);
        assert_eq!(time_json(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(time_json(1_000_000_123), "1970-01-01T00:00:01.000000123Z");
        assert_eq!(time_json(2_000_000_000), "1970-01-01T00:00:02Z");
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
    }

    #[test]
    fn durations_look_like_go() {
        assert_eq!(go_duration_ns(0), "0s");
        assert_eq!(go_duration_ns(1_000_000_000), "1s");
        assert_eq!(go_duration_ns(500_000_000), "500ms");
        assert_eq!(go_duration_ns(1_500_000_000), "1.5s");
        assert_eq!(go_duration_ns(120_000_000_000), "2m0s");
        assert_eq!(go_duration_ns(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration_ns(1_500), "1.5µs");
    }
}
