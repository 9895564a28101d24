//! `/accountz` (the accounts, or one account's detail with `acc`) and `/accstatz` (each
//! account's connections and traffic; `unused` adds accounts without connections), in
//! nats-server's JSON. Imports and exports are those the configuration declares.

use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};

use super::query::Query;
use crate::links::Import;
use crate::server::Shared;
use crate::system::timestamp;

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<Value>,
}

/// The `/accountz` body for `account` (empty: the list), or nats-server's error text for an
/// account that does not exist.
pub fn accountz(s: &Shared, account: &str) -> Result<Vec<u8>, String> {
    let mut body = Accountz {
        server_id: &s.server_id,
        now: timestamp(Utc::now()),
        system_account: s.system().map(|sys| sys.account.name.as_str()),
        accounts: Vec::new(),
        account_detail: None,
    };
    if account.is_empty() {
        body.accounts = s.all_accounts().iter().map(|a| a.name.clone()).collect();
    } else {
        body.account_detail =
            Some(detail(s, account).ok_or_else(|| format!("Account {account} does not exist"))?);
    }
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

/// The `/accountz?acc=<name>` detail; nothing for an account that does not exist.
fn detail(s: &Shared, name: &str) -> Option<Value> {
    let account = s.account_named(name)?;
    let clients = s
        .clients()
        .iter()
        .filter(|c| c.account_name() == name)
        .count();
    let mut imports: Vec<Value> = s
        .opts
        .imports
        .iter()
        .filter_map(|i| import_json(i, name))
        .collect();
    imports.extend(system_imports(s, name));
    let mut v = json!({
        "account_name": name,
        "update_time": timestamp(s.started),
    });
    if s.system().is_some_and(|sys| sys.account.name == name) {
        v["is_system"] = json!(true);
    }
    let jetstream = s.jetstream().is_some_and(|js| js.account(name).is_some());
    for (k, x) in [
        ("expired", json!(false)),
        ("complete", json!(true)),
        ("jetstream_enabled", json!(jetstream)),
        ("leafnode_connections", json!(0)),
        ("client_connections", json!(clients)),
        ("subscriptions", json!(account.sublist.count())),
    ] {
        v[k] = x;
    }
    let exports: Vec<Value> = s
        .opts
        .exports
        .iter()
        .filter(|x| x.account == name)
        .map(|x| {
            let mut e = json!({"subject": x.subject, "type": x.kind});
            if x.kind == "service" {
                e["response_type"] = json!(x.response);
            }
            if let Some(accounts) = &x.accounts {
                e["approved_accounts"] = json!(accounts);
            }
            e
        })
        .collect();
    if !exports.is_empty() {
        v["exports"] = json!(exports);
    }
    if !imports.is_empty() {
        v["imports"] = json!(imports);
    }
    // Without JWTs an account's name tag is its name.
    v["name_tag"] = json!(name);
    let st = account.sublist.stats();
    v["sublist_stats"] = json!({
        "num_subscriptions": st.subscriptions,
        "num_cache": 0,
        "num_inserts": st.inserts,
        "num_removes": st.removes,
        "num_matches": st.matches,
        "cache_hit_rate": 0.0,
        "max_fanout": 0,
        "avg_fanout": 0.0,
    });
    Some(v)
}

/// An import of `account`, as nats-server's `ExtImport` shows it.
fn import_json(i: &Import, account: &str) -> Option<Value> {
    let (kind, exporter, subject, local) = match i {
        Import::Stream {
            exporter,
            importer,
            subject,
            prefix,
            to,
        } if importer == account => {
            let local = match (prefix, to) {
                (Some(p), _) => format!("{p}.{subject}"),
                (None, Some(t)) => t.clone(),
                (None, None) => subject.clone(),
            };
            ("stream", exporter, subject, local)
        }
        Import::Service {
            exporter,
            importer,
            subject,
            to,
        } if importer == account => (
            "service",
            exporter,
            subject,
            to.clone().unwrap_or_else(|| subject.clone()),
        ),
        _ => return None,
    };
    let mut v = json!({
        "subject": subject,
        "account": exporter,
        "local_subject": local,
        "type": kind,
        "invalid": false,
        "share": false,
        "tracking": false,
    });
    if kind == "service" {
        v["to"] = json!(local);
    }
    Some(v)
}

/// The system services every other account imports, as nats-server lists them (Strom
/// answers them: `system::answer_imported`).
fn system_imports(s: &Shared, name: &str) -> Vec<Value> {
    let Some(sys) = s.system() else {
        return Vec::new();
    };
    if sys.account.name == name {
        return Vec::new();
    }
    let connz = format!("$SYS.REQ.ACCOUNT.{name}.CONNZ");
    [
        (connz.clone(), "$SYS.REQ.ACCOUNT.PING.CONNZ", false),
        (connz, "$SYS.REQ.SERVER.PING.CONNZ", false),
        (
            format!("$SYS.REQ.ACCOUNT.{name}.STATZ"),
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            false,
        ),
        (
            format!("$SYS.REQ.USER.{name}.INFO"),
            "$SYS.REQ.USER.INFO",
            true,
        ),
    ]
    .into_iter()
    .map(|(subject, local, share)| {
        json!({
            "subject": subject,
            "account": sys.account.name,
            "local_subject": local,
            "to": local,
            "type": "service",
            "invalid": false,
            "share": share,
            "tracking": false,
        })
    })
    .collect()
}

/// The `/accstatz` body, or the text of a 400.
pub fn accstatz(s: &Shared, query: Option<&str>) -> Result<Vec<u8>, String> {
    let unused = Query::parse(query).boolean("unused")?;
    Ok(accstatz_for(s, &[], unused).0)
}

/// One account's statistics, as nats-server's `AccountStat`.
pub fn account_stat(a: &crate::account::Account, t: &crate::server::AccountTraffic) -> Value {
    let counts = |(msgs, bytes): (u64, u64)| {
        let zero = json!({"msgs": 0, "bytes": 0});
        json!({"msgs": msgs, "bytes": bytes, "gateways": zero, "routes": zero, "leafs": zero})
    };
    json!({
        "acc": a.name,
        "name": a.name,
        "conns": t.conns,
        "leafnodes": 0,
        "total_conns": t.conns,
        "num_subscriptions": a.sublist.count(),
        "sent": counts(t.sent),
        "received": counts(t.received),
        "slow_consumers": t.slow_consumers,
    })
}

/// Account statistics for `only` (empty: every account), and how many accounts they cover;
/// accounts without connections are left out unless `unused`.
pub fn accstatz_for(s: &Shared, only: &[String], unused: bool) -> (Vec<u8>, usize) {
    let stats: Vec<Value> = s
        .account_traffic()
        .into_iter()
        .filter(|(a, t)| (only.is_empty() || only.contains(&a.name)) && (unused || t.conns > 0))
        .map(|(a, t)| account_stat(&a, &t))
        .collect();
    let n = stats.len();
    let body = json!({
        "server_id": s.server_id,
        "now": timestamp(Utc::now()),
        "account_statz": stats,
    });
    (serde_json::to_vec(&body).unwrap_or_default(), n)
}
