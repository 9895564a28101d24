//! The monitoring port (`-m`, `http`, `http_port`; or `-ms`, `https`, `https_port` with the
//! `tls` block's certificate): hyper serves it, one task per connection, off the client
//! path. nats-server's endpoints with its answers — `/healthz` (what Kubernetes probes ask),
//! `/varz` ([`varz`]), `/connz` ([`connz`]), `/subsz` ([`subsz`]), `/jsz` ([`jsz`]),
//! `/accountz` and `/accstatz` ([`accountz`]), `/routez`, `/gatewayz`, `/leafz`
//! ([`cluster`]) — an index page at the root, its 404 for anything else, and `/metrics`
//! ([`metrics`]), Prometheus's text format.

pub(crate) mod accountz;
mod cluster;
mod conn_info;
mod connz;
mod healthz;
mod jsz;
mod metrics;
mod query;
pub mod requests;
mod subsz;
pub(crate) mod varz;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::server::Shared;

/// How long an HTTPS client has to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds the monitoring port and serves it until the server goes; with `tls`, every
/// connection is TLS (HTTPS).
///
/// # Errors
/// The bind error.
pub async fn start(
    server: Arc<Shared>,
    host: &str,
    port: u16,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    crate::info!("Starting {scheme} monitor on {addr}");
    server.http_stats.set_port(addr.port(), tls.is_some());
    let monitor = Arc::new(Monitor {
        server: Arc::downgrade(&server),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let monitor = monitor.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(TokioIo::new(stream), monitor).await,
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        // A failed handshake is the client's problem; nothing to answer.
                        if let Ok(Ok(stream)) = handshake.await {
                            serve(TokioIo::new(stream), monitor).await;
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Serves one monitoring connection (plain or TLS) until the client is done with it.
async fn serve<S>(io: TokioIo<S>, monitor: Arc<Monitor>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let monitor = monitor.clone();
        async move { Ok::<_, Infallible>(monitor.answer(&req)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// The monitoring port's own figures, which `/varz` reports wherever it is asked from: the
/// port, and how often each endpoint was asked (nats-server's `http_req_stats`).
#[derive(Default)]
pub struct HttpStats {
    port: std::sync::atomic::AtomicU16,
    /// The port serves HTTPS.
    secure: std::sync::atomic::AtomicBool,
    requests: Mutex<BTreeMap<&'static str, u64>>,
}

impl HttpStats {
    fn set_port(&self, port: u16, secure: bool) {
        self.secure
            .store(secure, std::sync::atomic::Ordering::Relaxed);
        self.port.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    /// The HTTPS port, 0 when monitoring is not served over HTTPS.
    pub fn https_port(&self) -> u16 {
        if self.secure.load(std::sync::atomic::Ordering::Relaxed) {
            self.port()
        } else {
            0
        }
    }

    /// The HTTP port, 0 when monitoring is not served over plain HTTP.
    pub fn http_port(&self) -> u16 {
        if self.secure.load(std::sync::atomic::Ordering::Relaxed) {
            0
        } else {
            self.port()
        }
    }

    /// Counts one request to `endpoint`.
    fn count(&self, endpoint: &'static str) {
        *self.requests.lock().entry(endpoint).or_insert(0) += 1;
    }

    /// The counts by endpoint, as `/varz` shows them.
    pub fn requests(&self) -> serde_json::Value {
        serde_json::to_value(&*self.requests.lock()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The monitoring port: the server it reports on.
struct Monitor {
    server: Weak<Shared>,
}

impl Monitor {
    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(server) = self.server.upgrade() else {
            return not_found();
        };
        let base = server
            .opts
            .http_base_path
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        // Under a base path only its own paths are served, as nats-server's mux does; the
        // root is the base itself (or `/` without one).
        let Some(path) = req.uri().path().strip_prefix(base) else {
            return not_found();
        };
        let endpoint = match path {
            "" if !base.is_empty() => "/",
            "/" if base.is_empty() => "/",
            "/healthz" => "/healthz",
            "/varz" => "/varz",
            "/jsz" => "/jsz",
            "/metrics" => "/metrics",
            "/connz" => "/connz",
            "/subsz" | "/subscriptionsz" => "/subsz",
            "/routez" => "/routez",
            "/gatewayz" => "/gatewayz",
            "/leafz" => "/leafz",
            "/accountz" => "/accountz",
            "/accstatz" => "/accstatz",
            _ => return not_found(),
        };
        server.http_stats.count(endpoint);
        match endpoint {
            "/" => index(base),
            "/healthz" => match healthz::Options::parse(req.uri().query()) {
                Ok(o) => healthz(&server, &o),
                Err(text) => bad_request(text),
            },
            "/connz" => match connz::Options::parse(req.uri().query())
                .and_then(|o| connz::connz(&server, &o))
            {
                Ok(body) => json_owned(StatusCode::OK, body),
                Err(text) => bad_request(text),
            },
            "/routez" | "/gatewayz" | "/leafz" => {
                match cluster_options(endpoint, req.uri().query()) {
                    Ok(()) => json_owned(StatusCode::OK, cluster::body(&server, endpoint)),
                    Err(text) => bad_request(text),
                }
            }
            "/accountz" => {
                let q = query::Query::parse(req.uri().query());
                match accountz::accountz(&server, q.get("acc")) {
                    Ok(body) => json_owned(StatusCode::OK, body),
                    Err(text) => bad_request(text),
                }
            }
            "/accstatz" => match accountz::accstatz(&server, req.uri().query()) {
                Ok(body) => json_owned(StatusCode::OK, body),
                Err(text) => bad_request(text),
            },
            "/subsz" => match subsz::Options::parse(req.uri().query())
                .and_then(|o| subsz::subsz(&server, &o))
            {
                Ok(body) => json_owned(StatusCode::OK, body),
                Err(text) => bad_request(text),
            },
            "/jsz" => match (server.jetstream(), jsz::Options::parse(req.uri().query())) {
                (_, Err(text)) => bad_request(text),
                (Some(js), Ok(o)) => json_owned(StatusCode::OK, jsz::jsz(&server, js, &o)),
                (None, Ok(_)) => json_owned(StatusCode::OK, jsz::disabled(&server)),
            },
            "/metrics" => {
                let mut r = Response::new(Full::new(Bytes::from(metrics::metrics(&server))));
                r.headers_mut().insert(
                    "Content-Type",
                    "text/plain; version=0.0.4; charset=utf-8"
                        .parse()
                        .expect("a header value"),
                );
                r
            }
            _ => json_owned(StatusCode::OK, varz::varz(&server)),
        }
    }
}

/// nats-server's `/healthz`: `{"status":"ok"}`, or 503 with the reason. Its query options
/// (`js-enabled-only`, `js-server-only`, `js-enabled`) narrow what is checked; on a single
/// server every check is whether JetStream, when configured, is running.
/// Checks the options of `/routez`, `/gatewayz` and `/leafz` as nats-server reads them
/// (nothing to list on a single server, but a bad value is still a 400).
fn cluster_options(endpoint: &str, query: Option<&str>) -> Result<(), String> {
    let q = query::Query::parse(query);
    // `subs=detail` is a value of its own where nats-server offers details.
    let subs_detail = endpoint != "/leafz" && q.get("subs").eq_ignore_ascii_case("detail");
    if !subs_detail {
        q.boolean("subs")?;
    }
    if endpoint == "/gatewayz" {
        q.boolean("accs")?;
    }
    Ok(())
}

/// `/healthz`: the status line carries the code, the body leaves it out (as nats-server).
fn healthz(s: &Shared, o: &healthz::Options) -> Response<Full<Bytes>> {
    if o.deprecated_js_enabled() {
        crate::warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    }
    let health = healthz::healthz(s, o);
    if let Some(why) = health.failure() {
        crate::warn!("Healthcheck failed: {why}");
    }
    let code = StatusCode::from_u16(health.status_code()).unwrap_or(StatusCode::OK);
    json_owned(code, health.body(false))
}

fn json_owned(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(go_json_escapes(body))));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "Access-Control-Allow-Origin",
        "*".parse().expect("a header value"),
    );
    h.insert(
        "Content-Type",
        "application/json".parse().expect("a header value"),
    );
    r
}

/// JSON as Go's `encoding/json` writes it: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes
/// (they only ever occur inside strings, so the whole text can be rewritten). Byte-exact
/// answers matter to scripts that compare them, and to our differential tests.
fn go_json_escapes(body: Vec<u8>) -> Vec<u8> {
    const LS: &[u8] = "\u{2028}".as_bytes();
    const PS: &[u8] = "\u{2029}".as_bytes();
    // 0xE2 starts both separators in UTF-8.
    if !body.iter().any(|&b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut i = 0;
    while i < body.len() {
        let rest = &body[i..];
        let (text, used): (&[u8], usize) = match rest[0] {
            b'<' => (b"\\u003c", 1),
            b'>' => (b"\\u003e", 1),
            b'&' => (b"\\u0026", 1),
            _ if rest.starts_with(LS) => (b"\\u2028", 3),
            _ if rest.starts_with(PS) => (b"\\u2029", 3),
            b => {
                out.push(b);
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(text);
        i += used;
    }
    out
}

/// A system-account request's options: its JSON body, or the defaults when it has none.
/// The error is what nats-server reports for JSON it cannot read.
fn request_options<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// nats-server's answer to a query it cannot read: 400 and the reason as plain text.
fn bad_request(text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r.headers_mut().insert(
        "Content-Type",
        "text/plain; charset=utf-8".parse().expect("a header value"),
    );
    r
}

/// The endpoints the index page links to, with what each shows.
const INDEX: &[(&str, &str)] = &[
    ("varz", "General"),
    ("jsz", "JetStream"),
    ("connz", "Connections"),
    ("accountz", "Accounts"),
    ("accstatz", "Account stats"),
    ("subsz", "Subscriptions"),
    ("routez", "Routes"),
    ("leafz", "Leaf nodes"),
    ("gatewayz", "Gateways"),
    ("healthz", "Health probe"),
    ("metrics", "Prometheus metrics"),
];

/// The root: a page linking every endpoint, as nats-server's monitoring port has one.
fn index(base: &str) -> Response<Full<Bytes>> {
    let mut html = format!(
        "<html lang=\"en\">\n<head><title>Strom {}</title></head>\n<body>\n<h1>Strom</h1>\n",
        env!("CARGO_PKG_VERSION")
    );
    for (path, what) in INDEX {
        html.push_str(&format!("<p><a href=\"{base}/{path}\">{what}</a></p>\n"));
    }
    html.push_str("</body>\n</html>\n");
    let mut r = Response::new(Full::new(Bytes::from(html)));
    r.headers_mut().insert(
        "Content-Type",
        "text/html; charset=utf-8".parse().expect("a header value"),
    );
    r
}

fn not_found() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *r.status_mut() = StatusCode::NOT_FOUND;
    let h = r.headers_mut();
    h.insert(
        "Content-Type",
        "text/plain; charset=utf-8".parse().expect("a header value"),
    );
    h.insert(
        "X-Content-Type-Options",
        "nosniff".parse().expect("a header value"),
    );
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_is_escaped_as_go_escapes_it() {
        let out = super::go_json_escapes("{\"e\":\"a > b & c <d>\u{2028}é\"}".as_bytes().to_vec());
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"e":"a \u003e b \u0026 c \u003cd\u003e\u2028é"}"#
        );
    }
}
