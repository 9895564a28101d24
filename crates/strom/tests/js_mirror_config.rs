//! The configuration side of mirrors and sources: creates and updates whose answers must be
//! nats-server's — the same `error` object for every refusal, and for every success the same
//! `mirror`, `sources`, `subjects`, `duplicate_window` and `mirror_direct` in the echoed
//! config. Requests are sent as raw bytes, so both servers read exactly the same JSON. Only
//! the answers are compared, not the copying that a successful create starts.

mod common;

use common::{reference_or_skip, ServerProcess, TempDir};
use serde_json::{json, Value};

/// The streams the cases run against (as in the design notes' captures).
fn account() -> Vec<Value> {
    vec![
        json!({"name":"ORIG","subjects":["orig.>"]}),
        json!({"name":"ORIG2","subjects":["orig2.>"]}),
        json!({"name":"ORIGX","subjects":["dlv.>"]}),
        json!({"name":"ORIGMS","subjects":["origms.>"],"max_msg_size":1000}),
        json!({"name":"CYB","subjects":["cyb"],"sources":[{"name":"CYA"}]}),
        json!({"name":"CYM2","mirror":{"name":"CYM"}}),
        json!({"name":"DIRECT","subjects":["direct.>"],"allow_direct":true}),
    ]
}

/// (case, create request, the err_code nats-server answers with, 0 for success). A stream
/// created by a case is deleted before the next.
fn creates() -> Vec<(&'static str, Value, u64)> {
    vec![
        (
            "mirror+subjects",
            json!({"name":"E1","subjects":["e1"],"mirror":{"name":"ORIG"}}),
            10034,
        ),
        (
            "mirror+sources",
            json!({"name":"E1","mirror":{"name":"ORIG"},"sources":[{"name":"ORIG2"}]}),
            10031,
        ),
        (
            "mirror+first_seq",
            json!({"name":"E1","mirror":{"name":"ORIG"},"first_seq":10}),
            10143,
        ),
        (
            "mirror filter+transforms",
            json!({"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig.a","subject_transforms":[{"src":"orig.b","dest":"x"}]}}),
            10150,
        ),
        (
            "mirror overlapping transforms",
            json!({"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.>","dest":"x.>"},{"src":"orig.a","dest":"y"}]}}),
            10152,
        ),
        (
            "mirror invalid transform src",
            json!({"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig..a","dest":"x"}]}}),
            10151,
        ),
        (
            "mirror invalid transform dest",
            json!({"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.*","dest":"x.{{wildcard(2)}}"}]}}),
            10154,
        ),
        (
            "mirror transform dest with *",
            json!({"name":"E1","mirror":{"name":"ORIG","subject_transforms":[{"src":"orig.*","dest":"x.*"}]}}),
            10154,
        ),
        (
            "mirror invalid name",
            json!({"name":"E1","mirror":{"name":"a.b"}}),
            10142,
        ),
        (
            "mirror empty name",
            json!({"name":"E1","mirror":{"name":""}}),
            10142,
        ),
        (
            "mirror empty object",
            json!({"name":"E1","mirror":{}}),
            10142,
        ),
        (
            "mirror self",
            json!({"name":"E1","mirror":{"name":"E1"}}),
            10052,
        ),
        (
            "mirror start seq+time",
            json!({"name":"E1","mirror":{"name":"ORIG","opt_start_seq":5,"opt_start_time":"2024-01-01T00:00:00Z"}}),
            0,
        ),
        (
            "mirror start time written as Go writes it",
            json!({"name":"E1","mirror":{"name":"ORIG","opt_start_time":"2024-01-01T01:00:00.500+01:00"}}),
            0,
        ),
        (
            "mirror start time in UTC with zeros",
            json!({"name":"E1","mirror":{"name":"ORIG","opt_start_time":"2024-01-01T00:00:00.000+00:00"}}),
            0,
        ),
        (
            "mirror invalid filter",
            json!({"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig..a"}}),
            10049,
        ),
        (
            "mirror max_msg_size smaller",
            json!({"name":"E1","mirror":{"name":"ORIGMS"},"max_msg_size":100}),
            10030,
        ),
        (
            "mirror max_msg_size equal",
            json!({"name":"E1","mirror":{"name":"ORIGMS"},"max_msg_size":1000}),
            0,
        ),
        (
            "mirror_direct without mirror",
            json!({"name":"E1","subjects":["e1"],"mirror_direct":true}),
            10052,
        ),
        (
            "mirror+counter",
            json!({"name":"E1","mirror":{"name":"ORIG"},"allow_msg_counter":true}),
            10173,
        ),
        (
            "mirror+atomic",
            json!({"name":"E1","mirror":{"name":"ORIG"},"allow_atomic":true}),
            10198,
        ),
        (
            "mirror+schedules",
            json!({"name":"E1","mirror":{"name":"ORIG"},"allow_msg_schedules":true}),
            10186,
        ),
        (
            "mirror+batched",
            json!({"name":"E1","mirror":{"name":"ORIG"},"allow_batched":true}),
            10209,
        ),
        (
            "mirror+sdm ttl",
            json!({"name":"E1","mirror":{"name":"ORIG"},"subject_delete_marker_ttl":5_000_000_000_i64,"allow_msg_ttl":true,"allow_rollup_hdrs":true}),
            10052,
        ),
        (
            "mirror consumer invalid",
            json!({"name":"E1","mirror":{"name":"ORIG","consumer":{"name":"c.x","deliver_subject":"dd"}}}),
            10213,
        ),
        (
            "mirror consumer w/ filter",
            json!({"name":"E1","mirror":{"name":"ORIG","filter_subject":"orig.a","consumer":{"name":"cx","deliver_subject":"dd"}}}),
            10213,
        ),
        (
            "mirror unknown field",
            json!({"name":"E1","mirror":{"name":"ORIG","bogus":1}}),
            10025,
        ),
        (
            "mirror inherits direct gets",
            json!({"name":"E1","mirror":{"name":"DIRECT"}}),
            0,
        ),
        (
            "mirror of a plain origin loses mirror_direct",
            json!({"name":"E1","mirror":{"name":"ORIG"},"mirror_direct":true}),
            0,
        ),
        (
            "mirror of a missing origin keeps mirror_direct",
            json!({"name":"E1","mirror":{"name":"NOPE"},"mirror_direct":true}),
            0,
        ),
        (
            "pedantic mirror_direct mismatch",
            json!({"name":"E1","mirror":{"name":"DIRECT"},"pedantic":true}),
            10157,
        ),
        (
            "pedantic mirror_direct match",
            json!({"name":"E1","mirror":{"name":"DIRECT"},"mirror_direct":true,"pedantic":true}),
            0,
        ),
        (
            "KV mirror bucket",
            json!({"name":"KV_M","max_msgs_per_subject":5,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"duplicate_window":120_000_000_000_i64,"allow_direct":true,"mirror_direct":true,"mirror":{"name":"KV_A"}}),
            0,
        ),
        (
            "sources+schedules",
            json!({"name":"E1","subjects":["e1"],"sources":[{"name":"ORIG"}],"allow_msg_schedules":true}),
            10187,
        ),
        (
            "dup sources",
            json!({"name":"E1","sources":[{"name":"ORIG"},{"name":"ORIG"}]}),
            10140,
        ),
        (
            "dup sources same filter",
            json!({"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a"},{"name":"ORIG","subject_transforms":[{"src":"orig.a","dest":">"}]}]}),
            10140,
        ),
        (
            "source invalid name",
            json!({"name":"E1","sources":[{"name":"a b"}]}),
            10141,
        ),
        (
            "source empty name",
            json!({"name":"E1","sources":[{"name":""}]}),
            10141,
        ),
        ("source null", json!({"name":"E1","sources":[null]}), 10141),
        (
            "source filter+transforms",
            json!({"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a","subject_transforms":[{"src":"orig.b","dest":"x"}]}]}),
            10144,
        ),
        (
            "source overlapping transforms",
            json!({"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.>","dest":"x.>"},{"src":"orig.a","dest":"y"}]}]}),
            10147,
        ),
        (
            "source invalid transform src",
            json!({"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig..a","dest":"x"}]}]}),
            10145,
        ),
        (
            "source invalid transform dest",
            json!({"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.*","dest":"x.{{wildcard(2)}}"}]}]}),
            10146,
        ),
        (
            "source invalid filter",
            json!({"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig..a"}]}),
            10049,
        ),
        (
            "source max_msg_size smaller",
            json!({"name":"E1","sources":[{"name":"ORIGMS"}],"max_msg_size":100}),
            10046,
        ),
        (
            "source self",
            json!({"name":"E1","subjects":["e1.>"],"sources":[{"name":"E1"}]}),
            10052,
        ),
        (
            "source self nonoverlapping filter",
            json!({"name":"E1","subjects":["e1.>"],"sources":[{"name":"E1","filter_subject":"zzz"}]}),
            0,
        ),
        (
            "source self no subjects",
            json!({"name":"E1","sources":[{"name":"E1"}]}),
            10052,
        ),
        (
            "source consumer invalid",
            json!({"name":"E1","sources":[{"name":"ORIG","consumer":{"name":"cx","deliver_subject":"d.*"}}]}),
            10215,
        ),
        (
            "source consumer with filter",
            json!({"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a","consumer":{"name":"cx","deliver_subject":"d1"}}]}),
            10215,
        ),
        (
            "source consumer dup",
            json!({"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.a","dest":"a"}],"consumer":{"name":"cx","deliver_subject":"d1"}},{"name":"ORIG","subject_transforms":[{"src":"orig.b","dest":"b"}],"consumer":{"name":"cx","deliver_subject":"d2"}}]}),
            10216,
        ),
        (
            "external deliver wildcard",
            json!({"name":"E1","sources":[{"name":"X","external":{"api":"$JS.hub.API","deliver":"dlv.*"}}]}),
            10024,
        ),
        (
            "external api overlaps",
            json!({"name":"E1","sources":[{"name":"X","external":{"api":"$JS.API","deliver":"dlv"}}]}),
            10021,
        ),
        (
            "external api wildcard",
            json!({"name":"E1","sources":[{"name":"X","external":{"api":"$JS.*.API","deliver":"dlv"}}]}),
            10052,
        ),
        (
            "external deliver overlaps subjects",
            json!({"name":"E1","sources":[{"name":"ORIG","external":{"api":"$JS.hub.API","deliver":"dlv"}},{"name":"ORIGX"}]}),
            10022,
        ),
        (
            "external without deliver",
            json!({"name":"E1","sources":[{"name":"REMOTE","external":{"api":"$JS.hub.API"}}]}),
            0,
        ),
        (
            "sources with filter and transform",
            json!({"name":"E1","sources":[{"name":"ORIG","filter_subject":"orig.a.>"},{"name":"ORIG","subject_transforms":[{"src":"orig.b.>","dest":"bb.>"}]}]}),
            0,
        ),
        (
            "source transform with empty dest",
            json!({"name":"E1","sources":[{"name":"ORIG","subject_transforms":[{"src":"orig.b","dest":""}]}]}),
            0,
        ),
        (
            "sources null",
            json!({"name":"E1","subjects":["e1"],"sources":null,"mirror":null}),
            0,
        ),
        (
            "source subjects overlap the origin",
            json!({"name":"E1","subjects":["orig.x"],"sources":[{"name":"ORIG"}]}),
            10065,
        ),
        (
            "cycle A<-B<-A",
            json!({"name":"CYA","subjects":["cya"],"sources":[{"name":"CYB"}]}),
            10052,
        ),
        (
            "mirror of mirror chain cycle",
            json!({"name":"CYM","mirror":{"name":"CYM2"}}),
            10052,
        ),
        (
            "mirror nonexistent ok",
            json!({"name":"E_OK1","mirror":{"name":"NOPE"}}),
            0,
        ),
    ]
}

