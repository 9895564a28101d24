//! JetStream mirrors and sources on a single server, through the real `strom` binary with
//! async-nats and the raw JetStream API: what a mirror and a sourcing stream store (sequences,
//! subjects, headers, timestamps, gaps), what STREAM.INFO says about them, restarts (clean,
//! after a purge, after kill -9), config updates (adding and removing sources, promoting and
//! changing a mirror), a missing and a recreated origin, consumers on a mirror, KV mirror and
//! sourcing buckets, and deleting a mirror under load. The specification is
//! `docs/design/mirrors-and-sources.md`.
//!
//! Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`), which proves it
//! checks what nats-server really does. Waits are polls with deadlines. Two tests are slow
//! against nats-server by design (it retries a missing origin after ~12 s and notices a deleted
//! one after ~10 s without heartbeats); their names end in `_slow`.

mod common;
mod mirrors;

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::kv;
use async_nats::jetstream::stream::Source;
use futures::StreamExt;
use serde_json::{json, Value};

use mirrors::*;

/// Five messages on `o.>`, with and without headers (the tests read the origin back to know
/// exactly what it stored).
async fn publish_sample(js: &async_nats::jetstream::Context) {
    publish(
        js,
        "o.a.1",
        &[("Nats-Msg-Id", "id1"), ("X-Custom", "v")],
        "m1",
    )
    .await;
    put(js, "o.b.2", "m2").await;
    publish(js, "o.a.3", &[("X-Custom", "two words")], "m3").await;
    publish(
        js,
        "o.b.4",
        &[("Nats-Msg-Id", "id4"), ("X-Other", "x")],
        "m4",
    )
    .await;
    put(js, "o.a.5", "").await;
}

// ---------------------------------------------------------------------------------------------
// 1. Mirrors copy verbatim
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mirror_created_after_publishing_copies_the_origin_verbatim() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "ORIGIN", "subjects": ["o.>"]})).await;
    publish_sample(&t.js).await;

    let created = create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "ORIGIN"}}),
    )
    .await;
    let cfg = config_of(&created);
    assert_eq!(cfg["mirror"], json!({"name": "ORIGIN"}), "config echoed");
    assert!(
        !cfg.contains_key("duplicate_window"),
        "a mirror gets no default duplicate window: {created}"
    );
    assert!(
        !cfg.contains_key("subjects"),
        "a mirror gets no default subjects: {created}"
    );
    assert_eq!(
        created["mirror"]["name"], "ORIGIN",
        "create answer: {created}"
    );
    assert_eq!(created["mirror"]["lag"], 0, "create answer: {created}");

    wait_caught_up(&t.client, "MIR", 5, 5).await;
    assert_same_messages(&t.client, "ORIGIN", "MIR").await;

    let v = wait_info(&t.client, "MIR", CATCH_UP, "the mirror is active", |v| {
        active(&v["mirror"]) >= 0
    })
    .await;
    assert_eq!(
        without_active(&v["mirror"]),
        json!({"name": "ORIGIN", "lag": 0}),
        "mirror block (a mirror has no seq): {v}"
    );
    assert!(v.get("sources").is_none(), "a mirror has no sources: {v}");
    assert_eq!(v["state"]["first_seq"], 1);
    assert_eq!(v["state"]["num_subjects"], 5);
}

#[tokio::test]
async fn mirror_created_before_publishing_follows_the_origin() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "ORIGIN", "subjects": ["o.>"]})).await;
    create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "ORIGIN"}}),
    )
    .await;
    let v = info(&t.client, "MIR").await;
    assert_eq!(v["state"]["messages"], 0);

    publish_sample(&t.js).await;
    wait_caught_up(&t.client, "MIR", 5, 5).await;
    assert_same_messages(&t.client, "ORIGIN", "MIR").await;

    // And it keeps following.
    put(&t.js, "o.c.6", "m6").await;
    wait_caught_up(&t.client, "MIR", 6, 6).await;
    assert_same_messages(&t.client, "ORIGIN", "MIR").await;
    let v = info(&t.client, "MIR").await;
    assert_eq!(v["mirror"]["lag"], 0, "{v}");
}

#[tokio::test]
async fn mirror_drops_expected_headers_and_keeps_the_rest() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "ORIGIN", "subjects": ["o.>"]})).await;
    publish(
        &t.js,
        "o.x",
        &[("Nats-Expected-Stream", "ORIGIN"), ("X-Custom", "v")],
        "m1",
    )
    .await;
    let origin = get(&t.client, "ORIGIN", 1).await;
    assert!(
        origin.hdrs.contains("Nats-Expected-Stream: ORIGIN\r\n"),
        "the origin stores the header as published: {origin:?}"
    );
    create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "ORIGIN"}}),
    )
    .await;
    wait_caught_up(&t.client, "MIR", 1, 1).await;
    let m = get(&t.client, "MIR", 1).await;
    assert_eq!(
        m.hdrs,
        without_lines(&origin.hdrs, "Nats-Expected-"),
        "the mirror drops Nats-Expected-* and keeps the rest in order"
    );
    assert_eq!(
        (&m.subject, &m.data, &m.time),
        (&origin.subject, &origin.data, &origin.time)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Mirror sequences: gaps, filters, start positions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mirror_keeps_the_origins_deleted_sequences_as_gaps() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O3", "subjects": ["o3.>"]})).await;
    for i in 1..=10 {
        put(&t.js, "o3.x", &format!("m{i}")).await;
    }
    for seq in 3..=5 {
        let v = api(
            &t.client,
            "$JS.API.STREAM.MSG.DELETE.O3",
            json!({"seq": seq}),
        )
        .await;
        assert_eq!(v["success"], true, "delete {seq}: {v}");
    }
    create(&t.client, json!({"name": "M3", "mirror": {"name": "O3"}})).await;
    wait_caught_up(&t.client, "M3", 7, 10).await;
    let state = info(&t.client, "M3").await["state"].clone();
    assert_eq!(
        (
            &state["first_seq"],
            &state["last_seq"],
            &state["num_deleted"]
        ),
        (&json!(1), &json!(10), &json!(3)),
        "{state}"
    );
    let v = raw_get(&t.client, "M3", 3).await;
    assert_api_error(&v, 404, 10037, "no message found");
    assert_same_messages(&t.client, "O3", "M3").await;
}

#[tokio::test]
async fn filtered_mirror_stores_matching_messages_at_their_origin_sequences() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O3", "subjects": ["o3.>"]})).await;
    // a at 1, 7 and 9; b everywhere else.
    for i in 1..=10 {
        let s = if [1, 7, 9].contains(&i) {
            "o3.a"
        } else {
            "o3.b"
        };
        put(&t.js, s, &format!("m{i}")).await;
    }
    let created = create(
        &t.client,
        json!({"name": "M3F", "mirror": {"name": "O3", "filter_subject": "o3.a"}}),
    )
    .await;
    assert_eq!(
        config_of(&created)["mirror"],
        json!({"name": "O3", "filter_subject": "o3.a"})
    );
    wait_count(&t.client, "M3F", 3).await;
    put(&t.js, "o3.a", "m11").await;
    wait_caught_up(&t.client, "M3F", 4, 11).await;

    let v = info(&t.client, "M3F").await;
    assert_eq!(v["state"]["first_seq"], 1, "{v}");
    assert_eq!(v["state"]["num_deleted"], 7, "2-6, 8 and 10 are gaps: {v}");
    assert_eq!(v["mirror"]["filter_subject"], "o3.a", "{v}");
    let o = messages(&t.client, "O3").await;
    let m = messages(&t.client, "M3F").await;
    assert_eq!(m.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 7, 9, 11]);
    for s in &m {
        let orig = &o[s.seq as usize - 1];
        assert_eq!(s.raw, orig.raw, "seq {} is the origin's verbatim", s.seq);
    }
}

