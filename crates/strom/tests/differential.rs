//! Differential tests: the same bytes to the reference nats-server and to strom, and the same
//! bytes back (INFO lines aside, which carry per-server identities).
//!
//! Each case is a protocol conversation; the servers run with default limits.

mod common;

use common::{reference_or_skip, Raw, ServerProcess, CONNECT};

const VERBOSE: &[u8] =
    b"CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n";
const PEDANTIC: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":true,\"headers\":true,\"protocol\":1}\r\n";
const DEFAULTS: &[u8] = b"CONNECT {}\r\n";
const NO_HEADERS: &[u8] =
    b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"protocol\":1}\r\n";

/// (name, connect line, what follows it)
fn cases() -> Vec<(&'static str, &'static [u8], Vec<u8>)> {
    let long_subject = format!("PUB {} 2\r\nhi\r\n", "a".repeat(5000)).into_bytes();
    vec![
        ("pub_sub", CONNECT, b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n".to_vec()),
        ("pub_reply", CONNECT, b"SUB foo 1\r\nPUB foo bar 2\r\nhi\r\n".to_vec()),
        ("lower_case_ops", CONNECT, b"sub foo 1\r\npub foo 2\r\nhi\r\n".to_vec()),
        ("tabs_and_spaces", CONNECT, b"SUB\tfoo  q \t 7 \r\nPUB\tfoo\t1\r\nx\r\n".to_vec()),
        ("wildcards", CONNECT, b"SUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nPUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\n".to_vec()),
        ("hpub", CONNECT, b"SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".to_vec()),
        ("hpub_reply", CONNECT, b"SUB foo 1\r\nHPUB foo r 22 24\r\nNATS/1.0\r\nA: b c\r\n\r\nhi\r\n".to_vec()),
        ("no_responders", CONNECT, b"SUB r 1\r\nPUB nobody r 0\r\n\r\n".to_vec()),
        ("no_responders_hpub", CONNECT, b"SUB r 1\r\nHPUB x r 12 12\r\nNATS/1.0\r\n\r\n\r\n".to_vec()),
        ("unsub", CONNECT, b"SUB foo 1\r\nUNSUB 1\r\nPUB foo 1\r\nx\r\n".to_vec()),
        ("unsub_max", CONNECT, b"SUB foo 1\r\nSUB foo 2\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n".to_vec()),
        ("unsub_max_zero", CONNECT, b"SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nx\r\n".to_vec()),
        ("unsub_bad_max", CONNECT, b"SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\nx\r\n".to_vec()),
        ("unsub_unknown_sid", CONNECT, b"UNSUB 99\r\n".to_vec()),
        ("duplicate_sid", CONNECT, b"SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n".to_vec()),
        ("queue_single_member", CONNECT, b"SUB foo q 1\r\nPUB foo r 2\r\nhi\r\n".to_vec()),
        ("verbose", VERBOSE, b"SUB foo 1\r\nPUB foo 0\r\n\r\nUNSUB 1\r\n".to_vec()),
        ("verbose_invalid_sub", VERBOSE, b"SUB foo..bar 1\r\n".to_vec()),
        ("defaults_are_verbose_and_pedantic", DEFAULTS, b"PUB foo.* 2\r\nhi\r\n".to_vec()),
        ("pedantic_invalid_publish", PEDANTIC, b"SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..x 0\r\n\r\n".to_vec()),
        ("non_pedantic_wildcard_publish", CONNECT, b"SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..x 0\r\n\r\n".to_vec()),
        ("invalid_subjects", CONNECT, b"SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB .x 3\r\nSUB foo. 4\r\n".to_vec()),
        ("plus_ok_and_info_ignored", CONNECT, b"+OK\r\nINFO {}\r\n".to_vec()),
        ("pong_accepted", CONNECT, b"PONG\r\n".to_vec()),
        ("headers_stripped_for_old_clients", NO_HEADERS, b"SUB foo 1\r\n".to_vec()),
        ("no_connect_needed_without_auth", b"", b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n".to_vec()),
        ("connect_twice", CONNECT, VERBOSE.to_vec()),
        ("ping_lower_case", CONNECT, b"ping\r\n".to_vec()),
        ("bare_newlines", CONNECT, b"SUB foo 1\nPUB foo 2\nhi\r\n".to_vec()),
        // One subscription per trie node: nats-server orders matches >, literal, *.
        ("match_order", CONNECT, b"SUB a.b 1\r\nSUB a.* 2\r\nSUB a.> 3\r\nSUB *.b 4\r\nSUB > 5\r\nPUB a.b 1\r\nz\r\n".to_vec()),
        ("sub_too_many_args", CONNECT, b"SUB foo q 1 extra\r\n".to_vec()),
        // These close the connection.
        ("unknown_op", CONNECT, b"FOO bar\r\n".to_vec()),
        ("msg_from_client", CONNECT, b"MSG foo 1 2\r\nhi\r\n".to_vec()),
        ("pub_no_args", CONNECT, b"PUB\r\n".to_vec()),
        ("pub_bad_size", CONNECT, b"PUB foo abc\r\n".to_vec()),
        ("pub_negative_size", CONNECT, b"PUB foo -1\r\n".to_vec()),
        ("pub_too_many_args", CONNECT, b"PUB foo bar baz 2\r\n".to_vec()),
        ("sub_no_sid", CONNECT, b"SUB foo\r\n".to_vec()),
        ("unsub_no_args", CONNECT, b"UNSUB\r\n".to_vec()),
        ("payload_too_long", CONNECT, b"PUB foo 2\r\nhello\r\n".to_vec()),
        ("payload_not_crlf", CONNECT, b"PUB foo 2\r\nhiXX".to_vec()),
        ("hpub_header_larger_than_total", CONNECT, b"HPUB foo 20 10\r\n".to_vec()),
        ("hpub_without_headers", NO_HEADERS, b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".to_vec()),
        ("max_payload", CONNECT, b"PUB foo 1048577\r\n".to_vec()),
        ("max_control_line", CONNECT, long_subject),
        ("client_err", CONNECT, b"-ERR 'oops'\r\n".to_vec()),
        ("bad_connect_json", b"CONNECT {bad\r\n", Vec::new()),
        ("no_responders_without_headers", b"CONNECT {\"headers\":false,\"no_responders\":true,\"verbose\":false}\r\n", Vec::new()),
    ]
}

fn converse(addr: &str, connect: &[u8], body: &[u8]) -> String {
    let mut raw = Raw::connect(addr);
    let mut bytes = connect.to_vec();
    bytes.extend_from_slice(body);
    raw.exchange(&bytes)
}

#[test]
fn protocol_conversations_match_nats_server() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let nats = ServerProcess::reference(&reference, &[], None);
    let strom = ServerProcess::strom(&[]);
    let mut mismatches = Vec::new();
    for (name, connect, body) in cases() {
        let want = converse(&nats.addr(), connect, &body);
        let got = converse(&strom.addr(), connect, &body);
        if want != got {
            mismatches.push(format!(
                "{name}:\n  nats-server: {want:?}\n  strom:       {got:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn headers_are_stripped_for_clients_without_header_support() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let run = |addr: &str| {
        let mut old = Raw::connect(addr);
        old.exchange(&[NO_HEADERS, b"SUB foo 1\r\n"].concat());
        let mut new = Raw::connect(addr);
        new.exchange(&[CONNECT, b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"].concat());
        old.exchange(b"")
    };
    let nats = ServerProcess::reference(&reference, &[], None);
    let strom = ServerProcess::strom(&[]);
    assert_eq!(run(&strom.addr()), run(&nats.addr()));
    assert_eq!(run(&strom.addr()), "MSG foo 1 2\r\nhi\r\nPONG\r\n");
}

#[test]
fn info_has_the_same_fields_in_the_same_order() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let keys = |addr: &str| {
        let raw = Raw::connect(addr);
        let json = raw.info.trim_start_matches("INFO ").trim_end();
        let v: serde_json::Value = serde_json::from_str(json).expect("INFO is JSON");
        let obj = v.as_object().expect("INFO is an object").clone();
        (raw.info.ends_with(" \r\n"), obj)
    };
    let nats = ServerProcess::reference(&reference, &[], None);
    let strom = ServerProcess::strom(&[]);
    let (nats_space, nats_info) = keys(&nats.addr());
    let (strom_space, strom_info) = keys(&strom.addr());
    assert_eq!(nats_space, strom_space, "INFO line ends with ' \\r\\n'");
    // nats-server's xkey is for auth callout, and git_commit names its build: not ours to copy.
    let ours: Vec<&String> = strom_info.keys().collect();
    let theirs: Vec<&String> = nats_info
        .keys()
        .filter(|k| *k != "xkey" && *k != "git_commit")
        .collect();
    let mut ours_sorted = ours.clone();
    ours_sorted.sort();
    let mut theirs_sorted = theirs.clone();
    theirs_sorted.sort();
    assert_eq!(ours_sorted, theirs_sorted);
    for (k, v) in &nats_info {
        if let Some(mine) = strom_info.get(k) {
            assert_eq!(
                std::mem::discriminant(mine),
                std::mem::discriminant(v),
                "type of {k}"
            );
        }
    }
    for k in [
        "version",
        "proto",
        "headers",
        "max_payload",
        "host",
        "client_ip",
        "api_lvl",
    ] {
        assert_eq!(strom_info.get(k), nats_info.get(k), "{k}");
    }
}