/// (case, stream, update request, err_code or 0), run in order against UM (a mirror of
/// ORIG) and UP (a plain stream).
fn updates() -> Vec<(&'static str, &'static str, Value, u64)> {
    vec![
        (
            "change the mirror's origin",
            "UM",
            json!({"name":"UM","mirror":{"name":"ORIG2"}}),
            10055,
        ),
        (
            "add a filter to the mirror",
            "UM",
            json!({"name":"UM","mirror":{"name":"ORIG","filter_subject":"orig.a"}}),
            10055,
        ),
        (
            "add subjects to a mirror",
            "UM",
            json!({"name":"UM","mirror":{"name":"ORIG"},"subjects":["um"]}),
            10034,
        ),
        (
            "add a mirror to a plain stream",
            "UP",
            json!({"name":"UP","mirror":{"name":"ORIG"}}),
            10055,
        ),
        (
            "add a mirror to a plain stream, no subjects",
            "UP",
            json!({"name":"UP","mirror":{"name":"ORIG"},"subjects":[]}),
            10055,
        ),
        (
            "the same mirror again",
            "UM",
            json!({"name":"UM","mirror":{"name":"ORIG"}}),
            0,
        ),
        (
            "promote the mirror",
            "UM",
            json!({"name":"UM","subjects":["um.>"]}),
            0,
        ),
        (
            "add sources to a plain stream",
            "UP",
            json!({"name":"UP","subjects":["up"],"sources":[{"name":"ORIG"}]}),
            0,
        ),
        (
            "change a source's filter",
            "UP",
            json!({"name":"UP","subjects":["up"],"sources":[{"name":"ORIG","filter_subject":"orig.a"}]}),
            0,
        ),
        (
            "add a second source",
            "UP",
            json!({"name":"UP","subjects":["up"],"sources":[{"name":"ORIG","filter_subject":"orig.a"},{"name":"ORIG2"}]}),
            0,
        ),
        (
            "duplicate sources in an update",
            "UP",
            json!({"name":"UP","subjects":["up"],"sources":[{"name":"ORIG2"},{"name":"ORIG2"}]}),
            10140,
        ),
        (
            "a source cycle made by an update",
            "ORIG2",
            json!({"name":"ORIG2","subjects":["orig2.>"],"sources":[{"name":"UP"}]}),
            10052,
        ),
        (
            "remove the sources",
            "UP",
            json!({"name":"UP","subjects":["up"]}),
            0,
        ),
        (
            "a bad mirror in an update of a missing stream",
            "NOSUCH",
            json!({"name":"NOSUCH","mirror":{"name":"a.b"}}),
            10142,
        ),
        (
            "an update of a missing stream",
            "NOSUCH",
            json!({"name":"NOSUCH","subjects":["nosuch"]}),
            10059,
        ),
    ]
}