#[tokio::test]
async fn mirror_with_opt_start_seq_starts_there() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O3", "subjects": ["o3.>"]})).await;
    for i in 1..=10 {
        put(&t.js, "o3.x", &format!("m{i}")).await;
    }
    let created = create(
        &t.client,
        json!({"name": "M3S", "mirror": {"name": "O3", "opt_start_seq": 7}}),
    )
    .await;
    assert_eq!(
        config_of(&created)["mirror"],
        json!({"name": "O3", "opt_start_seq": 7})
    );
    wait_caught_up(&t.client, "M3S", 4, 10).await;
    let state = info(&t.client, "M3S").await["state"].clone();
    assert_eq!(state["first_seq"], 7, "{state}");
    assert_eq!(
        state["num_deleted"].as_u64().unwrap_or(0),
        0,
        "the mirror starts at 7, it does not skip 1-6: {state}"
    );
    let m = messages(&t.client, "M3S").await;
    assert_eq!(m.iter().map(|s| s.seq).collect::<Vec<_>>(), [7, 8, 9, 10]);
    assert_eq!(m[0].raw, get(&t.client, "O3", 7).await.raw);
}

#[tokio::test]
async fn mirror_of_an_origin_starting_at_1000_starts_at_1000() {
    let t = Js::start().await;
    create(
        &t.client,
        json!({"name": "BIG", "subjects": ["big.>"], "first_seq": 1000}),
    )
    .await;
    for i in 0..3 {
        put(&t.js, "big.x", &format!("m{i}")).await;
    }
    create(
        &t.client,
        json!({"name": "MBIG", "mirror": {"name": "BIG"}}),
    )
    .await;
    wait_caught_up(&t.client, "MBIG", 3, 1002).await;
    let state = info(&t.client, "MBIG").await["state"].clone();
    assert_eq!(state["first_seq"], 1000, "{state}");
    assert_eq!(state["num_deleted"].as_u64().unwrap_or(0), 0, "{state}");
    assert_same_messages(&t.client, "BIG", "MBIG").await;
}

#[tokio::test]
async fn origin_deletes_are_not_propagated_and_a_purged_mirror_continues_after_a_restart() {
    let mut t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    for i in 1..=5 {
        put(&t.js, "o.x", &format!("m{i}")).await;
    }
    create(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    wait_caught_up(&t.client, "MIR", 5, 5).await;

    // A delete in the origin does not reach messages already mirrored.
    let v = api(&t.client, "$JS.API.STREAM.MSG.DELETE.O", json!({"seq": 4})).await;
    assert_eq!(v["success"], true, "{v}");
    put(&t.js, "o.x", "m6").await;
    wait_caught_up(&t.client, "MIR", 6, 6).await;
    assert_eq!(get(&t.client, "MIR", 4).await.data, "m4");

    // A purged mirror goes on at the next origin sequence.
    let v = api(&t.client, "$JS.API.STREAM.PURGE.MIR", Value::Null).await;
    assert_eq!(
        (&v["success"], &v["purged"]),
        (&json!(true), &json!(6)),
        "{v}"
    );
    put(&t.js, "o.x", "m7").await;
    wait_caught_up(&t.client, "MIR", 1, 7).await;
    assert_eq!(info(&t.client, "MIR").await["state"]["first_seq"], 7);

    // Even when it is empty at a restart: it is not a new mirror starting from the beginning.
    let v = api(&t.client, "$JS.API.STREAM.PURGE.MIR", Value::Null).await;
    assert_eq!(v["success"], true, "{v}");
    t.restart("TERM").await;
    let v = info(&t.client, "MIR").await;
    assert_eq!(
        (&v["state"]["messages"], &v["state"]["first_seq"]),
        (&json!(0), &json!(8)),
        "{v}"
    );
    put(&t.js, "o.x", "m8").await;
    wait_caught_up(&t.client, "MIR", 1, 8).await;
    assert_eq!(
        get(&t.client, "MIR", 8).await.raw,
        get(&t.client, "O", 8).await.raw
    );
}

#[tokio::test]
async fn mirror_with_subject_transforms_stores_renamed_subjects() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O3", "subjects": ["o3.>"]})).await;
    for s in ["o3.a", "o3.b", "o3.c", "o3.a"] {
        publish(&t.js, s, &[("X-Custom", s)], s).await;
    }
    let transforms = json!([{"src": "o3.a", "dest": "x.a"}, {"src": "o3.b", "dest": "x.b"}]);
    create(
        &t.client,
        json!({"name": "M3T", "mirror": {"name": "O3", "subject_transforms": transforms}}),
    )
    .await;
    wait_caught_up(&t.client, "M3T", 3, 4).await;
    let v = info(&t.client, "M3T").await;
    assert_eq!(v["state"]["num_deleted"], 1, "o3.c is a gap: {v}");
    assert_eq!(v["mirror"]["subject_transforms"], transforms, "{v}");
    let o = messages(&t.client, "O3").await;
    let m = messages(&t.client, "M3T").await;
    assert_eq!(
        m.iter()
            .map(|m| (m.seq, m.subject.as_str()))
            .collect::<Vec<_>>(),
        [(1, "x.a"), (2, "x.b"), (4, "x.a")]
    );
    for m in &m {
        let orig = &o[m.seq as usize - 1];
        assert_eq!(
            (&m.hdrs, &m.data, &m.time),
            (&orig.hdrs, &orig.data, &orig.time),
            "only the subject changes"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Sources
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sourcing_stream_stores_filtered_transformed_and_local_messages() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "A", "subjects": ["a.>"]})).await;
    create(&t.client, json!({"name": "B", "subjects": ["b.>"]})).await;
    publish(
        &t.js,
        "a.x.1",
        &[
            ("Nats-Msg-Id", "id1"),
            ("X-Custom", "v"),
            ("Nats-Expected-Stream", "A"),
        ],
        "a1",
    )
    .await;
    put(&t.js, "a.y.2", "a2").await; // outside the filter
    publish(&t.js, "a.x.3", &[("X-Custom", "w")], "a3").await;
    put(&t.js, "b.1", "b1").await;
    publish(
        &t.js,
        "b.2",
        &[("X-Custom", "v"), ("Nats-Expected-Last-Sequence", "1")],
        "b2",
    )
    .await;

    let created = create(
        &t.client,
        json!({"name": "SRC", "subjects": ["local.>"], "sources": [
            {"name": "A", "filter_subject": "a.x.>"},
            {"name": "B", "subject_transforms": [{"src": "b.>", "dest": "bb.>"}]},
        ]}),
    )
    .await;
    assert!(
        !config_of(&created).contains_key("duplicate_window"),
        "a sourcing stream gets no default duplicate window: {created}"
    );
    let local = publish(&t.js, "local.1", &[("X-Custom", "z")], "l1").await;
    assert!(local >= 1);
    wait_count(&t.client, "SRC", 5).await;

    let all = messages(&t.client, "SRC").await;
    assert_eq!(all.len(), 5, "{all:?}");
    let locals: Vec<_> = all.iter().filter(|m| m.stream_source().is_none()).collect();
    assert_eq!(locals.len(), 1, "one local message: {all:?}");
    assert_eq!(
        (
            locals[0].seq,
            locals[0].subject.as_str(),
            locals[0].data.as_str()
        ),
        (local, "local.1", "l1")
    );
    assert_eq!(locals[0].hdrs, "NATS/1.0\r\nX-Custom: z\r\n\r\n");

    let from = |origin: &str| -> Vec<&Stored> {
        all.iter()
            .filter(|m| {
                m.stream_source()
                    .is_some_and(|s| s.starts_with(&format!("{origin} ")))
            })
            .collect()
    };
    let (from_a, from_b) = (from("A"), from("B"));
    assert_eq!(
        from_a.iter().map(|m| m.origin_seq()).collect::<Vec<_>>(),
        [1, 3],
        "A's filtered messages, in order: {all:?}"
    );
    assert_eq!(
        from_b.iter().map(|m| m.origin_seq()).collect::<Vec<_>>(),
        [1, 2],
        "B's messages, in order: {all:?}"
    );
    for (origin, seq) in [("A", 1), ("B", 2)] {
        let orig = get(&t.client, origin, seq).await;
        assert!(
            orig.hdrs.contains("\r\nNats-Expected-"),
            "the origin keeps the Nats-Expected-* header its copy drops: {orig:?}"
        );
    }
    let mut idents = BTreeMap::new();
    for m in &from_a {
        let orig = get(&t.client, "A", m.origin_seq()).await;
        let prefix = format!("A {} a.x.> >", orig.seq);
        let ident = assert_sourced(m, &orig, &orig.subject, &prefix);
        idents.entry("A").or_insert_with(Vec::new).push(ident);
    }
    for m in &from_b {
        let orig = get(&t.client, "B", m.origin_seq()).await;
        let prefix = format!("B {} b.> bb.>", orig.seq);
        let subject = orig.subject.replacen("b.", "bb.", 1);
        let ident = assert_sourced(m, &orig, &subject, &prefix);
        idents.entry("B").or_insert_with(Vec::new).push(ident);
    }
    for (origin, ids) in &idents {
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "one identity per origin ({origin}): {ids:?}"
        );
    }

    let v = wait_info(&t.client, "SRC", CATCH_UP, "both sources are active", |v| {
        v["sources"]
            .as_array()
            .is_some_and(|s| s.len() == 2 && s.iter().all(|b| active(b) >= 0))
    })
    .await;
    assert!(v.get("mirror").is_none(), "{v}");
    assert_eq!(
        sources(&v).iter().map(without_active).collect::<Vec<_>>(),
        [
            json!({"name": "A", "lag": 0, "seq": 3, "filter_subject": "a.x.>"}),
            json!({"name": "B", "lag": 0, "seq": 2,
                   "subject_transforms": [{"src": "b.>", "dest": "bb.>"}]}),
        ],
        "sources blocks: {v}"
    );
}

