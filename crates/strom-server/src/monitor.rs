//! The HTTP monitoring port (`-m`, `http`, `http_port`): hyper serves it, one task per
//! connection, off the client path. Served so far: `/healthz` (what Kubernetes probes ask),
//! with nats-server's answers and its 404 for anything else. The other endpoints of
//! nats-server's monitoring port are issue #8's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

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
    let weak = Arc::downgrade(&server);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let weak = weak.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let server = weak.upgrade();
                    async move { Ok::<_, Infallible>(answer(server.as_deref(), &req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn answer(server: Option<&Shared>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let base = server
        .and_then(|s| s.opts.http_base_path.as_deref())
        .unwrap_or("")
        .trim_end_matches('/');
    let path = req.uri().path();
    let path = path.strip_prefix(base).unwrap_or(path);
    match (server, path) {
        (Some(s), "/healthz") => healthz(s),
        _ => not_found(),
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
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
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
