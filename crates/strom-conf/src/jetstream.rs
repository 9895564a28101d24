//! `jetstream`: `enabled`/`disabled`, a boolean, or a block, as nats-server reads it.
//!
//! Store limits take integers with size suffixes, or strings such as "1G" (only K, M, G, T,
//! powers of 1024, as nats-server's `getStorageSize`).

use std::time::Duration;

use crate::fields::Report;
use crate::suggest::Place;
use crate::value::{Entry, Map, Position, ValueKind};

const FIELDS: &[&str] = &[
    "strict",
    "store",
    "store_dir",
    "storedir",
    "sync",
    "sync_interval",
    "max_memory_store",
    "max_mem_store",
    "max_mem",
    "max_file_store",
    "max_file",
    "domain",
    "enable",
    "enabled",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

/// The `jetstream` setting.
#[derive(Clone, Debug, PartialEq)]
pub struct JetStream {
    /// `jetstream: enabled` / `true`, or a block without `enabled: false`.
    pub enabled: bool,
    /// `store_dir` / `store` / `storedir`.
    pub store_dir: Option<String>,
    /// `max_memory_store` / `max_mem_store` / `max_mem`, bytes (-1: nats-server's default).
    pub max_memory_store: Option<i64>,
    /// `max_file_store` / `max_file`, bytes (-1: nats-server's default).
    pub max_file_store: Option<i64>,
    /// `domain`.
    pub domain: Option<String>,
    /// `sync_interval` / `sync`.
    pub sync_interval: Option<SyncInterval>,
    /// `cipher`.
    pub cipher: Option<Cipher>,
    /// `key` / `ek` / `encryption_key`.
    pub key: Option<String>,
    /// Fields nats-server knows that are not typed here (`limits`, `unique_tag`, ...).
    pub other: Map,
    /// Where the value starts.
    pub at: Position,
}

/// How often the file store syncs to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncInterval {
    /// `"always"`: after every write.
    Always,
    /// A period.
    Every(Duration),
}

/// The cipher for encryption at rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// `chacha` / `chachapoly`.
    ChaCha,
    /// `aes`.
    Aes,
}

pub(crate) fn jetstream(e: &Entry, r: &mut Report) -> Option<JetStream> {
    let mut js = JetStream {
        enabled: true,
        store_dir: None,
        max_memory_store: None,
        max_file_store: None,
        domain: None,
        sync_interval: None,
        cipher: None,
        key: None,
        other: Map::new(),
        at: e.value.at.clone(),
    };
    match &e.value.kind {
        ValueKind::Bool(b) => js.enabled = *b,
        ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => js.enabled = true,
            "disabled" | "disable" => js.enabled = false,
            _ => {
                r.invalid(
                    e,
                    format!("expected 'enabled' or 'disabled' for a string value, got {s:?}"),
                );
                return None;
            }
        },
        ValueKind::Map(map) => block(map, &mut js, r),
        _ => {
            r.wrong_type(
                e,
                "enabled, disabled, true, false or a block, e.g. `jetstream { store_dir: /data }`",
            );
            return None;
        }
    }
    Some(js)
}

fn block(map: &Map, js: &mut JetStream, r: &mut Report) {
    for f in map {
        match f.key.to_ascii_lowercase().as_str() {
            "store" | "store_dir" | "storedir" => js.store_dir = r.string(f),
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                js.max_memory_store = storage_size(f, r);
            }
            "max_file_store" | "max_file" => js.max_file_store = storage_size(f, r),
            "domain" => js.domain = r.string(f),
            "sync" | "sync_interval" => js.sync_interval = sync_interval(f, r),
            "cipher" => js.cipher = cipher(f, r),
            "key" | "ek" | "encryption_key" => js.key = r.string(f),
            "enable" | "enabled" => {
                if let Some(b) = r.boolean(f) {
                    js.enabled = b;
                }
            }
            k if FIELDS.contains(&k) => js.other.insert_entry(f.clone()),
            _ => r.unknown(f, Place::JetStream, FIELDS),
        }
    }
}

