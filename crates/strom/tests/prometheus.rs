//! A real Prometheus server scrapes Strom's `/metrics`: what it stores is what happened, and
//! every query of the Grafana dashboard (deploy/grafana/strom.json) evaluates to data.
//!
//! Needs the `prometheus` binary (Debian's `prometheus` package; `PROMETHEUS_BIN` names
//! another). Without it the tests are skipped, unless `STROM_REQUIRE_PROMETHEUS` is set.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{free_port, start};
use common::TempDir;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/grafana/strom.json"
);

/// How long Prometheus may take to start and scrape.
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(200);

/// The prometheus binary: `PROMETHEUS_BIN`, then PATH, then Debian's /usr/bin/prometheus.
fn prometheus_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMETHEUS_BIN") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("prometheus"))
                .find(|p| p.is_file())
        })
        .or_else(|| Some(PathBuf::from("/usr/bin/prometheus")).filter(|p| p.is_file()))
}

/// Skips when Prometheus is missing, unless CI demands it (`STROM_REQUIRE_PROMETHEUS`); skips
/// as well when the tests run against the reference nats-server, which has no `/metrics`.
fn prometheus_or_skip() -> Option<PathBuf> {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return None;
    }
    match prometheus_bin() {
        Some(p) => Some(p),
        None if std::env::var_os("STROM_REQUIRE_PROMETHEUS").is_some() => panic!(
            "prometheus required (STROM_REQUIRE_PROMETHEUS) but not found: \
             apt-get install prometheus, or set PROMETHEUS_BIN"
        ),
        None => {
            eprintln!("skipping: prometheus not installed (apt-get install prometheus)");
            None
        }
    }
}

