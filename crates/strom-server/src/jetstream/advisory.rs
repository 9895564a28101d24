//! JetStream advisories on `$JS.EVENT.ADVISORY.>`, in nats-server's JSON schema.

use serde::Serialize;

use super::wire;
use super::JetStream;
use crate::account::Account;

#[derive(Serialize)]
struct StreamAction<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    stream: &'a str,
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// `$JS.EVENT.ADVISORY.STREAM.{CREATED,UPDATED,DELETED}.<stream>`; `action` is nats-server's
/// `create`, `modify` or `delete`.
pub fn stream_action(js: &JetStream, account: &Account, stream: &str, action: &str) {
    let Some(server) = js.server.upgrade() else {
        return;
    };
    let event = match action {
        "create" => "CREATED",
        "modify" => "UPDATED",
        _ => "DELETED",
    };
    let subject = format!("$JS.EVENT.ADVISORY.STREAM.{event}.{stream}");
    if account.sublist.matches(subject.as_bytes()).is_empty() {
        return;
    }
    let adv = StreamAction {
        kind: "io.nats.jetstream.advisory.v1.stream_action",
        id: crate::system::event_id(),
        timestamp: wire::format_time(chrono::Utc::now()),
        stream,
        action,
        domain: js.domain.as_deref(),
    };
    if let Ok(body) = serde_json::to_vec(&adv) {
        crate::client::publish_from_server(&server, account, subject.as_bytes(), None, None, &body);
    }
}

#[derive(Serialize)]
struct ApiAudit<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a crate::system::ClientBlock>,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// `$JS.EVENT.ADVISORY.API`: an API request and the server's answer, for audit trails.
pub fn api_audit(
    server: &crate::server::Shared,
    js: &JetStream,
    account: &Account,
    from: u64,
    subject: &[u8],
    request: &[u8],
    response: &[u8],
) {
    const SUBJECT: &[u8] = b"$JS.EVENT.ADVISORY.API";
    if account.sublist.matches(SUBJECT).is_empty() {
        return;
    }
    let client = server.client_by_id(from).and_then(|c| c.description());
    let adv = ApiAudit {
        kind: "io.nats.jetstream.advisory.v1.api_audit",
        id: crate::system::event_id(),
        timestamp: wire::format_time(chrono::Utc::now()),
        server: &server.server_name,
        client: client.as_deref(),
        subject: &String::from_utf8_lossy(subject),
        request: &String::from_utf8_lossy(request),
        response: &String::from_utf8_lossy(response),
        domain: js.domain.as_deref(),
    };
    if let Ok(body) = serde_json::to_vec(&adv) {
        crate::client::publish_from_server(server, account, SUBJECT, None, None, &body);
    }
}

/// The fields every consumer advisory starts with.
#[derive(Serialize)]
struct ConsumerEvent<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    stream: &'a str,
    consumer: &'a str,
    #[serde(flatten)]
    rest: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// Publishes a consumer advisory on `subject` when someone listens.
fn consumer_event<T: Serialize>(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    account: &Account,
    subject: &str,
    kind: &'static str,
    (stream, consumer): (&str, &str),
    rest: T,
) {
    if account.sublist.matches(subject.as_bytes()).is_empty() {
        return;
    }
    let event = ConsumerEvent {
        kind,
        id: crate::system::event_id(),
        timestamp: wire::format_time(chrono::Utc::now()),
        stream,
        consumer,
        rest,
        domain: ctx.domain.as_deref(),
    };
    if let Ok(body) = serde_json::to_vec(&event) {
        crate::client::publish_from_server(server, account, subject.as_bytes(), None, None, &body);
    }
}

#[derive(Serialize)]
struct Action<'a> {
    action: &'a str,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,DELETED}.<stream>.<consumer>`.
pub fn consumer_action(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    action: &str,
) {
    let event = if action == "create" {
        "CREATED"
    } else {
        "DELETED"
    };
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.{event}.{}.{consumer}",
            stream.name
        ),
        "io.nats.jetstream.advisory.v1.consumer_action",
        (&stream.name, consumer),
        Action { action },
    );
}

#[derive(Serialize)]
struct Delivery<'a> {
    consumer_seq: u64,
    stream_seq: u64,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
}

/// `…CONSUMER.MSG_NAKED.<stream>.<consumer>`.
pub fn consumer_nak(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    (consumer_seq, stream_seq, deliveries): (u64, u64, u64),
) {
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.{}.{consumer}",
            stream.name
        ),
        "io.nats.jetstream.advisory.v1.nak",
        (&stream.name, consumer),
        Delivery {
            consumer_seq,
            stream_seq,
            deliveries,
            reason: "",
        },
    );
}