#[tokio::test]
async fn unfiltered_source_names_both_wildcards_in_its_header() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    put(&t.js, "o.x", "m1").await;
    let created = create(&t.client, json!({"name": "S", "sources": [{"name": "O"}]})).await;
    assert!(
        !config_of(&created).contains_key("subjects"),
        "a sourcing stream gets no default subjects: {created}"
    );
    wait_count(&t.client, "S", 1).await;
    let copy = get(&t.client, "S", 1).await;
    let orig = get(&t.client, "O", 1).await;
    assert_eq!(
        orig.hdrs, "",
        "a message published without headers has none"
    );
    assert_sourced(&copy, &orig, "o.x", "O 1 > >");
    assert!(copy
        .hdrs
        .starts_with("NATS/1.0\r\nNats-Stream-Source: O 1 > > o.x "));
}

#[tokio::test]
async fn chained_source_replaces_the_stream_source_header_and_a_mirror_keeps_it() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "D1", "subjects": ["d1.*"]})).await;
    publish(&t.js, "d1.q", &[("Nats-Msg-Id", "m1"), ("Foo", "bar")], "p").await;
    create(
        &t.client,
        json!({"name": "D2", "sources": [{"name": "D1"}]}),
    )
    .await;
    create(
        &t.client,
        json!({"name": "D3", "sources": [{"name": "D2"}]}),
    )
    .await;
    create(&t.client, json!({"name": "D4", "mirror": {"name": "D2"}})).await;
    wait_count(&t.client, "D3", 1).await;
    wait_count(&t.client, "D4", 1).await;
    let d1 = get(&t.client, "D1", 1).await;
    let d2 = get(&t.client, "D2", 1).await;
    let d3 = get(&t.client, "D3", 1).await;
    assert_sourced(&d2, &d1, "d1.q", "D1 1 > >");
    // D3's copy carries one Nats-Stream-Source, naming D2, in place of D1's.
    assert_sourced(&d3, &without_source(&d2), "d1.q", "D2 1 > >");
    assert_eq!(d3.hdrs.matches("Nats-Stream-Source").count(), 1, "{d3:?}");
    assert_eq!(
        get(&t.client, "D4", 1).await.raw,
        d2.raw,
        "the mirror copies D2 verbatim"
    );
}

#[tokio::test]
async fn sourcing_stream_dedupes_one_msg_id_from_two_origins() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "DD1", "subjects": ["dd1.>"]})).await;
    create(&t.client, json!({"name": "DD2", "subjects": ["dd2.>"]})).await;
    publish(&t.js, "dd1.a", &[("Nats-Msg-Id", "same")], "from1").await;
    publish(&t.js, "dd2.a", &[("Nats-Msg-Id", "same")], "from2").await;
    // Markers after the duplicates: a source delivers in origin order, so once both markers
    // are stored both duplicates have been through the dedupe.
    publish(&t.js, "dd1.end", &[("Nats-Msg-Id", "end1")], "end1").await;
    publish(&t.js, "dd2.end", &[("Nats-Msg-Id", "end2")], "end2").await;
    create(
        &t.client,
        json!({"name": "DDS", "duplicate_window": 60_000_000_000u64,
               "sources": [{"name": "DD1"}, {"name": "DD2"}]}),
    )
    .await;
    wait_subject(&t.client, "DDS", "dd1.end").await;
    wait_subject(&t.client, "DDS", "dd2.end").await;
    let all = messages(&t.client, "DDS").await;
    let same: Vec<_> = all
        .iter()
        .filter(|m| header_line(&m.hdrs, "Nats-Msg-Id") == Some("same"))
        .collect();
    assert_eq!(same.len(), 1, "the msg-id is stored once: {all:?}");
    assert_eq!(all.len(), 3, "{all:?}");
}

