//! Authentication from the command line (`--user`/`--pass`, `--auth`). The configuration-file
//! forms belong to the accounts and auth work.

mod common;

use common::{reference_or_skip, Raw, ServerProcess};

#[tokio::test]
async fn user_and_password_are_required_and_checked() {
    let server = ServerProcess::strom(&["--user", "alice", "--pass", "s3cret"]);
    let ok = async_nats::ConnectOptions::with_user_and_password("alice".into(), "s3cret".into())
        .connect(server.url())
        .await;
    assert!(ok.is_ok(), "right password connects");
    let bad = async_nats::ConnectOptions::with_user_and_password("alice".into(), "nope".into())
        .connect(server.url())
        .await;
    assert!(bad.is_err(), "wrong password is refused");
    let none = async_nats::connect(server.url()).await;
    assert!(none.is_err(), "no credentials is refused");
}

#[tokio::test]
async fn token_is_required_and_checked() {
    let server = ServerProcess::strom(&["--auth", "t0ken"]);
    assert!(async_nats::ConnectOptions::with_token("t0ken".into())
        .connect(server.url())
        .await
        .is_ok());
    assert!(async_nats::ConnectOptions::with_token("other".into())
        .connect(server.url())
        .await
        .is_err());
}

/// The same conversations against nats-server and strom, both started with the same flags.
#[test]
fn auth_failures_match_nats_server() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let cases: &[(&str, &[u8])] = &[
        (
            "wrong_password",
            b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"x\"}\r\nPING\r\n",
        ),
        ("no_connect_ping", b"PING\r\n"),
        ("no_connect_sub", b"SUB foo 1\r\n"),
        ("no_connect_pub", b"PUB foo 0\r\n\r\n"),
        (
            "right_password",
            b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\"}\r\nPING\r\n",
        ),
        (
            "right_password_verbose",
            b"CONNECT {\"user\":\"a\",\"pass\":\"b\"}\r\nPING\r\n",
        ),
    ];
    let args = ["--user", "a", "--pass", "b"];
    let nats = ServerProcess::reference(&reference, &args, None);
    let strom = ServerProcess::strom(&args);
    for (name, bytes) in cases {
        let talk = |addr: &str| {
            let mut raw = Raw::connect(addr);
            assert!(raw.info.contains("\"auth_required\":true"), "{}", raw.info);
            raw.send(bytes);
            raw.until_pong()
        };
        assert_eq!(talk(&strom.addr()), talk(&nats.addr()), "{name}");
    }
}
