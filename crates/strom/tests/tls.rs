//! TLS with certificates made in the test (rcgen): encrypted clients, client-certificate
//! verification, and a plain-text client refused as nats-server refuses it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::pki::Pki;
use common::{reference_or_skip, Raw, ServerProcess, TempDir};

async fn round_trip(client: &async_nats::Client) {
    let mut sub = client.subscribe("tls.test").await.expect("sub");
    common::sync(client).await;
    client
        .publish("tls.test", Bytes::from_static(b"secret"))
        .await
        .expect("publish");
    assert_eq!(&common::next_msg(&mut sub).await.payload[..], b"secret");
}

#[tokio::test]
async fn clients_connect_over_tls() {
    let pki = Pki::new();
    let m = common::http::free_port().to_string();
    let mut server = ServerProcess::strom_with_config(&pki.config(""), &["-m", &m]);
    server.wait_for_log(
        "TLS required for client connections",
        Duration::from_secs(5),
    );
    let raw = Raw::connect(&server.addr());
    assert!(raw.info.contains("\"tls_required\":true"), "{}", raw.info);
    let client = pki
        .client()
        .connect(server.url())
        .await
        .expect("TLS connect");
    round_trip(&client).await;
    // Monitoring names the negotiated version and suite as nats-server (Go) names them.
    let (_, _, body) = common::http::get(m.parse().expect("a port"), "/connz");
    let connz: serde_json::Value = serde_json::from_str(&body).expect("connz is JSON");
    let conn = connz["connections"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["lang"] == "rust"))
        .expect("the async-nats client is listed");
    assert_eq!(conn["tls_version"], "1.3", "{conn}");
    assert!(
        conn["tls_cipher_suite"]
            .as_str()
            .is_some_and(|s| s.starts_with("TLS_") && !s.starts_with("TLS13_")),
        "{conn}"
    );
}

#[test]
fn plain_text_clients_are_refused_like_nats_server() {
    let pki = Pki::new();
    let config = pki.config("");
    let talk = |server: &ServerProcess| {
        let mut raw = Raw::connect(&server.addr());
        raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        raw.until_closed()
    };
    let strom = ServerProcess::strom_with_config(&config, &[]);
    let ours = talk(&strom);
    assert!(
        !ours.contains("PONG"),
        "no plain-text conversation: {ours:?}"
    );
    if let Some(reference) = reference_or_skip() {
        let nats = ServerProcess::reference(&reference, &[], Some(&config));
        assert_eq!(ours, talk(&nats));
    }
}

#[tokio::test]
async fn verify_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let server = ServerProcess::strom_with_config(&pki.config("verify: true"), &[]);
    let raw = Raw::connect(&server.addr());
    assert!(raw.info.contains("\"tls_verify\":true"), "{}", raw.info);
    let without = pki.client().connect(server.url()).await;
    assert!(without.is_err(), "no client certificate is refused");
    let with = pki
        .client()
        .add_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"))
        .connect(server.url())
        .await
        .expect("client certificate accepted");
    round_trip(&with).await;
}

#[tokio::test]
async fn handshake_first_skips_the_plain_info() {
    let pki = Pki::new();
    let server = ServerProcess::strom_with_config(&pki.config("handshake_first: true"), &[]);
    let client = async_nats::ConnectOptions::new()
        .tls_first()
        .add_root_certificates(pki.path("ca.pem"))
        .connect(server.url())
        .await
        .expect("TLS-first connect");
    round_trip(&client).await;
}

#[test]
fn missing_certificate_files_fail_the_config_check() {
    let dir = TempDir::new("badtls");
    let (path, ok, text) = common::check_config_text(
        &dir,
        "port: 4222\ntls {\n  cert_file: \"/nonexistent/cert.pem\"\n  key_file: \"/nonexistent/key.pem\"\n}\n",
    );
    assert!(!ok);
    assert!(text.contains(&format!("{}:2:", path.display())), "{text}");
    assert!(text.contains("/nonexistent/cert.pem"), "{text}");
}

#[tokio::test]
async fn tls_from_the_command_line() {
    let pki = Pki::new();
    let cert = pki.path("server.pem");
    let key = pki.path("server-key.pem");
    let server = ServerProcess::strom(&[
        "--tls",
        "--tlscert",
        cert.to_str().expect("utf-8 path"),
        "--tlskey",
        key.to_str().expect("utf-8 path"),
    ]);
    let client = pki
        .client()
        .connect(server.url())
        .await
        .expect("TLS connect");
    round_trip(&client).await;
}

#[tokio::test]
async fn verify_and_map_takes_the_user_from_the_certificate() {
    let pki = Pki::new();
    let connect = |server: &ServerProcess| {
        pki.client()
            .add_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"))
            .connect(server.url())
    };
    // The client certificate carries the DNS name client.example.
    let mapped = format!(
        "{}authorization {{ users: [ {{ user: \"client.example\" }} ] }}\n",
        pki.config("verify_and_map: true")
    );
    let server = ServerProcess::strom_with_config(&mapped, &[]);
    let client = connect(&server)
        .await
        .expect("the certificate names a known user");
    round_trip(&client).await;
    let unmapped = format!(
        "{}authorization {{ users: [ {{ user: \"someone.else\" }} ] }}\n",
        pki.config("verify_and_map: true")
    );
    let server = ServerProcess::strom_with_config(&unmapped, &[]);
    assert!(
        connect(&server).await.is_err(),
        "a certificate naming no user is refused"
    );
}