/// What is compared of an answer: the error, or the config fields mirrors and sources
/// decide, and the echoed config's text (field order and left-out fields included).
fn outcome(answer: &Answer) -> Value {
    if let Some(e) = answer.json.get("error") {
        return json!({ "error": e });
    }
    let c = &answer.json["config"];
    json!({
        "mirror": c.get("mirror"),
        "sources": c.get("sources"),
        "subjects": c.get("subjects"),
        "duplicate_window": c.get("duplicate_window"),
        "mirror_direct": c.get("mirror_direct"),
        "allow_direct": c.get("allow_direct"),
        "text": raw_object(&answer.text, "\"config\":"),
    })
}

/// An API answer, parsed and as sent.
struct Answer {
    json: Value,
    text: String,
}

/// The text of the object that follows `key` in `text`, with Go's HTML escapes (`\u003e`
/// for `>`...) written as the characters they stand for.
fn raw_object(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    let object = &text[start..start + i + 1];
                    return Some(
                        object
                            .replace("\\u003e", ">")
                            .replace("\\u003c", "<")
                            .replace("\\u0026", "&"),
                    );
                }
            }
            _ => {}
        }
    }
    None
}

async fn request(nc: &async_nats::Client, subject: String, body: &Value) -> Answer {
    raw_request(nc, subject, body.to_string().into_bytes()).await
}