/// An integer (with any size suffix), or a string of digits ending in K, M, G or T.
fn storage_size(f: &Entry, r: &mut Report) -> Option<i64> {
    let s = match &f.value.kind {
        ValueKind::Integer(n) => return Some(*n),
        ValueKind::String(s) => s,
        _ => {
            r.wrong_type(f, "a size, e.g. 10GB or \"10G\"");
            return None;
        }
    };
    if s.is_empty() {
        return Some(0);
    }
    let (digits, suffix) = s.split_at(s.len() - s.chars().last().map_or(0, char::len_utf8));
    let shift = match suffix {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            r.invalid(
                f,
                format!("{s:?}: sizes written as strings must end in K, M, G or T; or write it without quotes, e.g. 10GB"),
            );
            return None;
        }
    };
    let sized = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift));
    if sized.is_none() {
        r.invalid(
            f,
            format!("{s:?} is not a size; write digits then K, M, G or T, e.g. \"10G\""),
        );
    }
    sized
}

fn sync_interval(f: &Entry, r: &mut Report) -> Option<SyncInterval> {
    if f.value
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("always"))
    {
        return Some(SyncInterval::Always);
    }
    r.duration_or_seconds(f).map(SyncInterval::Every)
}

fn cipher(f: &Entry, r: &mut Report) -> Option<Cipher> {
    let s = r.string(f)?;
    match s.to_ascii_lowercase().as_str() {
        "chacha" | "chachapoly" => Some(Cipher::ChaCha),
        "aes" => Some(Cipher::Aes),
        _ => {
            r.invalid(
                f,
                format!("unknown cipher {s:?}; use \"chachapoly\" or \"aes\""),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_str_with_env;

    fn js(text: &str) -> (Option<JetStream>, Report) {
        let map = parse_str_with_env(text, "t.conf", &|_| None).expect("valid syntax");
        let mut r = Report::default();
        let e = map.iter().next().expect("one entry");
        (jetstream(e, &mut r), r)
    }

    #[test]
    fn short_forms() {
        assert_eq!(js("jetstream: enabled").0.map(|j| j.enabled), Some(true));
        assert_eq!(js("jetstream: Disabled").0.map(|j| j.enabled), Some(false));
        assert_eq!(js("jetstream: false").0.map(|j| j.enabled), Some(false));
        assert_eq!(js("jetstream: maybe").1.errors.len(), 1);
        assert_eq!(js("jetstream: 5").1.errors.len(), 1);
    }

    #[test]
    fn block_fields() {
        let text = "jetstream {\n store_dir: /data\n max_memory_store: 4Gi\n max_file_store: \"10G\"\n domain: us-east-1\n sync_interval: \"2m\"\n cipher: aes\n key: k\n unique_tag: az\n}";
        let (j, r) = js(text);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let j = j.expect("parsed");
        assert!(j.enabled);
        assert_eq!(j.store_dir.as_deref(), Some("/data"));
        assert_eq!(j.max_memory_store, Some(4 << 30));
        assert_eq!(j.max_file_store, Some(10 << 30));
        assert_eq!(j.domain.as_deref(), Some("us-east-1"));
        assert_eq!(
            j.sync_interval,
            Some(SyncInterval::Every(Duration::from_secs(120)))
        );
        assert_eq!(j.cipher, Some(Cipher::Aes));
        assert!(j.other.get("unique_tag").is_some());
    }

    #[test]
    fn nats_server_refusals() {
        for text in [
            "jetstream { max_file: \"10X\" }",
            "jetstream { cipher: rot13 }",
            "jetstream { enabled: yes_please }",
            "jetstream { store_dirr: /x }",
        ] {
            assert_eq!(js(text).1.errors.len(), 1, "{text}");
        }
        let (j, r) = js("jetstream { sync_interval: 2m }");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(
            j.and_then(|j| j.sync_interval),
            Some(SyncInterval::Every(Duration::from_secs(2_000_000)))
        );
        assert_eq!(
            js("jetstream { sync: always, enabled: false }")
                .0
                .map(|j| (j.sync_interval, j.enabled)),
            Some((Some(SyncInterval::Always), false))
        );
    }
}
