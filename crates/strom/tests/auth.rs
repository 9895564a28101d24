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

/// A hundred logins with a wrong bcrypt password that leave at once must not keep the next
/// client waiting for their hashes: checks of requesters that left are skipped, so the right
/// password still logs in well within the auth timeout (it timed out before).
#[test]
fn logins_that_left_do_not_hold_up_the_next_one() {
    use std::io::{Read, Write};
    // bcrypt("s3cret-bench", cost 11)
    let config = r#"authorization {
  users: [ { user: alice, password: "$2a$11$30AVlD4MnUj.ynsoX113KuHFLQBD96ZjCPuOxIPN0Ioo3Z4JiGUme" } ]
  timeout: 2
}"#;
    let server = ServerProcess::strom_with_config(config, &[]);
    let login = |pass: &str| {
        let mut raw = Raw::connect(&server.addr());
        let connect = format!(
            "CONNECT {{\"user\":\"alice\",\"pass\":\"{pass}\",\"verbose\":false}}\r\nPING\r\n"
        );
        raw.stream.write_all(connect.as_bytes()).expect("sent");
        raw
    };
    for _ in 0..100 {
        drop(login("wrong"));
    }
    let mut raw = login("s3cret-bench");
    let mut answer = [0u8; 64];
    let n = raw.stream.read(&mut answer).expect("an answer");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("PONG"), "{answer}");
}
