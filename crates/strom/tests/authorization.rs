//! Users, permissions and accounts from a configuration file: the same conversations against
//! the reference nats-server and strom, and async-nats clients for each way of logging in.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{reference_or_skip, Raw, ServerProcess};
use futures::StreamExt;

const PERMS: &str = r#"
authorization {
  users: [
    { user: a, password: a, permissions: {
        publish: { allow: ["foo.>", "_INBOX.>"], deny: ["foo.secret"] }
        subscribe: { allow: ["foo.>", "q.> grp", "_INBOX.>"], deny: ["foo.private"] } } }
    { user: r, password: r, permissions: { subscribe: "svc", allow_responses: true } }
    { user: open, password: open }
  ]
}
"#;

fn connect_line(user: &str) -> Vec<u8> {
    format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{user}\",\"protocol\":1,\"headers\":true}}\r\n"
    )
    .into_bytes()
}

#[test]
fn permission_violations_match_nats_server() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "pub_allow_deny",
            b"PUB foo.secret 1\r\nx\r\nPUB bar 1\r\nx\r\nSUB foo.ok 9\r\nPUB foo.ok 1\r\nx\r\n"
                .to_vec(),
        ),
        (
            "sub_allow_deny",
            b"SUB foo.private 1\r\nSUB bar 2\r\nSUB foo.ok 3\r\nSUB > 4\r\n".to_vec(),
        ),
        (
            "queue_permissions",
            b"SUB q.x 4\r\nSUB q.x grp 5\r\nSUB q.x other 6\r\nSUB q.> grp 7\r\n".to_vec(),
        ),
        (
            "wildcard_sub_filters_denied_subjects",
            b"SUB foo.* 1\r\nSUB foo.> 2\r\nPUB foo.private 1\r\nx\r\nPUB foo.public 1\r\ny\r\n"
                .to_vec(),
        ),
    ];
    let nats = ServerProcess::reference(&reference, &[], Some(PERMS));
    let strom = ServerProcess::strom_with_config(PERMS, &[]);
    for (name, body) in cases {
        let talk = |addr: &str| {
            let mut raw = Raw::connect(addr);
            raw.exchange(&[connect_line("a"), body.clone()].concat())
        };
        assert_eq!(talk(&strom.addr()), talk(&nats.addr()), "{name}");
    }
}

#[test]
fn allow_responses_permits_one_reply_per_request() {
    let run = |server: &ServerProcess| {
        let mut responder = Raw::connect(&server.addr());
        responder.exchange(&[connect_line("r"), b"SUB svc 1\r\n".to_vec()].concat());
        let mut requester = Raw::connect(&server.addr());
        requester.exchange(
            &[
                connect_line("open"),
                b"SUB _INBOX.x 1\r\nPUB svc _INBOX.x 3\r\nreq\r\n".to_vec(),
            ]
            .concat(),
        );
        let got = responder.exchange(b"");
        let replies = responder
            .exchange(b"PUB _INBOX.x 2\r\nr1\r\nPUB _INBOX.x 2\r\nr2\r\nPUB other 1\r\nz\r\n");
        let answered = requester.exchange(b"");
        format!("{got}|{replies}|{answered}")
    };
    let strom = ServerProcess::strom_with_config(PERMS, &[]);
    let ours = run(&strom);
    assert_eq!(
        ours,
        "MSG svc 1 _INBOX.x 3\r\nreq\r\nPONG\r\n|-ERR 'Permissions Violation for Publish to \"_INBOX.x\"'\r\n-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n|MSG _INBOX.x 1 2\r\nr1\r\nPONG\r\n"
    );
    if let Some(reference) = reference_or_skip() {
        let nats = ServerProcess::reference(&reference, &[], Some(PERMS));
        assert_eq!(ours, run(&nats));
    }
}

#[tokio::test]
async fn accounts_isolate_subjects() {
    let config = r#"
accounts {
  A { users: [ { user: a, password: a } ] }
  B { users: [ { user: b, password: b } ] }
}
"#;
    let server = ServerProcess::strom_with_config(config, &[]);
    let login = |u: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(u.into(), u.into()).connect(server.url())
    };
    let a1 = login("a").await.expect("a connects");
    let a2 = login("a").await.expect("a connects");
    let b = login("b").await.expect("b connects");
    let mut a_sub = a1.subscribe("orders").await.expect("sub");
    let mut b_sub = b.subscribe("orders").await.expect("sub");
    common::sync(&a1).await;
    common::sync(&b).await;
    a2.publish("orders", Bytes::from_static(b"for-a"))
        .await
        .expect("publish");
    common::sync(&a2).await;
    b.publish("orders", Bytes::from_static(b"for-b"))
        .await
        .expect("publish");
    common::sync(&b).await;
    let got = tokio::time::timeout(Duration::from_secs(5), a_sub.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(&got.payload[..], b"for-a");
    let got = tokio::time::timeout(Duration::from_secs(5), b_sub.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(&got.payload[..], b"for-b");
    common::sync(&a1).await;
    common::sync(&b).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), a_sub.next())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), b_sub.next())
            .await
            .is_err()
    );
    assert_eq!(a1.server_info().max_payload, 1024 * 1024);
}

