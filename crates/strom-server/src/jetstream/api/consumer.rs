//! `$JS.API.CONSUMER.*`: create (every subject form and action), info, names, list, delete,
//! pause, unpin and leader stepdown, in nats-server's JSON and with its error codes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{find, json, parse};
use crate::jetstream::consumer::{Consumer, InfoJson};
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use crate::jetstream::errors::JsError;
use crate::jetstream::stream::Stream;
use crate::jetstream::stream_config::{null_as_default, Retention};
use crate::jetstream::{advisory, wire, JetStream, JsAccount};

pub const CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
pub const INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
pub const NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
pub const LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
pub const DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
pub const PAUSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
pub const UNPIN: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";
pub const STEPDOWN: &str = "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";

/// The header naming a stream's identity, in a sourcing consumer's request and answer.
pub const STREAM_IDENTITY: &[u8] = b"Nats-Stream-Identity";

const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;

/// The response `type` of a consumer API path (tokens after `CONSUMER`).
pub fn response_type(t: &[&str]) -> Option<&'static str> {
    Some(match t {
        ["CREATE", _, ..] | ["DURABLE", "CREATE", _, ..] => CREATE,
        ["INFO", _, _] => INFO,
        ["NAMES", _] => NAMES,
        ["LIST", _] => LIST,
        ["DELETE", _, _] => DELETE,
        ["PAUSE", _, _] => PAUSE,
        ["UNPIN", _, _] => UNPIN,
        ["LEADER", "STEPDOWN", _, _] => STEPDOWN,
        _ => return None,
    })
}

/// Extra fields nats-server includes in an error of this kind.
pub fn error_extra(kind: &str) -> &'static [u8] {
    match kind {
        NAMES | LIST => b",\"total\":0,\"offset\":0,\"limit\":0,\"consumers\":[]",
        _ => b"",
    }
}

/// Answers a consumer API request (tokens after `CONSUMER`).
pub fn handle(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    t: &[&str],
    body: &[u8],
    headers: Option<&[u8]>,
) -> Result<Vec<u8>, JsError> {
    let create = |stream: &str, form: Form<'_>| create(js, jsa, stream, form, body, headers);
    match t {
        ["CREATE", stream] => create(stream, Form::Ephemeral),
        ["CREATE", stream, name] => create(stream, Form::Named(name, None)),
        ["CREATE", stream, name, filter @ ..] => {
            let filter = filter.join(".");
            create(stream, Form::Named(name, Some(&filter)))
        }
        ["DURABLE", "CREATE", stream, name] => create(stream, Form::Durable(name)),
        ["DURABLE", "CREATE", ..] => Err(JsError::Coded(10016)),
        ["INFO", stream, name] => info(jsa, stream, name),
        ["NAMES", stream] => names(jsa, stream, body),
        ["LIST", stream] => list(jsa, stream, body),
        ["DELETE", stream, name] => delete(js, jsa, stream, name),
        ["PAUSE", stream, name] => pause(js, jsa, stream, name, body),
        ["UNPIN", stream, name] => unpin(js, jsa, stream, name, body),
        ["LEADER", "STEPDOWN", _, _] => Err(JsError::Text(
            503,
            10010,
            "JetStream clustering support required".into(),
        )),
        _ => Err(JsError::BadRequest),
    }
}