async fn raw_request(nc: &async_nats::Client, subject: String, body: Vec<u8>) -> Answer {
    let reply = nc
        .request(subject, body.into())
        .await
        .expect("the API answers");
    let text = String::from_utf8(reply.payload.to_vec()).expect("the answer is UTF-8");
    let json = serde_json::from_str(&text).expect("the answer is JSON");
    Answer { json, text }
}

async fn create(nc: &async_nats::Client, cfg: &Value) -> Answer {
    let name = cfg["name"].as_str().unwrap_or_default();
    request(nc, format!("$JS.API.STREAM.CREATE.{name}"), cfg).await
}

async fn delete(nc: &async_nats::Client, name: &str) {
    let answer = raw_request(nc, format!("$JS.API.STREAM.DELETE.{name}"), Vec::new()).await;
    assert_eq!(
        answer.json["success"], true,
        "delete {name}: {}",
        answer.text
    );
}

async fn connect_with_account(server: &ServerProcess) -> async_nats::Client {
    let nc = async_nats::connect(server.url()).await.expect("connects");
    for cfg in account() {
        let answer = create(&nc, &cfg).await;
        assert!(answer.json.get("error").is_none(), "{cfg}: {}", answer.text);
    }
    nc
}

/// Every create case's outcome, in order.
async fn observe_creates(server: &ServerProcess) -> Vec<Value> {
    let nc = connect_with_account(server).await;
    let mut out = Vec::new();
    for (_, cfg, _) in creates() {
        let answer = create(&nc, &cfg).await;
        if answer.json.get("error").is_none() {
            delete(&nc, cfg["name"].as_str().unwrap_or_default()).await;
        }
        out.push(outcome(&answer));
    }
    out
}

