//! The Grafana dashboard (deploy/grafana/strom.json) asks only for what Strom's `/metrics`
//! serves: every metric name in every panel's PromQL (and in the template variables' queries)
//! must be a family a running server exposes, with samples.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::http::{get, start};
use common::TempDir;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/grafana/strom.json"
);

/// Aggregation operators, functions, keywords and literals: identifiers that are never metric
/// names.
const NOT_METRICS: &[&str] = &[
    // aggregation operators
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    // keywords and binary operators spelt as words
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
    // functions
    "abs",
    "absent",
    "absent_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "double_exponential_smoothing",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "ln",
    "log2",
    "log10",
    "minute",
    "month",
    "predict_linear",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sort_by_label",
    "sort_by_label_desc",
    "sqrt",
    "time",
    "timestamp",
    "vector",
    "year",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "mad_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cos",
    "cosh",
    "sin",
    "sinh",
    "tan",
    "tanh",
    "deg",
    "rad",
    "pi",
];

/// Keywords followed by a parenthesised list of label names (which are not metric names).
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Removes string literals ("…", '…', `…`), keeping everything else.
fn strip_strings(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if matches!(c, '"' | '\'' | '`') {
            let quote = c;
            while let Some(d) = chars.next() {
                if d == '\\' && quote != '`' {
                    chars.next();
                } else if d == quote {
                    break;
                }
            }
            out.push_str("\"\"");
        } else {
            out.push(c);
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Every metric name a PromQL expression (with Grafana's `$variables`) selects. Label matchers
/// (`{…}`), ranges and subqueries (`[…]`), label lists after by/without/on/ignoring/
/// group_left/group_right, strings, numbers, durations, functions and keywords are skipped.
/// An identifier called like a function that is not a known one is an error, as is a
/// `__name__` matcher: both would hide a metric name from this check.
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    if expr.contains("__name__") {
        return Err(format!(
            "{expr:?} selects by __name__, which this check cannot follow"
        ));
    }
    let text: Vec<char> = strip_strings(expr).chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |i: usize, close: char| -> Result<usize, String> {
        text[i..]
            .iter()
            .position(|&c| c == close)
            .map(|p| i + p + 1)
            .ok_or_else(|| format!("{expr:?}: no closing {close:?}"))
    };
    while i < text.len() {
        let c = text[i];
        if c == '{' {
            i = skip_to(i, '}')?;
        } else if c == '[' {
            i = skip_to(i, ']')?;
        } else if c == '#' {
            i = skip_to(i, '\n').unwrap_or(text.len());
        } else if c == '$' {
            // A Grafana variable: $name or ${name[:format]}.
            i += 1;
            if text.get(i) == Some(&'{') {
                i = skip_to(i, '}')?;
            } else {
                while i < text.len() && is_ident(text[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && text.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // A number or a duration: 1, 0.5, 1e3, 0x1f, 5m, 1h30m.
            while i < text.len()
                && (text[i].is_ascii_alphanumeric() || text[i] == '.' || text[i] == '_')
            {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < text.len() && is_ident(text[i]) {
                i += 1;
            }
            let word: String = text[start..i].iter().collect();
            let mut next = i;
            while next < text.len() && text[next].is_whitespace() {
                next += 1;
            }
            let called = text.get(next) == Some(&'(');
            let lower = word.to_ascii_lowercase();
            if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                if called {
                    i = skip_to(next, ')')?;
                }
            } else if NOT_METRICS.contains(&lower.as_str()) {
                // a function, an aggregation or a keyword
            } else if called {
                return Err(format!(
                    "{expr:?}: {word}(…) is not a PromQL function this check knows"
                ));
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    Ok(names)
}

/// The metric names a Grafana template variable's query selects: the series selector of
/// `label_values(selector, label)`, or of `query_result(expr)`; none for the rest.
fn variable_metric_names(query: &str) -> Result<BTreeSet<String>, String> {
    let q = query.trim();
    if let Some(args) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return match args.rsplit_once(',') {
            Some((selector, _label)) => metric_names(selector),
            None => Ok(BTreeSet::new()), // label_values(label): every series, no metric named
        };
    }
    if let Some(expr) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return metric_names(expr);
    }
    if let Some(args) = q.strip_prefix("metrics(").and_then(|r| r.strip_suffix(')')) {
        return Err(format!(
            "metrics({args}) matches names by regex, which this check cannot follow"
        ));
    }
    Ok(BTreeSet::new())
}

fn read_dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(DASHBOARD)
        .unwrap_or_else(|e| panic!("the dashboard at {DASHBOARD} is readable: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn all_panels(v: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    if let Some(panels) = v.get("panels").and_then(|p| p.as_array()) {
        for p in panels {
            out.push(p);
            out.extend(all_panels(p));
        }
    }
    out
}

fn title(panel: &serde_json::Value) -> String {
    panel["title"].as_str().unwrap_or("(untitled)").to_string()
}

/// (panel title, expr) for every target of every panel.
fn exprs(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in all_panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((title(panel), expr.to_string()));
            }
        }
    }
    out
}

/// Metric name → where the dashboard uses it (panel titles, "variable NAME").
fn used_metrics(dashboard: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut errors = Vec::new();
    for (title, expr) in exprs(dashboard) {
        match metric_names(&expr) {
            Ok(names) => {
                if names.is_empty() {
                    errors.push(format!("panel {title:?}: {expr:?} names no metric"));
                }
                for n in names {
                    used.entry(n)
                        .or_default()
                        .insert(format!("panel {title:?}"));
                }
            }
            Err(e) => errors.push(format!("panel {title:?}: {e}")),
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if var["type"] != "query" {
            continue;
        }
        let name = var["name"].as_str().unwrap_or("?");
        let query = match &var["query"] {
            serde_json::Value::String(s) => s.clone(),
            q => q["query"].as_str().unwrap_or_default().to_string(),
        };
        match variable_metric_names(&query) {
            Ok(names) => {
                for n in names {
                    used.entry(n)
                        .or_default()
                        .insert(format!("variable {name:?}"));
                }
            }
            Err(e) => errors.push(format!("variable {name:?}: {e}")),
        }
    }
    assert!(
        errors.is_empty(),
        "dashboard queries:\n{}",
        errors.join("\n")
    );
    used
}

#[test]
fn metric_names_are_found_and_the_rest_is_not() {
    let names = |e: &str| -> Vec<String> {
        metric_names(e)
            .unwrap_or_else(|err| panic!("{e} parses: {err}"))
            .into_iter()
            .collect()
    };
    assert_eq!(
        names(
            r#"sum by (instance, stream) (rate(strom_a_total{instance=~"$instance", x="a{b}"}[$__rate_interval]))"#
        ),
        ["strom_a_total"]
    );
    assert_eq!(
        names("histogram_quantile(0.99, sum without(le) (irate(x_bucket[5m]))) / on(job) group_left(version) y:rule offset 1h30m"),
        ["x_bucket", "y:rule"]
    );
    assert_eq!(
        names("(a / (b > 0)) or vector(0) unless c[1m:10s] and bool 1e3"),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(r#"label_replace(up, "dst", "$1", "src", "(.*)") * ${factor:raw}"#),
        ["up"]
    );
    assert!(metric_names(r#"{__name__=~"strom_.*"}"#).is_err());
    assert!(metric_names("made_up_function(x)").is_err());
    assert_eq!(
        variable_metric_names(
            r#"label_values(strom_stream_messages{instance=~"$instance"}, stream)"#
        )
        .expect("label_values parses")
        .into_iter()
        .collect::<Vec<_>>(),
        ["strom_stream_messages"]
    );
}

#[test]
fn dashboard_is_a_grafana_dashboard() {
    let d = read_dashboard();
    assert!(
        d["title"].as_str().is_some_and(|t| !t.is_empty()),
        "a title"
    );
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()), "a uid");
    let schema = d["schemaVersion"]
        .as_u64()
        .expect("a numeric schemaVersion");
    assert!(
        schema >= 36,
        "schemaVersion {schema}: Grafana 10 writes 38 or later"
    );
    assert!(
        d["id"].is_null(),
        "no instance-specific id, so it imports anywhere"
    );

    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| vars.iter().find(|v| v["name"] == name);
    let has_input = d["__inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| i["type"] == "datasource" && i["pluginId"] == "prometheus");
    let ds_var = vars
        .iter()
        .find(|v| v["type"] == "datasource" && v["query"] == "prometheus");
    assert!(
        has_input || ds_var.is_some(),
        "a Prometheus datasource input or variable"
    );
    let ds_ref = match ds_var {
        Some(v) => format!("${{{}}}", v["name"].as_str().expect("the variable's name")),
        None => "${DS_PROMETHEUS}".to_string(),
    };
    let instance = var("instance").expect("an instance variable");
    assert_eq!(instance["type"], "query", "instance comes from a query");

    let panels = all_panels(&d);
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    let mut with_targets = 0;
    for p in &panels {
        let t = title(p);
        if p["title"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("a panel without a title: {p}"));
        }
        match p["id"].as_u64() {
            Some(id) if ids.insert(id) => {}
            id => problems.push(format!("panel {t:?}: id {id:?} missing or repeated")),
        }
        let g = &p["gridPos"];
        if ["h", "w", "x", "y"].iter().any(|k| g[k].as_u64().is_none()) {
            problems.push(format!("panel {t:?}: gridPos {g}"));
        }
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != ds_ref.as_str() {
            problems.push(format!(
                "panel {t:?}: datasource {} is not {ds_ref}",
                p["datasource"]
            ));
        }
        let targets = p["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("panel {t:?}: no targets"));
        }
        with_targets += 1;
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            if expr.is_empty() {
                problems.push(format!("panel {t:?}: a target without expr"));
            }
            if !expr.contains(r#"instance=~"$instance""#) {
                problems.push(format!(
                    "panel {t:?}: {expr:?} ignores the instance variable"
                ));
            }
            if !ref_ids.insert(target["refId"].as_str().unwrap_or_default()) {
                problems.push(format!("panel {t:?}: refId repeated"));
            }
        }
    }
    assert!(with_targets >= 10, "{with_targets} panels with queries");
    assert!(
        problems.is_empty(),
        "dashboard panels:\n{}",
        problems.join("\n")
    );
}

/// A stream "ORDERS" with three messages and a pull consumer "DISPATCH" that has been
/// delivered one and acked none: every stream and consumer family then has samples.
async fn stream_and_consumer(url: &str) {
    use async_nats::jetstream::consumer::pull;
    use futures::StreamExt;
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream created");
    for i in 0..3 {
        js.publish(format!("orders.{i}"), "order".into())
            .await
            .expect("published")
            .await
            .expect("stored");
    }
    let consumer = stream
        .create_consumer(pull::Config {
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
    let msg = tokio::time::timeout(std::time::Duration::from_secs(5), batch.next())
        .await
        .expect("a message within 5 s")
        .expect("the batch has a message")
        .expect("the message is well-formed");
    assert_eq!(msg.subject.as_str(), "orders.0");
}

/// Metric names with samples in a /metrics body, histogram and summary families included under
/// their own name as well as with their _bucket/_sum/_count suffixes.
fn exposed(body: &str) -> BTreeSet<String> {
    let mut kinds = BTreeMap::new();
    let mut names = BTreeSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                kinds.insert(name.to_string(), kind.trim().to_string());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    let mut out = names.clone();
    for name in &names {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if matches!(
                    kinds.get(base).map(String::as_str),
                    Some("histogram" | "summary")
                ) {
                    out.insert(base.to_string());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_dashboard_metric_is_exposed() {
    if std::env::var("STROM_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1") {
        return; // Strom's own metrics: nats-server has none.
    }
    let used = used_metrics(&read_dashboard());
    assert!(
        used.len() >= 20,
        "the dashboard uses {} metrics: {used:?}",
        used.len()
    );

    let dir = TempDir::new("dashboard");
    let (strom, port) = start(None, &dir);
    stream_and_consumer(&strom.url()).await;
    let (status, _, body) = get(port, "/metrics");
    assert_eq!(status, 200, "/metrics answers: {body}");
    let exposed = exposed(&body);
    assert!(
        exposed.contains("strom_consumer_num_ack_pending"),
        "consumer families have samples:\n{body}"
    );
    let missing: Vec<String> = used
        .iter()
        .filter(|(name, _)| !exposed.contains(name.as_str()))
        .map(|(name, at)| {
            let at: Vec<&str> = at.iter().map(String::as_str).collect();
            format!("{name} (used by {})", at.join(", "))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics /metrics does not expose:\n{}\n\n/metrics:\n{body}",
        missing.join("\n")
    );
}