/// `GET path` over HTTP/1.0: the status code and the body; an error while nothing listens.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no header block"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    Ok((status, body.to_string()))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Prometheus server scraping one Strom every second, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `127.0.0.1:monitor_port` and waits until it is ready.
    fn start(bin: &Path, monitor_port: u16) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: strom\n    scrape_interval: 1s\n    \
                 scrape_timeout: 1s\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{monitor_port}']\n"
            ),
        )
        .expect("prometheus.yml written");
        let log = std::fs::File::create(dir.0.join("prometheus.log")).expect("log file created");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()));
        let mut prometheus = Prometheus { child, port, dir };
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok((200, _)) = http_get(port, "/-/ready") {
                return prometheus;
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", prometheus.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {DEADLINE:?}:\n{}",
                prometheus.log()
            );
            std::thread::sleep(POLL);
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query's result vector (or scalar), or why there is none.
    fn query(&self, promql: &str) -> Result<serde_json::Value, String> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let (status, body) = http_get(self.port, &path).map_err(|e| format!("GET {path}: {e}"))?;
        let answer: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {path}: {status} and not JSON ({e}): {body}"))?;
        if status != 200 || answer["status"] != "success" {
            return Err(format!("{promql}: {status} {answer}"));
        }
        Ok(answer["data"]["result"].clone())
    }

    /// Polls `promql` until `done` accepts its result, every 200 ms for up to 20 s.
    async fn poll(
        &self,
        promql: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let last = self.query(promql);
            if let Ok(result) = &last {
                if done(result) {
                    return result.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: not as expected within {DEADLINE:?}; last answer {last:?}\n\
                 prometheus log:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The values of a result vector, as numbers.
fn values(result: &serde_json::Value) -> Vec<f64> {
    result
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["value"][1].as_str()?.parse().ok())
        .collect()
}

async fn publish(js: &async_nats::jetstream::Context, n: usize) {
    for i in 0..n {
        js.publish(format!("orders.{i}"), "order".into())
            .await
            .expect("published")
            .await
            .expect("acked: stored");
    }
}

async fn orders_stream(
    url: &str,
) -> (
    async_nats::jetstream::Context,
    async_nats::jetstream::stream::Stream,
) {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream ORDERS created");
    (js, stream)
}

/// Prometheus stores the stream's message count as Strom reports it, labelled by account and
/// stream, and follows it as it grows.
#[tokio::test]
async fn prometheus_scrapes_the_stream_message_count() {
    let Some(bin) = prometheus_or_skip() else {
        return;
    };
    const N: usize = 7;
    let dir = TempDir::new("prometheus-strom");
    let (strom, monitor_port) = start(None, &dir);
    let (js, _stream) = orders_stream(&strom.url()).await;
    publish(&js, N).await;

    let prometheus = Prometheus::start(&bin, monitor_port);
    let query = r#"strom_stream_messages{stream="ORDERS"}"#;
    let result = prometheus.poll(query, |r| !values(r).is_empty()).await;
    assert_eq!(values(&result), [N as f64], "{query}: {result}");
    let labels = &result[0]["metric"];
    assert_eq!(labels["account"], "$G", "{result}");
    assert_eq!(labels["job"], "strom", "{result}");
    assert_eq!(
        labels["instance"],
        format!("127.0.0.1:{monitor_port}").as_str(),
        "{result}"
    );

    // Three more: the next scrapes see ten.
    publish(&js, 3).await;
    let result = prometheus
        .poll(query, |r| values(r) == [(N + 3) as f64])
        .await;
    assert_eq!(values(&result), [(N + 3) as f64]);
}

/// Every panel, rows' nested panels included.
fn all_panels(v: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(all_panels(p));
    }
    out
}

/// Replaces Grafana's variables as a dashboard showing "All" would: intervals and ranges by
/// one minute, template variables by `.*` (the dashboard matches them with `=~`).
fn substitute(expr: &str) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').expect("a closing } after ${");
                let name = braced[..end].split(':').next().unwrap_or_default();
                (name, end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        out.push_str(match name {
            "__rate_interval" | "__interval" | "__range" => "1m",
            "__interval_ms" | "__range_ms" => "60000",
            "__range_s" => "60",
            "" => "$",
            _ => ".*",
        });
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[test]
fn substitute_replaces_grafana_variables() {
    assert_eq!(
        substitute(r#"rate(a{instance=~"$instance", s=~"${stream:regex}"}[$__rate_interval])"#),
        r#"rate(a{instance=~".*", s=~".*"}[1m])"#
    );
}

/// Every dashboard query, its variables set to "All", evaluates in Prometheus to data, and the
/// headline figures are what happened: one server, one stream of three messages, one consumer.
#[tokio::test]
async fn every_dashboard_query_returns_data_in_prometheus() {
    use futures::StreamExt;
    let Some(bin) = prometheus_or_skip() else {
        return;
    };
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(DASHBOARD).expect("the dashboard is readable"),
    )
    .expect("the dashboard is JSON");

    let dir = TempDir::new("prometheus-dashboard");
    let (strom, monitor_port) = start(None, &dir);
    let (js, stream) = orders_stream(&strom.url()).await;
    publish(&js, 3).await;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("DISPATCH".into()),
            ..Default::default()
        })
        .await
        .expect("consumer created");
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch sent");
    tokio::time::timeout(Duration::from_secs(5), batch.next())
        .await
        .expect("a message within 5 s")
        .expect("the batch has a message")
        .expect("the message is well-formed");

    let prometheus = Prometheus::start(&bin, monitor_port);
    // rate(), increase() and deriv() need two samples in their window: wait for three scrapes.
    prometheus
        .poll("count_over_time(strom_uptime_seconds[1m])", |r| {
            values(r).first().is_some_and(|&v| v >= 3.0)
        })
        .await;

    let mut failures = Vec::new();
    let mut queries = 0;
    for panel in all_panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = target["expr"].as_str() else {
                continue;
            };
            queries += 1;
            let promql = substitute(expr);
            match prometheus.query(&promql) {
                Ok(r) if r.as_array().is_some_and(|a| !a.is_empty()) => {}
                Ok(r) => failures.push(format!("panel {title:?}: {promql} returned no data: {r}")),
                Err(e) => failures.push(format!("panel {title:?}: {e}")),
            }
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = var["query"]["query"].as_str().or(var["query"].as_str());
        let Some(args) = query.and_then(|q| q.strip_prefix("label_values(")) else {
            continue;
        };
        let name = var["name"].as_str().unwrap_or("?");
        let (selector, label) = args
            .trim_end_matches(')')
            .rsplit_once(',')
            .expect("label_values(selector, label)");
        let promql = substitute(selector);
        let label = label.trim();
        match prometheus.query(&promql) {
            Ok(r)
                if r.as_array().is_some_and(|a| {
                    !a.is_empty() && a.iter().all(|s| s["metric"][label].is_string())
                }) => {}
            other => failures.push(format!(
                "variable {name:?}: {promql} has no {label}: {other:?}"
            )),
        }
    }
    assert!(queries >= 10, "{queries} dashboard queries");
    assert!(
        failures.is_empty(),
        "dashboard queries in Prometheus:\n{}",
        failures.join("\n")
    );

    let stat = |title: &str| -> f64 {
        let panel = all_panels(&dashboard)
            .into_iter()
            .find(|p| p["type"] == "stat" && p["title"] == title)
            .unwrap_or_else(|| panic!("a stat panel {title:?}"));
        let expr = panel["targets"][0]["expr"]
            .as_str()
            .expect("the stat's expr");
        let result = prometheus
            .query(&substitute(expr))
            .expect("the stat's query");
        let v = values(&result);
        assert_eq!(v.len(), 1, "stat {title:?}: one value, got {result}");
        v[0]
    };
    assert_eq!(stat("Servers up"), 1.0);
    assert_eq!(stat("Streams"), 1.0);
    assert_eq!(stat("Consumers"), 1.0);
    assert_eq!(stat("Messages stored"), 3.0);
    assert_eq!(stat("API error ratio"), 0.0);
    let pending = prometheus
        .query(r#"strom_consumer_num_ack_pending{stream="ORDERS",consumer="DISPATCH"}"#)
        .expect("ack pending query");
    assert_eq!(values(&pending), [1.0], "{pending}");
}
