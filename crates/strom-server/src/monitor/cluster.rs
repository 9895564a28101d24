//! `/routez`, `/gatewayz` and `/leafz`: a Strom server runs alone (routes, gateways and
//! leafnodes are not served yet), so each reports none, in nats-server's shape, for the
//! dashboards and tools that ask every server for them.

use chrono::Utc;
use serde_json::json;

use crate::server::Shared;
use crate::system::timestamp;

/// The body for `endpoint` (`/routez`, `/gatewayz` or `/leafz`).
pub fn body(s: &Shared, endpoint: &str) -> Vec<u8> {
    let now = timestamp(Utc::now());
    let v = match endpoint {
        "/routez" => json!({
            "server_id": s.server_id,
            "server_name": s.server_name,
            "now": now,
            "num_routes": 0,
            "routes": [],
        }),
        "/gatewayz" => json!({
            "server_id": s.server_id,
            "now": now,
            "outbound_gateways": {},
            "inbound_gateways": {},
        }),
        _ => json!({
            "server_id": s.server_id,
            "now": now,
            "leafnodes": 0,
            "leafs": [],
        }),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}
