//! `/healthz` judged as nats-server judges a single server: asset checks by account, stream
//! and consumer (404 when missing, 400 when asked wrongly), `details`, and a stream whose
//! files cannot be recovered making the server unhealthy. Every answer is compared, status
//! and body byte for byte, with the reference nats-server's for the same state.

mod common;

use std::path::Path;

use common::http::{get, start};
use common::TempDir;

/// A file stream "S" with one message and a durable consumer "C"; a file stream "T".
async fn streams(url: &str) {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    for (name, subject) in [("S", "s.>"), ("T", "t.>")] {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: vec![subject.into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
    }
    js.publish("s.a", "x".into())
        .await
        .expect("published")
        .await
        .expect("acked");
    js.get_stream("S")
        .await
        .expect("stream S")
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .expect("consumer created");
}

const ASKED: &[&str] = &[
    "/healthz",
    "/healthz?js-server-only=true",
    "/healthz?account=%24G",
    "/healthz?account=%24G&stream=S",
    "/healthz?account=%24G&stream=S&consumer=C",
    "/healthz?account=NOPE",
    "/healthz?account=%24G&stream=NOPE",
    "/healthz?account=%24G&stream=S&consumer=NOPE",
    "/healthz?account=%24G&stream=NOPE&details=true",
    "/healthz?account=%24G&stream=S&consumer=NOPE&details=1",
    "/healthz?stream=S",
    "/healthz?stream=S&details=true",
    "/healthz?account=%24G&consumer=C",
    "/healthz?details=true",
    "/healthz?details=maybe",
];

/// Every question in `ASKED`, answered by `bin` (strom when `None`) with streams made.
async fn answers(bin: Option<&Path>, dir: &TempDir) -> Vec<(u16, String, String)> {
    let (server, port) = start(bin, dir);
    streams(&server.url()).await;
    ASKED.iter().map(|p| get(port, p)).collect()
}

#[tokio::test]
async fn asset_checks_answer_as_nats_server_does() {
    let dir = TempDir::new("healthz-assets");
    let ours = answers(None, &dir).await;
    let expect = |path: &str, status: u16, body: &str| {
        let i = ASKED.iter().position(|p| *p == path).expect("asked");
        assert_eq!((ours[i].0, ours[i].2.as_str()), (status, body), "{path}");
    };
    expect("/healthz", 200, r#"{"status":"ok"}"#);
    expect(
        "/healthz?account=%24G&stream=S&consumer=C",
        200,
        r#"{"status":"ok"}"#,
    );
    expect(
        "/healthz?account=%24G&stream=NOPE",
        404,
        r#"{"status":"unavailable","error":"JetStream stream \"NOPE\" not found on account \"$G\""}"#,
    );
    expect(
        "/healthz?stream=S",
        400,
        r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#,
    );
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let dir = TempDir::new("healthz-assets-ref");
    let theirs = answers(Some(&reference), &dir).await;
    for ((path, a), b) in ASKED.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a, b, "{path}: strom vs nats-server");
    }
}

/// Makes stream `S` unrecoverable: its metadata file (strom's `meta.json`, nats-server's
/// `meta.inf`) overwritten with garbage while the server is down.
fn damage(dir: &TempDir) {
    let stream_dir = dir.0.join("jetstream").join("$G").join("streams").join("S");
    let mut damaged = 0;
    for name in ["meta.json", "meta.inf"] {
        let path = stream_dir.join(name);
        if path.exists() {
            std::fs::write(&path, b"not the stream's metadata").expect("damaged");
            damaged += 1;
        }
    }
    assert_eq!(damaged, 1, "one metadata file in {}", stream_dir.display());
}

/// The answers, after a restart with stream S damaged, to `/healthz`, with details, and for
/// the healthy stream T alone.
async fn after_damage(bin: Option<&Path>, tag: &str) -> Vec<(u16, String, String)> {
    let dir = TempDir::new(tag);
    {
        let (server, _) = start(bin, &dir);
        streams(&server.url()).await;
    }
    damage(&dir);
    let (_server, port) = start(bin, &dir);
    [
        "/healthz",
        "/healthz?details=true",
        "/healthz?account=%24G&stream=T",
        "/healthz?js-enabled-only=true",
    ]
    .iter()
    .map(|p| get(port, p))
    .collect()
}

#[tokio::test]
async fn a_stream_that_cannot_be_recovered_is_unhealthy() {
    let ours = after_damage(None, "healthz-damage").await;
    assert_eq!(
        (ours[0].0, ours[0].2.as_str()),
        (
            503,
            r#"{"status":"unavailable","error":"JetStream stream '$G \u003e S' could not be recovered"}"#
        )
    );
    assert_eq!(
        (ours[1].0, ours[1].2.as_str()),
        (
            503,
            r#"{"status":"error","errors":[{"type":"STREAM","account":"$G","stream":"S","error":"JetStream stream '$G \u003e S' could not be recovered"}]}"#
        )
    );
    assert_eq!(ours[2].0, 200, "stream T alone is healthy");
    assert_eq!(ours[3].0, 200, "JetStream itself runs");
    let Some(reference) = common::reference_or_skip() else {
        return;
    };
    let theirs = after_damage(Some(&reference), "healthz-damage-ref").await;
    assert_eq!(ours, theirs, "strom vs nats-server");
}