#[tokio::test]
async fn publish_carrying_a_stream_source_header_is_rejected() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "ORIG", "subjects": ["orig.>"]})).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Stream-Source", "X 1 > > x.y abcdefgh");
    let reply = t
        .client
        .request_with_headers("orig.x", headers, "p".into())
        .await
        .expect("the stream answers");
    let v: Value = serde_json::from_slice(&reply.payload).expect("JSON");
    assert_eq!(
        v,
        json!({"error": {"code": 400, "err_code": 10227,
                         "description": "message stream source header is not allowed"},
               "stream": "ORIG", "seq": 0})
    );
    assert_eq!(info(&t.client, "ORIG").await["state"]["messages"], 0);
}

#[tokio::test]
async fn sourcing_stream_without_a_duplicate_window_keeps_both_copies() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "DD1", "subjects": ["dd1.>"]})).await;
    create(&t.client, json!({"name": "DD2", "subjects": ["dd2.>"]})).await;
    publish(&t.js, "dd1.a", &[("Nats-Msg-Id", "same")], "from1").await;
    publish(&t.js, "dd2.a", &[("Nats-Msg-Id", "same")], "from2").await;
    let created = create(
        &t.client,
        json!({"name": "DDS", "sources": [{"name": "DD1"}, {"name": "DD2"}]}),
    )
    .await;
    assert!(
        !config_of(&created).contains_key("duplicate_window"),
        "no default window for a sourcing stream, so no dedupe: {created}"
    );
    wait_count(&t.client, "DDS", 2).await;
    let mut data: Vec<_> = messages(&t.client, "DDS")
        .await
        .into_iter()
        .map(|m| m.data)
        .collect();
    data.sort();
    assert_eq!(data, ["from1", "from2"]);
}

/// nats-server: a source added to a stream whose first sequence is past 1 (here after a
/// purge) and that knows nothing about that origin starts at the time of the stream's last
/// message, so the origin's older messages are not sourced.
#[tokio::test]
async fn source_added_after_a_purge_starts_at_the_streams_last_message_time() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "A", "subjects": ["a.>"]})).await;
    create(&t.client, json!({"name": "B", "subjects": ["b.>"]})).await;
    put(&t.js, "b.1", "b1").await;
    put(&t.js, "b.2", "b2").await;
    put(&t.js, "a.1", "a1").await;
    put(&t.js, "a.2", "a2").await;
    create(&t.client, json!({"name": "S", "sources": [{"name": "A"}]})).await;
    wait_count(&t.client, "S", 2).await;
    let v = api(&t.client, "$JS.API.STREAM.PURGE.S", Value::Null).await;
    assert_eq!(v["success"], true, "{v}");

    let v = update(
        &t.client,
        json!({"name": "S", "sources": [{"name": "A"}, {"name": "B"}]}),
    )
    .await;
    assert!(v["error"].is_null(), "{v}");
    put(&t.js, "b.3", "b3").await;
    wait_subject(&t.client, "S", "b.3").await;
    let from = sourced_from(&t.client, "S").await;
    assert_eq!(
        only(&from, "B"),
        [3],
        "B's older messages are skipped: {from:?}"
    );
    assert_eq!(
        only(&from, "A"),
        Vec::<u64>::new(),
        "A is not sourced again: {from:?}"
    );
}

/// A work-queue origin gets a real durable consumer (`ack_policy: flow_control`), listed and
/// counted, whose flow-control replies acknowledge and so remove the sourced messages.
#[tokio::test]
async fn source_of_a_work_queue_origin_takes_its_messages() {
    let t = Js::start().await;
    create(
        &t.client,
        json!({"name": "WQ", "subjects": ["wq.>"], "retention": "workqueue"}),
    )
    .await;
    for i in 1..=5 {
        put(&t.js, "wq.x", &format!("m{i}")).await;
    }
    create(
        &t.client,
        json!({"name": "WQS", "sources": [{"name": "WQ"}]}),
    )
    .await;
    wait_count(&t.client, "WQS", 5).await;
    let v = wait_info(&t.client, "WQ", CATCH_UP, "the origin is emptied", |v| {
        v["state"]["messages"] == 0
    })
    .await;
    assert_eq!(
        (&v["state"]["first_seq"], &v["state"]["consumer_count"]),
        (&json!(6), &json!(1)),
        "{v}"
    );
    let names = api(&t.client, "$JS.API.CONSUMER.NAMES.WQ", Value::Null).await;
    let names = names["consumers"].as_array().cloned().unwrap_or_default();
    assert_eq!(names.len(), 1, "{names:?}");
    let name = names[0].as_str().expect("a name");
    assert!(name.starts_with("JS_SRC_"), "{name}");
    let c = api(
        &t.client,
        &format!("$JS.API.CONSUMER.INFO.WQ.{name}"),
        Value::Null,
    )
    .await;
    assert_eq!(c["config"]["durable_name"], name, "{c}");
    assert_eq!(c["config"]["ack_policy"], "flow_control", "{c}");
    assert_eq!(c["config"]["sourcing"], true, "{c}");

    put(&t.js, "wq.x", "m6").await;
    wait_count(&t.client, "WQS", 6).await;
    wait_info(
        &t.client,
        "WQ",
        CATCH_UP,
        "the new message is taken too",
        |v| v["state"]["messages"] == 0 && v["state"]["last_seq"] == 6,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. Restarts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mirror_and_source_resume_after_a_restart_without_duplicates() {
    let mut t = Js::start().await;
    create(
        &t.client,
        json!({"name": "O", "subjects": ["o.>"], "storage": "file"}),
    )
    .await;
    for i in 1..=5 {
        put(&t.js, &format!("o.{i}"), &format!("m{i}")).await;
    }
    create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "O"}, "storage": "file"}),
    )
    .await;
    create(
        &t.client,
        json!({"name": "SRC", "sources": [{"name": "O"}], "storage": "file"}),
    )
    .await;
    wait_caught_up(&t.client, "MIR", 5, 5).await;
    wait_count(&t.client, "SRC", 5).await;

    t.restart("TERM").await;
    for i in 6..=8 {
        put(&t.js, &format!("o.{i}"), &format!("m{i}")).await;
    }
    wait_caught_up(&t.client, "MIR", 8, 8).await;
    assert_same_messages(&t.client, "O", "MIR").await;
    // A source re-sourcing old messages would store them before origin seq 8.
    wait_subject(&t.client, "SRC", "o.8").await;
    let src = messages(&t.client, "SRC").await;
    assert_eq!(
        src.iter().map(|m| m.origin_seq()).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>(),
        "each origin message once, in order: {src:?}"
    );
    assert_eq!(
        src.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    let v = info(&t.client, "SRC").await;
    assert_eq!(v["sources"][0]["seq"], 8, "{v}");
}

