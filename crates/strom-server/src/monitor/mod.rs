//! The HTTP monitoring port (`-m`, `http`, `http_port`): hyper serves it, one task per
//! connection, off the client path. Served so far: `/healthz` (what Kubernetes probes ask),
//! `/varz` ([`varz`]), `/jsz` ([`jsz`]) and `/connz` ([`connz`]), with nats-server's answers and its 404 for
//! anything else; and `/metrics` ([`metrics`]), Prometheus's text format. The other
//! endpoints of nats-server's monitoring port are issue #8's.

mod conn_info;
mod connz;
mod jsz;
mod metrics;
mod query;
mod subsz;
mod varz;

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

use crate::server::Shared;

/// Binds the monitoring port and serves it until the server goes.
///
/// # Errors
/// The bind error.
pub async fn start(server: Arc<Shared>, host: &str, port: u16) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    crate::info!("Starting http monitor on {addr}");
    let monitor = Arc::new(Monitor {
        server: Arc::downgrade(&server),
        port: addr.port(),
        requests: Mutex::new(BTreeMap::new()),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let monitor = monitor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let monitor = monitor.clone();
                    async move { Ok::<_, Infallible>(monitor.answer(&req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// The monitoring port's state: the server it reports on, its own port, and how often each
/// endpoint was asked (nats-server's `http_req_stats`).
struct Monitor {
    server: Weak<Shared>,
    port: u16,
    requests: Mutex<BTreeMap<&'static str, u64>>,
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
        let path = req.uri().path();
        let path = path.strip_prefix(base).unwrap_or(path);
        let endpoint = match path {
            "/healthz" => "/healthz",
            "/varz" => "/varz",
            "/jsz" => "/jsz",
            "/metrics" => "/metrics",
            "/connz" => "/connz",
            "/subsz" | "/subscriptionsz" => "/subsz",
            _ => return not_found(),
        };
        let requests = {
            let mut r = self.requests.lock();
            *r.entry(endpoint).or_insert(0) += 1;
            serde_json::to_value(&*r).unwrap_or_default()
        };
        match endpoint {
            "/healthz" => healthz(&server),
            "/connz" => match connz::Options::parse(req.uri().query())
                .and_then(|o| connz::connz(&server, &o))
            {
                Ok(body) => json_owned(StatusCode::OK, body),
                Err(text) => bad_request(text),
            },
            "/subsz" => match subsz::Options::parse(req.uri().query())
                .and_then(|o| subsz::subsz(&server, &o))
            {
                Ok(body) => json_owned(StatusCode::OK, body),
                Err(text) => bad_request(text),
            },
            "/jsz" => match server.jetstream() {
                Some(js) => json_owned(
                    StatusCode::OK,
                    jsz::jsz(&server, js, &jsz::Options::parse(req.uri().query())),
                ),
                // nats-server without JetStream answers with an empty object's worth.
                None => json(StatusCode::OK, r#"{"disabled":true}"#),
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
            _ => json_owned(StatusCode::OK, varz::varz(&server, self.port, requests)),
        }
    }
}

/// nats-server's `/healthz`: `{"status":"ok"}`, or 503 with the reason. Its query options
/// (`js-enabled-only`, `js-server-only`, `js-enabled`) narrow what is checked; on a single
/// server every check is whether JetStream, when configured, is running.
fn healthz(s: &Shared) -> Response<Full<Bytes>> {
    if s.opts.jetstream && s.jetstream().is_none() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable","status_code":503,"error":"JetStream not enabled"}"#,
        );
    }
    json(StatusCode::OK, r#"{"status":"ok"}"#)
}

fn json(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    json_owned(status, body.as_bytes().to_vec())
}

fn json_owned(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
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
