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