#[tokio::test]
async fn purged_sourcing_stream_does_not_resource_after_a_restart() {
    let mut t = Js::start().await;
    create(&t.client, json!({"name": "R", "subjects": ["r.>"]})).await;
    for i in 1..=10 {
        let s = if i % 2 == 1 { "r.a" } else { "r.b" };
        put(&t.js, s, &format!("m{i}")).await;
    }
    create(
        &t.client,
        json!({"name": "RS", "sources": [
            {"name": "R", "filter_subject": "r.a"},
            {"name": "R", "filter_subject": "r.b"},
        ]}),
    )
    .await;
    wait_count(&t.client, "RS", 10).await;
    let v = api(&t.client, "$JS.API.STREAM.PURGE.RS", Value::Null).await;
    assert_eq!(
        (&v["success"], &v["purged"]),
        (&json!(true), &json!(10)),
        "{v}"
    );
    let v = info(&t.client, "RS").await;
    assert_eq!(
        sources(&v)
            .iter()
            .map(|b| b["seq"].clone())
            .collect::<Vec<_>>(),
        [json!(9), json!(10)],
        "a purge keeps the sourcing positions: {v}"
    );

    // Restarting on an empty stream: only the persisted positions say where to resume.
    t.restart("TERM").await;
    let v = info(&t.client, "RS").await;
    assert_eq!(v["state"]["first_seq"], 11, "{v}");
    put(&t.js, "r.a", "m11").await;
    put(&t.js, "r.b", "m12").await;
    wait_subject(&t.client, "RS", "r.b").await;
    wait_subject(&t.client, "RS", "r.a").await;
    let rs = messages(&t.client, "RS").await;
    let mut got: Vec<_> = rs
        .iter()
        .map(|m| (m.origin_seq(), m.data.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [(11, "m11".to_string()), (12, "m12".to_string())],
        "only the new messages: {rs:?}"
    );
    assert_eq!(rs.iter().map(|m| m.seq).collect::<Vec<_>>(), [11, 12]);
    let v = info(&t.client, "RS").await;
    assert_eq!(
        sources(&v)
            .iter()
            .map(|b| b["seq"].clone())
            .collect::<Vec<_>>(),
        [json!(11), json!(12)],
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_matches_the_origin_after_kill_9_while_publishing() {
    let mut t = Js::start().await;
    create(
        &t.client,
        json!({"name": "O", "subjects": ["o.>"], "storage": "file"}),
    )
    .await;
    create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "O"}, "storage": "file"}),
    )
    .await;

    let (ready, acked_enough) = tokio::sync::oneshot::channel();
    let publisher = tokio::spawn(publish_until_killed(t.server.url(), 300, ready));
    tokio::time::timeout(Duration::from_secs(20), acked_enough)
        .await
        .expect("the publisher gets acknowledgements")
        .expect("the publisher signals");
    t.restart("KILL").await;
    let acked = publisher.await.expect("the publisher ends");
    assert!(acked.len() >= 300, "{} acks", acked.len());

    let origin = info(&t.client, "O").await["state"].clone();
    let last = origin["last_seq"].as_u64().expect("last_seq");
    let n = origin["messages"].as_u64().expect("messages");
    assert_eq!(n, last, "the origin has no gaps: {origin}");
    let stored = messages(&t.client, "O").await;
    for (seq, payload) in &acked {
        let m = stored.get(*seq as usize - 1);
        assert_eq!(
            m.map(|m| &m.data),
            Some(payload),
            "acknowledged message {seq} is in the origin"
        );
    }
    wait_caught_up(&t.client, "MIR", n, last).await;
    assert_same_messages(&t.client, "O", "MIR").await;
}

// ---------------------------------------------------------------------------------------------
// 5. Updates
// ---------------------------------------------------------------------------------------------

/// Origins A (`a.>`) and B (`b.>`) with two messages each.
async fn two_origins(t: &Js) {
    create(&t.client, json!({"name": "A", "subjects": ["a.>"]})).await;
    create(&t.client, json!({"name": "B", "subjects": ["b.>"]})).await;
    for i in 1..=2 {
        put(&t.js, &format!("a.{i}"), &format!("a{i}")).await;
        put(&t.js, &format!("b.{i}"), &format!("b{i}")).await;
    }
}

#[tokio::test]
async fn update_adds_a_source() {
    let t = Js::start().await;
    two_origins(&t).await;
    create(&t.client, json!({"name": "S", "sources": [{"name": "A"}]})).await;
    wait_count(&t.client, "S", 2).await;

    let v = update(
        &t.client,
        json!({"name": "S", "sources": [{"name": "A"}, {"name": "B"}]}),
    )
    .await;
    assert!(v["error"].is_null(), "sources can be added: {v}");
    assert_eq!(
        v["config"]["sources"],
        json!([{"name": "A"}, {"name": "B"}]),
        "{v}"
    );
    assert_eq!(v["sources"].as_array().map(Vec::len), Some(2), "{v}");
    wait_count(&t.client, "S", 4).await;
    put(&t.js, "a.3", "a3").await;
    put(&t.js, "b.3", "b3").await;
    wait_count(&t.client, "S", 6).await;
    let from = sourced_from(&t.client, "S").await;
    assert_eq!(
        only(&from, "A"),
        [1, 2, 3],
        "A is not sourced again: {from:?}"
    );
    assert_eq!(
        only(&from, "B"),
        [1, 2, 3],
        "B is sourced from its start: {from:?}"
    );
}

#[tokio::test]
async fn update_removes_a_source() {
    let t = Js::start().await;
    two_origins(&t).await;
    create(
        &t.client,
        json!({"name": "S", "sources": [{"name": "A"}, {"name": "B"}]}),
    )
    .await;
    wait_count(&t.client, "S", 4).await;

    let v = update(&t.client, json!({"name": "S", "sources": [{"name": "A"}]})).await;
    assert!(v["error"].is_null(), "a source can be removed: {v}");
    let v = info(&t.client, "S").await;
    assert_eq!(
        sources(&v)
            .iter()
            .map(|b| b["name"].clone())
            .collect::<Vec<_>>(),
        [json!("A")],
        "{v}"
    );
    // B's message goes first; A's arrives after it, so B's would have had its chance.
    put(&t.js, "b.3", "b3").await;
    put(&t.js, "a.3", "a3").await;
    wait_subject(&t.client, "S", "a.3").await;
    let from = sourced_from(&t.client, "S").await;
    assert_eq!(only(&from, "B"), [1, 2], "nothing more from B: {from:?}");
    assert_eq!(only(&from, "A"), [1, 2, 3], "{from:?}");
}

#[tokio::test]
async fn mirror_is_promoted_by_removing_mirror_and_adding_subjects() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    for i in 1..=3 {
        put(&t.js, "o.x", &format!("m{i}")).await;
    }
    create(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    wait_caught_up(&t.client, "MIR", 3, 3).await;

    let v = update(&t.client, json!({"name": "MIR", "subjects": ["mir.>"]})).await;
    assert!(v["error"].is_null(), "a mirror can be promoted: {v}");
    let cfg = config_of(&v);
    assert!(!cfg.contains_key("mirror"), "{v}");
    assert_eq!(cfg["subjects"], json!(["mir.>"]), "{v}");
    assert_eq!(
        cfg["duplicate_window"], 120_000_000_000u64,
        "the default duplicate window applies now: {v}"
    );
    assert!(
        v.get("mirror").is_none(),
        "no mirror block after promotion: {v}"
    );

    // The origin goes on without the former mirror.
    put(&t.js, "o.x", "m4").await;
    put(&t.js, "o.x", "m5").await;
    let seq = publish(&t.js, "mir.x", &[], "own").await;
    assert_eq!(seq, 4, "the promoted stream goes on from its last sequence");
    let m = messages(&t.client, "MIR").await;
    assert_eq!(m.len(), 4, "{m:?}");
    for (a, b) in messages(&t.client, "O").await.iter().zip(&m[..3]) {
        assert_eq!(b.raw, a.raw, "the mirrored messages are kept");
    }
    assert_eq!(
        (m[3].subject.as_str(), m[3].data.as_str()),
        ("mir.x", "own")
    );
    assert_eq!(info(&t.client, "O").await["state"]["messages"], 5);
}