/// Every update case's outcome, in order, then the idempotent-create outcomes.
async fn observe_updates(server: &ServerProcess) -> Vec<Value> {
    let nc = connect_with_account(server).await;
    for cfg in [
        json!({"name":"UM","mirror":{"name":"ORIG"}}),
        json!({"name":"UP","subjects":["up"]}),
    ] {
        let answer = create(&nc, &cfg).await;
        assert!(answer.json.get("error").is_none(), "{cfg}: {}", answer.text);
    }
    let mut out = Vec::new();
    for (_, stream, cfg, _) in updates() {
        let answer = request(&nc, format!("$JS.API.STREAM.UPDATE.{stream}"), &cfg).await;
        out.push(outcome(&answer));
    }
    let same = json!({"name":"ID1","sources":[{"name":"ORIG","filter_subject":"orig.a"}]});
    let other = json!({"name":"ID1","sources":[{"name":"ORIG","filter_subject":"orig.b"}]});
    for cfg in [&same, &same, &other] {
        out.push(outcome(&create(&nc, cfg).await));
    }
    out
}

fn start(bin: Option<&std::path::Path>, dir: &TempDir) -> ServerProcess {
    let store = dir.0.to_str().expect("utf-8 path");
    let args = ["-js", "-sd", store];
    match bin {
        Some(b) => ServerProcess::reference(b, &args, None),
        None => ServerProcess::strom(&args),
    }
}

fn err_code(outcome: &Value) -> u64 {
    outcome["error"]["err_code"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn mirror_and_source_creates_are_answered_as_nats_server_answers() {
    let dir = TempDir::new("mirror-config");
    let ours = observe_creates(&start(None, &dir)).await;
    let cases = creates();
    for ((case, cfg, expected), got) in cases.iter().zip(&ours) {
        assert_eq!(err_code(got), *expected, "{case}: {cfg} -> {got}");
        assert!(*expected != 0 || got["text"].is_string(), "{case}: {got}");
    }
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("mirror-config-ref");
    let theirs = observe_creates(&start(Some(&reference), &dir)).await;
    for (((case, cfg, _), a), b) in cases.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a, b, "{case}: {cfg}: strom vs nats-server");
    }
}

#[tokio::test]
async fn mirror_and_source_updates_are_answered_as_nats_server_answers() {
    let dir = TempDir::new("mirror-update");
    let ours = observe_updates(&start(None, &dir)).await;
    let cases = updates();
    let expected: Vec<u64> = cases
        .iter()
        .map(|(_, _, _, e)| *e)
        .chain([0, 0, 10058])
        .collect();
    for (i, (got, want)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(err_code(got), *want, "step {i}: {got}");
    }
    let promoted = &ours[6];
    assert_eq!(
        promoted["duplicate_window"], 120_000_000_000_i64,
        "{promoted}"
    );
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("mirror-update-ref");
    let theirs = observe_updates(&start(Some(&reference), &dir)).await;
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let case = cases.get(i).map_or("idempotent create", |c| c.0);
        assert_eq!(a, b, "step {i} ({case}): strom vs nats-server");
    }
}