/// `…CONSUMER.MSG_TERMINATED.<stream>.<consumer>`, with the reason given after `+TERM`.
pub fn consumer_terminated(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    (consumer_seq, stream_seq, deliveries): (u64, u64, u64),
    reason: &str,
) {
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{}.{consumer}",
            stream.name
        ),
        "io.nats.jetstream.advisory.v1.terminated",
        (&stream.name, consumer),
        Delivery {
            consumer_seq,
            stream_seq,
            deliveries,
            reason,
        },
    );
}

#[derive(Serialize)]
struct MaxDeliver {
    stream_seq: u64,
    deliveries: u64,
}

/// `…CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`: a message was given up on.
pub fn consumer_max_deliveries(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    stream_seq: u64,
    deliveries: u64,
) {
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{consumer}",
            stream.name
        ),
        "io.nats.jetstream.advisory.v1.max_deliver",
        (&stream.name, consumer),
        MaxDeliver {
            stream_seq,
            deliveries,
        },
    );
}

#[derive(Serialize)]
struct AckMetric {
    consumer_seq: u64,
    stream_seq: u64,
    ack_time: i64,
    deliveries: u64,
}

/// `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>`: a sampled ack and how long it took.
pub fn consumer_ack_metric(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    (consumer_seq, stream_seq, deliveries): (u64, u64, u64),
    ack_time: i64,
) {
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!("$JS.EVENT.METRIC.CONSUMER.ACK.{}.{consumer}", stream.name),
        "io.nats.jetstream.metric.v1.consumer_ack",
        (&stream.name, consumer),
        AckMetric {
            consumer_seq,
            stream_seq,
            ack_time,
            deliveries,
        },
    );
}

#[derive(Serialize)]
struct Pause<'a> {
    paused: bool,
    /// Always present, as nats-server's `time.Time` is (`0001-01-01T00:00:00Z` on a resume).
    pause_until: &'a str,
}

/// `…CONSUMER.PAUSE.<stream>.<consumer>`: paused (until `pause_until`), or running again — by
/// request, or because `pause_until` has passed.
pub fn consumer_pause(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    paused: bool,
    pause_until: &str,
) {
    consumer_event(
        server,
        ctx,
        &stream.account,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.{}.{consumer}",
            stream.name
        ),
        "io.nats.jetstream.advisory.v1.consumer_pause",
        (&stream.name, consumer),
        Pause {
            paused,
            pause_until,
        },
    );
}

#[derive(Serialize)]
struct GroupEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    account: &'a str,
    stream: &'a str,
    consumer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn group_event(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    (kind, event): (&'static str, &str),
    group: &str,
    (pinned_id, reason): (Option<&str>, Option<&str>),
) {
    let account = &stream.account;
    let subject = format!(
        "$JS.EVENT.ADVISORY.CONSUMER.{event}.{}.{consumer}",
        stream.name
    );
    if account.sublist.matches(subject.as_bytes()).is_empty() {
        return;
    }
    let e = GroupEvent {
        kind,
        id: crate::system::event_id(),
        timestamp: wire::format_time(chrono::Utc::now()),
        account: &account.name,
        stream: &stream.name,
        consumer,
        domain: ctx.domain.as_deref(),
        group,
        pinned_id,
        reason,
    };
    if let Ok(body) = serde_json::to_vec(&e) {
        crate::client::publish_from_server(server, account, subject.as_bytes(), None, None, &body);
    }
}

/// `…CONSUMER.PINNED.<stream>.<consumer>`: a requester got the pin of a priority group.
pub fn consumer_pinned(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &super::consumer::Consumer,
    pin: &super::consumer::priority::Pin,
) {
    group_event(
        server,
        ctx,
        stream,
        &consumer.name,
        (
            "io.nats.jetstream.advisory.v1.consumer_group_pinned",
            "PINNED",
        ),
        &pin.group,
        (Some(&pin.id), None),
    );
}

/// `…CONSUMER.UNPINNED.<stream>.<consumer>`, with the reason: `timeout` or `admin`.
pub fn consumer_unpinned(
    server: &crate::server::Shared,
    ctx: &super::ingest::Context,
    stream: &super::stream::Stream,
    consumer: &str,
    group: &str,
    reason: &str,
) {
    group_event(
        server,
        ctx,
        stream,
        consumer,
        (
            "io.nats.jetstream.advisory.v1.consumer_group_unpinned",
            "UNPINNED",
        ),
        group,
        (None, Some(reason)),
    );
}