#[tokio::test]
async fn changing_or_adding_a_mirror_is_refused() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    create(&t.client, json!({"name": "O2", "subjects": ["o2.>"]})).await;
    create(&t.client, json!({"name": "P", "subjects": ["p.>"]})).await;
    create(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    let refused = "stream mirror configuration can not be updated";
    for cfg in [
        json!({"name": "MIR", "mirror": {"name": "O", "filter_subject": "o.a"}}),
        json!({"name": "MIR", "mirror": {"name": "O2"}}),
        json!({"name": "P", "mirror": {"name": "O"}}),
    ] {
        let v = update(&t.client, cfg.clone()).await;
        assert_api_error(&v, 400, 10055, refused);
    }
    let v = update(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "O"}, "subjects": ["m.>"]}),
    )
    .await;
    assert_api_error(&v, 400, 10034, "stream mirrors can not contain subjects");
    let v = update(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    assert!(v["error"].is_null(), "the same mirror again is fine: {v}");
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Configs nats-server 2.15.1 refuses, each with the exact error it answers (§2 of the spec),
/// next to streams ORIG (`orig.>`), BIGMSG (max_msg_size 1024) and DLV (`dlv.>`).
const CONFIG_ERRORS: &str = include_str!("mirrors/config_errors.json");

#[tokio::test]
async fn invalid_mirror_and_source_configs_are_refused_with_nats_server_errors() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "ORIG", "subjects": ["orig.>"]})).await;
    create(
        &t.client,
        json!({"name": "BIGMSG", "subjects": ["big.>"], "max_msg_size": 1024}),
    )
    .await;
    create(&t.client, json!({"name": "DLV", "subjects": ["dlv.>"]})).await;
    let cases: Vec<Value> = serde_json::from_str(CONFIG_ERRORS).expect("config_errors.json");
    for case in &cases {
        let cfg = &case["config"];
        let name = cfg["name"].as_str().expect("a name");
        let v = api(
            &t.client,
            &format!("$JS.API.STREAM.CREATE.{name}"),
            cfg.clone(),
        )
        .await;
        assert_eq!(
            v["error"], case["error"],
            "{}: {cfg} gave {v}",
            case["case"]
        );
    }
    let v = api(&t.client, "$JS.API.STREAM.NAMES", Value::Null).await;
    assert_eq!(v["total"], 3, "nothing was created: {v}");

    // Accepted: a missing origin, both start options, a self-source through a filter that
    // does not overlap the stream's subjects.
    for cfg in [
        json!({"name": "OK1", "mirror": {"name": "MISSING"}}),
        json!({"name": "OK2", "mirror": {"name": "ORIG", "opt_start_seq": 2,
                                         "opt_start_time": "2020-01-01T00:00:00Z"}}),
        json!({"name": "OK3", "subjects": ["e1.>"],
               "sources": [{"name": "OK3", "filter_subject": "zzz"}]}),
    ] {
        create(&t.client, cfg).await;
    }

    // Cycles through other streams.
    create(
        &t.client,
        json!({"name": "CA", "sources": [{"name": "CB"}]}),
    )
    .await;
    let v = api(
        &t.client,
        "$JS.API.STREAM.CREATE.CB",
        json!({"name": "CB", "sources": [{"name": "CA"}]}),
    )
    .await;
    assert_api_error(&v, 500, 10052, "detected cycle");
    create(
        &t.client,
        json!({"name": "CYM", "mirror": {"name": "CYM2"}}),
    )
    .await;
    let v = api(
        &t.client,
        "$JS.API.STREAM.CREATE.CYM2",
        json!({"name": "CYM2", "mirror": {"name": "CYM"}}),
    )
    .await;
    assert_api_error(&v, 500, 10052, "detected cycle");

    // Create is idempotent for the same sources, and refuses other ones.
    let same = json!({"name": "SAME", "sources": [{"name": "ORIG"}]});
    create(&t.client, same.clone()).await;
    create(&t.client, same).await;
    let v = api(
        &t.client,
        "$JS.API.STREAM.CREATE.SAME",
        json!({"name": "SAME", "sources": [{"name": "ORIG", "filter_subject": "orig.a"}]}),
    )
    .await;
    assert_api_error(
        &v,
        400,
        10058,
        "stream name already in use with a different configuration",
    );
}

// ---------------------------------------------------------------------------------------------
// 6, 7. A missing or recreated origin
// ---------------------------------------------------------------------------------------------

/// Slow against nats-server: it retries a missing origin only after ~12 s (backoff 10 s plus
/// the 2 s throttle), so the catch-up deadline is 20 s.
#[tokio::test]
async fn mirror_and_source_of_a_missing_origin_report_it_then_catch_up_slow() {
    let t = Js::start().await;
    create(
        &t.client,
        json!({"name": "MIR", "mirror": {"name": "NOPE"}}),
    )
    .await;
    create(
        &t.client,
        json!({"name": "SRC", "sources": [{"name": "NOPE"}]}),
    )
    .await;
    let not_found = json!({"code": 404, "err_code": 10059, "description": "stream not found"});
    let v = wait_info(
        &t.client,
        "MIR",
        CATCH_UP,
        "the mirror reports the error",
        |v| v["mirror"]["error"] == not_found,
    )
    .await;
    assert_eq!(v["mirror"]["active"], -1, "nothing received yet: {v}");
    assert_eq!(v["mirror"]["name"], "NOPE");
    let v = wait_info(
        &t.client,
        "SRC",
        CATCH_UP,
        "the source reports the error",
        |v| v["sources"][0]["error"] == not_found,
    )
    .await;
    assert_eq!(v["sources"][0]["active"], -1, "nothing received yet: {v}");

    create(&t.client, json!({"name": "NOPE", "subjects": ["nope.>"]})).await;
    for i in 1..=3 {
        put(&t.js, "nope.x", &format!("m{i}")).await;
    }
    let slow = Duration::from_secs(20);
    let v = wait_info(&t.client, "MIR", slow, "the mirror catches up", |v| {
        v["state"]["messages"] == 3 && v["state"]["last_seq"] == 3
    })
    .await;
    assert!(
        v["mirror"].get("error").is_none(),
        "the error is cleared: {v}"
    );
    assert_same_messages(&t.client, "NOPE", "MIR").await;
    let v = wait_info(&t.client, "SRC", slow, "the source catches up", |v| {
        v["state"]["messages"] == 3
    })
    .await;
    assert!(
        v["sources"][0].get("error").is_none(),
        "the error is cleared: {v}"
    );
    let from = sourced_from(&t.client, "SRC").await;
    assert_eq!(only(&from, "NOPE"), [1, 2, 3]);
}