#[tokio::test]
async fn bcrypt_password_logs_in() {
    let hash = bcrypt::hash("s3cret", 4).expect("hashes");
    let config = format!("authorization {{ users: [ {{ user: u, password: \"{hash}\" }} ] }}\n");
    let server = ServerProcess::strom_with_config(&config, &[]);
    let ok = async_nats::ConnectOptions::with_user_and_password("u".into(), "s3cret".into())
        .connect(server.url())
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let bad = async_nats::ConnectOptions::with_user_and_password("u".into(), "wrong".into())
        .connect(server.url())
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn nkey_user_signs_the_nonce() {
    let kp = nkeys::KeyPair::new_user();
    let seed = kp.seed().expect("user keys have seeds");
    let config = format!(
        "authorization {{ users: [ {{ nkey: {} }} ] }}\n",
        kp.public_key()
    );
    let server = ServerProcess::strom_with_config(&config, &[]);
    let raw = Raw::connect(&server.addr());
    assert!(
        raw.info.contains("\"nonce\":\""),
        "INFO carries a nonce: {}",
        raw.info
    );
    let client = async_nats::ConnectOptions::with_nkey(seed)
        .connect(server.url())
        .await
        .expect("nkey login");
    common::sync(&client).await;
    let other = nkeys::KeyPair::new_user().seed().expect("seed");
    assert!(async_nats::ConnectOptions::with_nkey(other)
        .connect(server.url())
        .await
        .is_err());
}

#[tokio::test]
async fn no_auth_user_takes_anonymous_clients() {
    let config = r#"
accounts { APP { users: [ { user: guest, password: guest } ] } }
no_auth_user: guest
"#;
    let server = ServerProcess::strom_with_config(config, &[]);
    let anon = async_nats::connect(server.url())
        .await
        .expect("anonymous connects as guest");
    let named = async_nats::ConnectOptions::with_user_and_password("guest".into(), "guest".into())
        .connect(server.url())
        .await
        .expect("guest connects");
    let mut sub = named.subscribe("hello").await.expect("sub");
    common::sync(&named).await;
    anon.publish("hello", Bytes::from_static(b"same account"))
        .await
        .expect("publish");
    assert_eq!(
        &common::next_msg(&mut sub).await.payload[..],
        b"same account"
    );
}

#[test]
fn silent_clients_are_closed_after_the_auth_timeout() {
    let config = "authorization { user: a, password: a, timeout: 0.2 }\n";
    let run = |server: &ServerProcess| {
        let mut raw = Raw::connect(&server.addr());
        raw.until_closed()
    };
    let strom = ServerProcess::strom_with_config(config, &[]);
    let ours = run(&strom);
    assert_eq!(ours, "-ERR 'Authentication Timeout'\r\n");
    if let Some(reference) = reference_or_skip() {
        let nats = ServerProcess::reference(&reference, &[], Some(config));
        assert_eq!(ours, run(&nats));
    }
}

#[test]
fn default_permissions_apply_to_users_without_their_own() {
    let config = r#"
authorization {
  default_permissions: { publish: "public.>", subscribe: "public.>" }
  users: [
    { user: plain, password: plain }
    { user: admin, password: admin, permissions: { publish: ">", subscribe: ">" } }
  ]
}
"#;
    let run = |server: &ServerProcess| {
        let mut plain = Raw::connect(&server.addr());
        let a = plain.exchange(
            &[
                connect_line("plain"),
                b"PUB admin.x 0\r\n\r\nSUB public.x 1\r\nPUB public.x 0\r\n\r\n".to_vec(),
            ]
            .concat(),
        );
        let mut admin = Raw::connect(&server.addr());
        let b = admin.exchange(
            &[
                connect_line("admin"),
                b"SUB admin.x 1\r\nPUB admin.x 0\r\n\r\n".to_vec(),
            ]
            .concat(),
        );
        format!("{a}|{b}")
    };
    let strom = ServerProcess::strom_with_config(config, &[]);
    let ours = run(&strom);
    assert_eq!(
        ours,
        "-ERR 'Permissions Violation for Publish to \"admin.x\"'\r\nMSG public.x 1 0\r\n\r\nPONG\r\n|MSG admin.x 1 0\r\n\r\nPONG\r\n"
    );
    if let Some(reference) = reference_or_skip() {
        let nats = ServerProcess::reference(&reference, &[], Some(config));
        assert_eq!(ours, run(&nats));
    }
}

#[test]
fn passwords_never_reach_the_log() {
    let config = "authorization { users: [ { user: a, password: \"hunter2-secret\" } ] }\n";
    let mut server = ServerProcess::strom_with_config(config, &["-DV"]);
    let mut good = Raw::connect(&server.addr());
    good.exchange(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"hunter2-secret\"}\r\n");
    let mut bad = Raw::connect(&server.addr());
    bad.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"hunter2-wrong\"}\r\n");
    bad.until_closed();
    server.wait_for_log("[REDACTED]", Duration::from_secs(5));
    server.wait_for_log("authentication error", Duration::from_secs(5));
    let logs = server.logs().join("\n");
    assert!(!logs.contains("hunter2"), "a password was logged:\n{logs}");
}