/// How the create subject names the consumer.
enum Form<'a> {
    /// `CONSUMER.CREATE.<stream>`: the name (if any) comes from the config.
    Ephemeral,
    /// `CONSUMER.CREATE.<stream>.<name>[.<filter>]`.
    Named(&'a str, Option<&'a str>),
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>` (older clients).
    Durable(&'a str),
}

#[derive(Deserialize, Default)]
struct CreateRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    stream_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    config: ConsumerConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    action: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pedantic: bool,
}

#[derive(PartialEq)]
enum Action {
    CreateOrUpdate,
    Create,
    Update,
}

fn create(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    stream_name: &str,
    form: Form<'_>,
    body: &[u8],
    headers: Option<&[u8]>,
) -> Result<Vec<u8>, JsError> {
    let req: CreateRequest = parse(body)?;
    let action = match req.action.as_str() {
        "" => Action::CreateOrUpdate,
        "create" => Action::Create,
        "update" => Action::Update,
        other => {
            return Err(JsError::InvalidJson(format!(
                "unknown consumer action: {:?}",
                other
            )))
        }
    };
    let mut cfg = req.config;
    if req.stream_name != stream_name {
        return Err(JsError::StreamNameMismatch);
    }
    let (name, filter) = match form {
        Form::Ephemeral => {
            if cfg.is_durable() {
                return Err(JsError::Coded(10020));
            }
            (cfg.name.clone(), None)
        }
        Form::Named(name, filter) => {
            if cfg.is_durable() && cfg.durable_name != name {
                return Err(JsError::Coded(10017));
            }
            cfg.name = name.to_string();
            (name.to_string(), filter)
        }
        Form::Durable(name) => {
            if !cfg.is_durable() {
                return Err(JsError::Coded(10018));
            }
            if cfg.durable_name != name {
                return Err(JsError::Coded(10017));
            }
            cfg.name = name.to_string();
            (name.to_string(), None)
        }
    };
    if name.contains(['\\', '/']) {
        return Err(JsError::Coded(10127));
    }
    if let Some(f) = filter {
        if !cfg.filter_subjects.is_empty() {
            return Err(JsError::Coded(10137));
        }
        if cfg.filter_subject != f {
            return Err(JsError::Coded(10131));
        }
    }
    if cfg.num_replicas > 1 {
        return Err(JsError::ReplicasNotSupported);
    }
    let stream = find(jsa, stream_name)?;
    let sourcing = cfg.is_sourcing() && !name.is_empty();
    if sourcing {
        // A mirror or sourcing stream asking: it names the origin it expects, and learns
        // the origin's identity from the answer (a recreated origin has another).
        let identity = stream.identity();
        let expected = headers
            .and_then(|h| strom_proto::headers::get(h, STREAM_IDENTITY))
            .filter(|v| !v.is_empty());
        if expected.is_some_and(|v| v != identity.as_bytes()) {
            return Err(JsError::Text(
                400,
                10225,
                format!("consumer's stream identity does not match: {identity}"),
            ));
        }
        super::answer_headers(
            strom_proto::headers::Builder::new()
                .add("Nats-Stream-Identity", identity.as_bytes())
                .finish(),
        );
    }
    let retention = stream.config.read().retention;
    let name = match (sourcing, retention) {
        (false, _) => name,
        // Each request makes a consumer of its own, which goes when its stream stops
        // listening (nats-server's name suffix for direct consumers).
        (true, Retention::Limits) => {
            let name = format!(
                "{name}-{}",
                crate::jetstream::source_config::get_hash(&wire::random_token(22))
            );
            cfg.name = name.clone();
            name
        }
        // An interest or work-queue origin keeps messages for the sourcing stream until it
        // has them: a durable consumer that its flow-control answers acknowledge
        // (nats-server's upgrade to AckFlowControl).
        (true, _) => {
            cfg.durable_name = name.clone();
            cfg.direct = false;
            cfg.ack_policy = AckPolicy::FlowControl;
            cfg.ack_wait = 0;
            cfg.max_deliver = 0;
            cfg.inactive_threshold = 0;
            cfg.flow_control = true;
            if cfg.idle_heartbeat == 0 {
                cfg.idle_heartbeat = 1_000_000_000;
            }
            name
        }
    };
    let existing = (!name.is_empty())
        .then(|| stream.consumers.read().get(&name).cloned())
        .flatten();
    if let Some(e) = &existing {
        cfg.pause_until = e.config.read().pause_until.clone();
    }
    let scfg = stream.config.read().clone();
    if req.pedantic
        && !cfg.backoff.is_empty()
        && cfg.ack_wait != 0
        && cfg.ack_wait != cfg.backoff[0]
    {
        return Err(JsError::Text(
            400,
            10157,
            "pedantic mode: first backoff value has to equal batch AckWait".into(),
        ));
    }
    let cfg = cfg.with_defaults(
        scfg.consumer_limits.max_ack_pending.unwrap_or(0),
        scfg.consumer_limits.inactive_threshold.unwrap_or(0),
        jsa.limits.max_ack_pending,
    );
    cfg.check(&scfg, jsa.limits.max_ack_pending)?;
    if let Some(e) = existing {
        let old = e.config.read().clone();
        let cfg_deliver = cfg.deliver_subject.clone();
        if action == Action::Create && old != cfg {
            return Err(JsError::Coded(10148));
        }
        if scfg.retention == Retention::Workqueue && !partition_unique(&stream, &name, &cfg) {
            return Err(JsError::Coded(10100));
        }
        if sourcing {
            // The sourcing stream set up again: the durable keeps its start and position,
            // takes the new deliver subject, and starts again after its ack floor.
            let mut cfg = old.clone();
            cfg.deliver_subject = cfg_deliver;
            e.update(&stream, cfg)?;
            e.restart_after_ack_floor();
            stream.wake_consumers();
            return Ok(json(&e.info(&stream, Some(CREATE))));
        }
        let bound = old.is_push() && crate::jetstream::consumer::stream_interest(&stream, &old);
        old.check_update(&cfg, bound)?;
        if old != cfg {
            e.update(&stream, cfg)?;
            stream.wake_consumers();
        }
        return Ok(json(&e.info(&stream, Some(CREATE))));
    }
    if action == Action::Update {
        return Err(JsError::Coded(10149));
    }
    let stream_full =
        !sourcing && scfg.max_consumers > 0 && stream.consumer_count() as i64 >= scfg.max_consumers;
    let account_full = !sourcing
        && jsa.limits.max_consumers > 0
        && jsa.consumer_count() as i64 >= jsa.limits.max_consumers;
    if stream_full || account_full {
        return Err(JsError::Coded(10026));
    }
    if scfg.retention == Retention::Workqueue && !sourcing {
        if cfg.ack_policy != AckPolicy::Explicit {
            return Err(JsError::Coded(10098));
        }
        if cfg.deliver_policy != DeliverPolicy::All {
            return Err(JsError::Coded(10101));
        }
        if stream.consumer_count() > 0 {
            if cfg.filters().is_empty() {
                return Err(JsError::Coded(10099));
            }
            if !partition_unique(&stream, &name, &cfg) {
                return Err(JsError::Coded(10100));
            }
        }
    }
    let name = if name.is_empty() {
        wire::random_token(8)
    } else {
        name
    };
    let consumer = Consumer::create(&stream, name.clone(), cfg)?;
    stream.add_consumer(consumer.clone());
    if let Some(server) = js.server.upgrade() {
        advisory::consumer_action(&server, &js.ingest_context(), &stream, &name, "create");
    }
    Ok(json(&consumer.info(&stream, Some(CREATE))))
}

/// Whether the consumer's filters overlap no other consumer's in a work-queue stream.
fn partition_unique(stream: &Stream, name: &str, cfg: &ConsumerConfig) -> bool {
    let mine = cfg.filters();
    stream
        .consumers
        .read()
        .values()
        .filter(|c| c.name != name)
        .all(|c| {
            let theirs = c.config.read().filters();
            if mine.is_empty() || theirs.is_empty() {
                return false;
            }
            !mine.iter().any(|a| {
                theirs
                    .iter()
                    .any(|b| strom_proto::subject::overlaps(a.as_bytes(), b.as_bytes()))
            })
        })
}

fn find_consumer(stream: &Stream, name: &str) -> Result<Arc<Consumer>, JsError> {
    stream
        .consumers
        .read()
        .get(name)
        .cloned()
        .ok_or(JsError::Coded(10014))
}

fn info(jsa: &JsAccount, stream: &str, name: &str) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, stream)?;
    let c = find_consumer(&stream, name)?;
    Ok(json(&c.info(&stream, Some(INFO))))
}

#[derive(Deserialize, Default)]
struct PageRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    offset: usize,
}

#[derive(Serialize)]
struct NamesResponse<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    total: usize,
    offset: usize,
    limit: usize,
    consumers: &'a [String],
}

fn names(jsa: &JsAccount, stream: &str, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let req: PageRequest = parse(body)?;
    let stream = find(jsa, stream)?;
    let all: Vec<String> = stream
        .consumers
        .read()
        .values()
        .filter(|c| !c.is_sourcing())
        .map(|c| c.name.clone())
        .collect();
    let offset = req.offset.min(all.len());
    let page: Vec<String> = all.iter().skip(offset).take(NAMES_LIMIT).cloned().collect();
    Ok(json(&NamesResponse {
        kind: NAMES,
        total: all.len(),
        offset,
        limit: NAMES_LIMIT,
        consumers: &page,
    }))
}

#[derive(Serialize)]
struct ListResponse {
    #[serde(rename = "type")]
    kind: &'static str,
    total: usize,
    offset: usize,
    limit: usize,
    consumers: Vec<InfoJson>,
}

fn list(jsa: &JsAccount, stream: &str, body: &[u8]) -> Result<Vec<u8>, JsError> {
    let req: PageRequest = parse(body)?;
    let stream = find(jsa, stream)?;
    let all: Vec<Arc<Consumer>> = stream
        .consumers
        .read()
        .values()
        .filter(|c| !c.is_sourcing())
        .cloned()
        .collect();
    let offset = req.offset.min(all.len());
    let consumers = all
        .iter()
        .skip(offset)
        .take(LIST_LIMIT)
        .map(|c| {
            let mut i = c.info(&stream, None);
            // nats-server lists the stored configuration: without the server's metadata.
            if let Some(c) = i.config.as_mut() {
                c.metadata.remove("_nats.level");
                c.metadata.remove("_nats.ver");
            }
            i
        })
        .collect();
    Ok(json(&ListResponse {
        kind: LIST,
        total: all.len(),
        offset,
        limit: LIST_LIMIT,
        consumers,
    }))
}

fn delete(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    stream: &str,
    name: &str,
) -> Result<Vec<u8>, JsError> {
    let stream = find(jsa, stream)?;
    let c = stream.remove_consumer(name).ok_or(JsError::Coded(10014))?;
    c.delete_files();
    stream.drop_acknowledged();
    stream.wake_consumers();
    if let Some(server) = js.server.upgrade() {
        c.release_waiting(&server, &stream);
        advisory::consumer_action(&server, &js.ingest_context(), &stream, name, "delete");
    }
    Ok(json(&wire::SuccessResponse {
        kind: DELETE,
        success: true,
    }))
}

#[derive(Deserialize, Default)]
struct PauseRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pause_until: String,
}

#[derive(Serialize)]
struct PauseResponse {
    #[serde(rename = "type")]
    kind: &'static str,
    paused: bool,
    pause_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_remaining: Option<i64>,
}

fn pause(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    stream: &str,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    let req: PauseRequest = parse(body)?;
    let until = if req.pause_until.is_empty() {
        0
    } else {
        wire::parse_time(&req.pause_until).ok_or_else(|| {
            JsError::InvalidJson(format!("parsing time {:?}: cannot parse", req.pause_until))
        })?
    };
    let stream = find(jsa, stream)?;
    let c = find_consumer(&stream, name)?;
    let mut cfg = c.config.read().clone();
    let now = wire::now_nanos();
    cfg.pause_until = (until > 0).then(|| wire::time_json(until));
    cfg.set_required_level();
    c.update(&stream, cfg.clone())?;
    stream.wake_consumers();
    let paused = until > now;
    if let Some(server) = js.server.upgrade() {
        advisory::consumer_pause(
            &server,
            &js.ingest_context(),
            &stream,
            name,
            paused,
            &wire::time_json(until),
        );
    }
    Ok(json(&PauseResponse {
        kind: PAUSE,
        paused,
        pause_until: wire::time_json(until),
        pause_remaining: paused.then(|| until - now),
    }))
}

#[derive(Deserialize, Default)]
struct UnpinRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    group: String,
}

#[derive(Serialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: &'static str,
}

fn unpin(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    stream: &str,
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, JsError> {
    let req: UnpinRequest =
        serde_json::from_slice(body).map_err(|e| JsError::InvalidJson(e.to_string()))?;
    if req.group.is_empty() {
        return Err(JsError::InvalidJson("consumer group not specified".into()));
    }
    let ok = req.group.len() <= 16
        && req
            .group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/=)+".contains(c));
    if !ok {
        return Err(JsError::Coded(10162));
    }
    let stream = find(jsa, stream)?;
    let c = find_consumer(&stream, name)?;
    if !c.config.read().priority_groups.contains(&req.group) {
        return Err(JsError::Text(
            400,
            10160,
            "Provided priority group does not exist for this consumer".into(),
        ));
    }
    let unpinned = c.inner.lock().pin.take().is_some();
    if unpinned {
        stream.wake_consumers();
        if let Some(server) = js.server.upgrade() {
            advisory::consumer_unpinned(
                &server,
                &js.ingest_context(),
                &stream,
                name,
                &req.group,
                "admin",
            );
        }
    }
    Ok(json(&TypeOnly { kind: UNPIN }))
}
