//! Helpers for tests of the HTTP monitoring port: a plain HTTP/1.0 GET, a server started with
//! monitoring on, and the shape (fields and types) of a JSON answer for differential checks.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use super::{ServerProcess, TempDir};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` over HTTP/1.0 (no chunked bodies): the status code, the content type and the body.
pub fn get(port: u16, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("monitoring port");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request sent");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response read");
    parse_response(&text)
}

/// An HTTP/1.x response's status code, content type and body.
pub fn parse_response(text: &str) -> (u16, String, String) {
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

pub fn start(bin: Option<&std::path::Path>, dir: &TempDir) -> (ServerProcess, u16) {
    let port = free_port();
    let m = port.to_string();
    let store = dir.0.to_str().expect("utf-8 path");
    let args = ["-js", "-sd", store, "-m", &m];
    let server = match bin {
        Some(b) => ServerProcess::reference(b, &args, None),
        None => ServerProcess::strom(&args),
    };
    (server, port)
}

/// A JSON value's type, as a dashboard reading it would see it.
pub fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Every field (dotted path) and its type, `skip` left out.
/// Arrays count by the fields of their elements (`path[]`).
pub fn shape(
    v: &serde_json::Value,
    at: &str,
    skip: &[&str],
    out: &mut Vec<(String, &'static str)>,
) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if skip.contains(&path.as_str()) {
                    continue;
                }
                if !out.contains(&(path.clone(), kind(x))) {
                    out.push((path.clone(), kind(x)));
                }
                shape(x, &path, skip, out);
            }
        }
        serde_json::Value::Array(items) => {
            for x in items {
                shape(x, &format!("{at}[]"), skip, out);
            }
        }
        _ => {}
    }
}
