//! The monitoring port over HTTPS (`-ms`, `https_port`, `https`): served with the `tls`
//! block's certificate, without asking for a client certificate, and refused at start as
//! nats-server refuses it (no `tls` block, or an HTTP port as well). Each case runs against
//! strom and, when installed, the reference nats-server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::http::free_port;
use common::pki::Pki;
use common::{reference_or_skip, server_under_test, ServerProcess};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// `GET path` over HTTPS/1.0, trusting only `ca`: the status, the content type and the body.
fn get_tls(port: u16, ca: &Path, path: &str) -> (u16, String, String) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("CA added");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("monitoring port");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    write!(tls, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request sent");
    let mut raw = Vec::new();
    // The server may close without a TLS close_notify; what arrived before counts.
    if let Err(e) = tls.read_to_end(&mut raw) {
        assert!(
            e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty(),
            "reading {path}: {e}"
        );
    }
    let text = String::from_utf8(raw).expect("utf-8 answer");
    common::http::parse_response(&text)
}

/// The servers to check: strom, then the reference when it is installed.
fn servers() -> Vec<std::path::PathBuf> {
    let mut bins = vec![server_under_test()];
    bins.extend(reference_or_skip());
    bins
}

fn https_serves(bin: &Path) {
    let pki = Pki::new();
    let port = free_port();
    let ms = port.to_string();
    // verify: true asks client connections for a certificate; the monitoring port must not.
    let mut server = ServerProcess::start(bin, &["-ms", &ms], Some(&pki.config("verify: true")));
    server.wait_for_log("Starting https monitor on", Duration::from_secs(5));
    let who = bin.display();

    let (status, content_type, body) = get_tls(port, &pki.path("ca.pem"), "/varz");
    assert_eq!(status, 200, "{who}: {body}");
    assert!(content_type.starts_with("application/json"), "{who}");
    let varz: serde_json::Value = serde_json::from_str(&body).expect("varz JSON");
    assert_eq!(varz["https_port"], port, "{who}: {body}");
    assert_eq!(varz["http_port"], 0, "{who}: {body}");

    let (status, _, body) = get_tls(port, &pki.path("ca.pem"), "/healthz");
    assert_eq!(status, 200, "{who}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("healthz JSON");
    assert_eq!(health["status"], "ok", "{who}: {body}");

    let (status, content_type, body) = get_tls(port, &pki.path("ca.pem"), "/");
    assert_eq!(status, 200, "{who}");
    assert!(
        content_type.starts_with("text/html"),
        "{who}: {content_type}"
    );
    assert!(
        body.contains("varz"),
        "{who}: the index links the endpoints"
    );

    let (status, _, _) = get_tls(port, &pki.path("ca.pem"), "/nothing");
    assert_eq!(status, 404, "{who}");

    // Asked after the others, /varz counts them.
    let (_, _, body) = get_tls(port, &pki.path("ca.pem"), "/varz");
    let varz: serde_json::Value = serde_json::from_str(&body).expect("varz JSON");
    let stats = &varz["http_req_stats"];
    assert_eq!(stats["/varz"], 2, "{who}: {stats}");
    assert_eq!(stats["/healthz"], 1, "{who}: {stats}");
    assert_eq!(stats["/"], 1, "{who}: {stats}");
}

#[test]
fn https_port_serves_monitoring_with_the_tls_certificate() {
    for bin in servers() {
        https_serves(&bin);
    }
}

/// Runs `bin` until it exits by itself (killed after 10 s); its exit status and stderr.
fn run_to_exit(bin: &Path, args: &[&str], config: Option<&str>) -> (bool, String) {
    let dir = common::TempDir::new("https-refused");
    let mut cmd = Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", "-1"]).args(args);
    if let Some(text) = config {
        let path = dir.0.join("server.conf");
        std::fs::write(&path, text).expect("config written");
        cmd.arg("-c").arg(path);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let Some(status) = common::poll(Duration::from_secs(10), || child.try_wait().ok().flatten())
    else {
        let _ = child.kill();
        panic!("{} did not exit", bin.display());
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("stderr read");
    (status.success(), stderr)
}

#[test]
fn https_without_tls_or_beside_http_is_refused_as_nats_server_refuses_it() {
    let pki = Pki::new();
    for bin in servers() {
        let who = bin.display();
        let https = free_port().to_string();
        let (ok, err) = run_to_exit(&bin, &["-ms", &https], None);
        assert!(!ok, "{who}: started without a certificate");
        assert!(
            err.contains("Can't start monitoring: TLS cert and key required for HTTPS"),
            "{who}: {err}"
        );

        let http = free_port();
        let config = format!("{}\nhttps_port: {https}\n", pki.config(""));
        let (ok, err) = run_to_exit(&bin, &["-m", &http.to_string()], Some(&config));
        assert!(!ok, "{who}: started with both ports");
        assert!(
            err.contains(&format!(
                "Can't start monitoring: can't specify both HTTP ({http}) and HTTPs ({https}) ports"
            )),
            "{who}: {err}"
        );
    }
}

#[test]
fn https_from_the_config_file_with_a_host() {
    let pki = Pki::new();
    for bin in servers() {
        let port = free_port();
        let config = format!("{}\nhttps: \"127.0.0.1:{port}\"\n", pki.config(""));
        let mut server = ServerProcess::start(&bin, &[], Some(&config));
        let line = server.wait_for_log("Starting https monitor on", Duration::from_secs(5));
        assert!(
            line.ends_with(&format!("127.0.0.1:{port}")),
            "{}: {line}",
            bin.display()
        );
        let (status, _, body) = get_tls(port, &pki.path("ca.pem"), "/varz");
        assert_eq!(status, 200, "{}: {body}", bin.display());
    }
}