/// Slow against nats-server: a source notices that its origin went away only after 10 s
/// without heartbeats, then retries 2 s later, so the deadline is 25 s.
#[tokio::test]
async fn source_resources_a_recreated_origin_from_its_start_slow() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    for i in 1..=3 {
        put(&t.js, "o.x", &format!("old{i}")).await;
    }
    create(&t.client, json!({"name": "S", "sources": [{"name": "O"}]})).await;
    wait_count(&t.client, "S", 3).await;
    let old_ident = get(&t.client, "S", 1).await.source_fields()[5].to_string();

    delete_stream(&t.client, "O").await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    put(&t.js, "o.y", "new1").await;
    put(&t.js, "o.y", "new2").await;
    wait_info(
        &t.client,
        "S",
        Duration::from_secs(25),
        "the recreated origin is sourced",
        |v| v["state"]["messages"] == 5,
    )
    .await;
    let s = messages(&t.client, "S").await;
    for (m, seq) in s[3..].iter().zip(1..) {
        let f = m.source_fields();
        assert_eq!(
            (f[0], f[1], f[2], f[3], f[4]),
            ("O", seq.to_string().as_str(), ">", ">", "o.y"),
            "{m:?}"
        );
        assert_identity(f[5]);
        assert_ne!(f[5], old_ident, "the recreated origin has a new identity");
        assert_eq!(m.data, format!("new{seq}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Consumers on a mirror
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn durable_pull_consumer_on_a_mirror_gets_the_mirrored_messages() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    put(&t.js, "o.a.1", "m1").await;
    put(&t.js, "o.b.2", "m2").await;
    put(&t.js, "o.a.3", "m3").await;
    create(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    wait_caught_up(&t.client, "MIR", 3, 3).await;

    let stream = t.js.get_stream("MIR").await.expect("the mirror");
    let c = stream
        .create_consumer(pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            filter_subject: "o.a.>".into(),
            ..Default::default()
        })
        .await
        .expect("a consumer on a mirror (its filter is not checked against subjects)");
    let got = pull_batch(&c, 10).await;
    assert_eq!(
        got.iter()
            .map(|m| (
                m.info().expect("metadata").stream_sequence,
                m.subject.to_string()
            ))
            .collect::<Vec<_>>(),
        [(1, "o.a.1".to_string()), (3, "o.a.3".to_string())]
    );
    for m in &got {
        assert_eq!(m.info().expect("metadata").stream, "MIR");
        m.ack().await.expect("ack");
    }
    put(&t.js, "o.a.4", "m4").await;
    let got = pull_batch(&c, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].info().expect("metadata").stream_sequence, 4);
    assert_eq!(&got[0].payload[..], b"m4");
    got[0].ack().await.expect("ack");
}

// ---------------------------------------------------------------------------------------------
// 9. KV buckets
// ---------------------------------------------------------------------------------------------

/// Bucket A with history 5 holding k1=v1, k2=v2, k1=v3 (revisions 1-3).
async fn kv_origin(t: &Js) -> kv::Store {
    let a =
        t.js.create_key_value(kv::Config {
            bucket: "A".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .expect("bucket A");
    a.put("k1", "v1".into()).await.expect("put");
    a.put("k2", "v2".into()).await.expect("put");
    a.put("k1", "v3".into()).await.expect("put");
    a
}

/// Bucket M mirroring A, created as async-nats creates it (`mirror_direct` on, no subjects),
/// once it has caught up.
async fn kv_mirror(t: &Js) -> async_nats::jetstream::stream::Stream {
    t.js.create_key_value(kv::Config {
        bucket: "M".into(),
        history: 5,
        mirror: Some(Source {
            name: "A".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("mirror bucket M");
    wait_caught_up(&t.client, "KV_M", 3, 3).await;
    t.js.get_stream("KV_M").await.expect("KV_M")
}

#[tokio::test]
async fn kv_mirror_bucket_holds_the_origins_values() {
    let t = Js::start().await;
    let a = kv_origin(&t).await;
    let m = kv_mirror(&t).await;
    let v = info(&t.client, "KV_M").await;
    assert_eq!(v["config"]["mirror"], json!({"name": "KV_A"}), "{v}");
    assert_eq!(v["config"]["mirror_direct"], true, "{v}");
    assert_same_messages(&t.client, "KV_A", "KV_M").await;

    // The mirror stores the origin's subjects and answers direct gets for them. (async-nats
    // 0.42, like nats.go, reads a local mirror bucket under `$KV.M.`, where nothing is, so
    // `get_key_value("M")?.get(..)` finds nothing, on nats-server as anywhere.)
    let got = m
        .direct_get_last_for_subject("$KV.A.k1")
        .await
        .expect("direct get from the mirror");
    assert_eq!(&got.payload[..], b"v3");

    // A delete in the origin reaches the mirror.
    a.delete("k2").await.expect("delete");
    wait_caught_up(&t.client, "KV_M", 4, 4).await;
    let got = m
        .direct_get_last_for_subject("$KV.A.k2")
        .await
        .expect("the delete marker");
    assert_eq!(
        got.headers.get("KV-Operation").map(|v| v.as_str()),
        Some("DEL")
    );
}

/// `mirror_direct`: the mirror joins the origin's direct-get queue group (nats-server spreads
/// the requests between the two), so with the origin gone the mirror still answers the origin
/// bucket's reads, naming itself in `Nats-Stream`.
#[tokio::test]
async fn kv_mirror_answers_direct_gets_for_its_origin_bucket() {
    let t = Js::start().await;
    kv_origin(&t).await;
    kv_mirror(&t).await;
    delete_stream(&t.client, "KV_A").await;
    for _ in 0..5 {
        let r = t
            .client
            .request("$JS.API.DIRECT.GET.KV_A.$KV.A.k1", "".into())
            .await
            .expect("the mirror answers for KV_A");
        assert_eq!(&r.payload[..], b"v3", "{r:?}");
        let h = r.headers.as_ref().expect("direct get headers");
        assert_eq!(
            h.get(async_nats::header::NATS_STREAM).map(|v| v.as_str()),
            Some("KV_M"),
            "{r:?}"
        );
        assert_eq!(
            h.get(async_nats::header::NATS_SEQUENCE).map(|v| v.as_str()),
            Some("3"),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn kv_sourcing_bucket_gets_the_keys_under_its_own_name() {
    let t = Js::start().await;
    let a = kv_origin(&t).await;
    // The stream config nats.go sends for a bucket S sourcing A (async-nats 0.42 leaves out
    // the subjects and the transform).
    create(
        &t.client,
        json!({
            "name": "KV_S", "subjects": ["$KV.S.>"], "max_msgs_per_subject": 5,
            "max_bytes": -1, "max_msg_size": -1, "storage": "file", "num_replicas": 1,
            "allow_rollup_hdrs": true, "deny_delete": true, "duplicate_window": 120_000_000_000u64,
            "max_msgs": -1, "max_consumers": -1, "allow_direct": true, "discard": "new",
            "sources": [{"name": "KV_A",
                         "subject_transforms": [{"src": "$KV.A.>", "dest": "$KV.S.>"}]}],
        }),
    )
    .await;
    wait_count(&t.client, "KV_S", 3).await;
    let s = t.js.get_key_value("S").await.expect("bucket S");
    let e = s.entry("k1").await.expect("entry").expect("k1 is there");
    assert_eq!((&e.value[..], e.revision), (&b"v3"[..], 3));
    let e = s.entry("k2").await.expect("entry").expect("k2 is there");
    assert_eq!(&e.value[..], b"v2");
    let mut keys: Vec<String> = s
        .keys()
        .await
        .expect("keys")
        .map(|k| k.expect("a key"))
        .collect()
        .await;
    keys.sort();
    assert_eq!(keys, ["k1", "k2"]);

    // Later changes follow, deletes included; the bucket's own keys work too.
    a.delete("k2").await.expect("delete");
    a.put("k3", "v4".into()).await.expect("put");
    wait_count(&t.client, "KV_S", 5).await;
    assert!(s.get("k2").await.expect("get").is_none(), "k2 is deleted");
    assert_eq!(s.get("k3").await.expect("get").as_deref(), Some(&b"v4"[..]));
    s.put("own", "x".into())
        .await
        .expect("put to the sourcing bucket");
    let v = wait_info(&t.client, "KV_S", CATCH_UP, "the source is active", |v| {
        v["sources"][0]["seq"] == 5
    })
    .await;
    assert_eq!(
        without_active(&v["sources"][0]),
        json!({"name": "KV_A", "lag": 0, "seq": 5,
               "subject_transforms": [{"src": "$KV.A.>", "dest": "$KV.S.>"}]}),
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Deleting a mirror under load
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_mirror_and_a_source_while_the_origin_is_written_leaves_it_intact() {
    let t = Js::start().await;
    create(&t.client, json!({"name": "O", "subjects": ["o.>"]})).await;
    for i in 1..=50 {
        put(&t.js, "o.x", &format!("m{i}")).await;
    }
    create(&t.client, json!({"name": "MIR", "mirror": {"name": "O"}})).await;
    create(
        &t.client,
        json!({"name": "SRC", "sources": [{"name": "O"}]}),
    )
    .await;
    wait_caught_up(&t.client, "MIR", 50, 50).await;
    wait_count(&t.client, "SRC", 50).await;

    let js = t.js.clone();
    let publisher = tokio::spawn(async move {
        let mut seqs = Vec::new();
        for i in 51..=250 {
            seqs.push(put(&js, "o.x", &format!("m{i}")).await);
        }
        seqs
    });
    delete_stream(&t.client, "MIR").await;
    delete_stream(&t.client, "SRC").await;
    let seqs = publisher.await.expect("every publish is acknowledged");
    assert_eq!(seqs, (51..=250).collect::<Vec<u64>>());

    let v = info(&t.client, "O").await;
    assert_eq!(
        (
            &v["state"]["messages"],
            &v["state"]["first_seq"],
            &v["state"]["last_seq"]
        ),
        (&json!(250), &json!(1), &json!(250)),
        "{v}"
    );
    let v = api(&t.client, "$JS.API.STREAM.INFO.MIR", Value::Null).await;
    assert_api_error(&v, 404, 10059, "stream not found");
    let v = api(&t.client, "$JS.API.STREAM.NAMES", Value::Null).await;
    assert_eq!(v["streams"], json!(["O"]), "{v}");
    assert_eq!(v["total"], 1);
}

/// A tenant sources another account's stream through imports: the exporter offers its
/// consumer-create API, flow control and a deliver prefix; the importer names the imported
/// API prefix and the deliver prefix in `external`.
#[tokio::test]
async fn source_in_another_account_through_imports() {
    let dir = common::TempDir::new("js-mirrors-accounts");
    let config = format!(
        r#"
jetstream {{ store_dir: "{}" }}
accounts {{
  A: {{
    jetstream: enabled
    users: [{{user: a, password: a}}]
    exports: [
      {{service: "$JS.API.CONSUMER.CREATE.ORIGIN"}}
      {{service: "$JS.API.CONSUMER.CREATE.ORIGIN.>"}}
      {{service: "$JS.API.CONSUMER.DELETE.ORIGIN.>"}}
      {{service: "$JS.FC.ORIGIN.>"}}
      {{stream: "deliver.>"}}
    ]
  }}
  B: {{
    jetstream: enabled
    users: [{{user: b, password: b}}]
    imports: [
      {{service: {{account: A, subject: "$JS.API.CONSUMER.CREATE.ORIGIN"}}, to: "$JS.A.API.CONSUMER.CREATE.ORIGIN"}}
      {{service: {{account: A, subject: "$JS.API.CONSUMER.CREATE.ORIGIN.>"}}, to: "$JS.A.API.CONSUMER.CREATE.ORIGIN.>"}}
      {{service: {{account: A, subject: "$JS.API.CONSUMER.DELETE.ORIGIN.>"}}, to: "$JS.A.API.CONSUMER.DELETE.ORIGIN.>"}}
      {{service: {{account: A, subject: "$JS.FC.ORIGIN.>"}}}}
      {{stream: {{account: A, subject: "deliver.>"}}}}
    ]
  }}
}}
"#,
        dir.0.display()
    );
    let server = common::ServerProcess::strom_with_config(&config, &[]);
    let connect = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            .connect(server.url())
    };
    let a = connect("a").await.expect("A connects");
    let b = connect("b").await.expect("B connects");
    let ajs = async_nats::jetstream::new(a.clone());
    create(&a, json!({"name": "ORIGIN", "subjects": ["o.>"]})).await;
    for i in 1..=3 {
        put(&ajs, &format!("o.{i}"), "before").await;
    }
    let created = create(
        &b,
        json!({"name": "S", "sources": [{"name": "ORIGIN",
            "external": {"api": "$JS.A.API", "deliver": "deliver"}}]}),
    )
    .await;
    assert_eq!(
        created["sources"][0]["external"],
        json!({"api": "$JS.A.API", "deliver": "deliver"}),
        "{created}"
    );
    wait_count(&b, "S", 3).await;
    for i in 4..=6 {
        put(&ajs, &format!("o.{i}"), "after").await;
    }
    let v = wait_count(&b, "S", 6).await;
    assert_eq!(sources(&v)[0]["seq"], 6, "{v}");
    let m = get(&b, "S", 1).await;
    let fields = m.source_fields();
    // The external API prefix is part of the source's index name, hashed.
    assert!(
        fields[0].starts_with("ORIGIN:") && fields[0].len() == "ORIGIN:".len() + 8,
        "{fields:?}"
    );
    assert_eq!(&fields[1..5], ["1", ">", ">", "o.1"], "{fields:?}");
}

/// An interest-retention origin keeps each message until the mirror has it, then lets it go
/// (the mirror's consumer on it is durable and acknowledged by flow control).
#[tokio::test]
async fn mirror_of_an_interest_origin_takes_every_message() {
    let t = Js::start().await;
    create(
        &t.client,
        json!({"name": "IN", "subjects": ["in.>"], "retention": "interest"}),
    )
    .await;
    create(&t.client, json!({"name": "INM", "mirror": {"name": "IN"}})).await;
    wait_info(&t.client, "INM", CATCH_UP, "the mirror is set up", |v| {
        active(&v["mirror"]) >= 0
    })
    .await;
    for i in 1..=20 {
        put(&t.js, &format!("in.{i}"), "x").await;
    }
    wait_caught_up(&t.client, "INM", 20, 20).await;
    wait_info(&t.client, "IN", CATCH_UP, "the origin lets go", |v| {
        v["state"]["messages"] == 0
    })
    .await;
}
