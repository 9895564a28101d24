//! The JSON of `INFO` (server to client) and `CONNECT` (client to server).
//!
//! Field names and order follow nats-server 2.15's `Info` struct, so that a byte comparison of the
//! two servers' INFO differs only in values.

use serde::{Deserialize, Serialize};

/// The `INFO` a server sends on connect and when something the client should know changes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    /// The nats-server version whose behaviour we offer; clients gate features on it.
    pub version: String,
    pub proto: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    /// nats-server names its Go toolchain here; we name ours.
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub api_lvl: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// Clients send `null` for fields they leave unset (async-nats does for `name`).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_yes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

fn yes() -> bool {
    true
}

/// The options a client sends in `CONNECT`. Unknown fields are ignored, as nats-server does.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ConnectOptions {
    /// nats-server defaults `verbose` and `pedantic` to true when a client leaves them out.
    #[serde(default = "yes", deserialize_with = "null_as_yes")]
    pub verbose: bool,
    #[serde(default = "yes", deserialize_with = "null_as_yes")]
    pub pedantic: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tls_required: bool,
    #[serde(default = "yes", deserialize_with = "null_as_yes")]
    pub echo: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub no_responders: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub lang: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub protocol: u32,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub nkey: Option<String>,
    #[serde(default)]
    pub sig: Option<String>,
    #[serde(default)]
    pub jwt: Option<String>,
}

impl Default for ConnectOptions {
    /// What nats-server assumes for a client that has not sent CONNECT.
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            echo: true,
            headers: false,
            no_responders: false,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
        }
    }
}

impl ConnectOptions {
    /// Parses the JSON of a CONNECT line.
    ///
    /// # Errors
    /// The JSON error when the line is not a JSON object of the expected shape.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_follow_nats_server() {
        let c = ConnectOptions::parse(b"{}").expect("valid json");
        assert!(c.verbose && c.pedantic && c.echo);
        assert!(!c.headers && !c.no_responders);
        let c = ConnectOptions::parse(br#"{"verbose":false,"headers":true,"lang":"rust","x":1}"#)
            .expect("valid json");
        assert!(!c.verbose && c.headers);
        assert_eq!(c.lang, "rust");
        assert!(ConnectOptions::parse(b"{bad").is_err());
        // What async-nats 0.42 sends.
        let c = ConnectOptions::parse(br#"{"verbose":false,"pedantic":false,"jwt":null,"nkey":null,"sig":null,"name":null,"echo":true,"lang":"rust","version":"0.42.0","protocol":1,"tls_required":false,"user":null,"pass":null,"auth_token":null,"headers":true,"no_responders":true}"#)
            .expect("async-nats CONNECT parses");
        assert!(c.headers && c.no_responders && c.echo && c.name.is_empty());
    }

    #[test]
    fn info_field_order_matches_nats_server() {
        let info = ServerInfo {
            server_id: "N1".into(),
            server_name: "n".into(),
            version: "2.15.1".into(),
            proto: 1,
            go: "rust".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            jetstream: true,
            client_id: 5,
            client_ip: "127.0.0.1".into(),
            api_lvl: 5,
            ..ServerInfo::default()
        };
        let json = serde_json::to_string(&info).expect("serializable");
        assert_eq!(
            json,
            r#"{"server_id":"N1","server_name":"n","version":"2.15.1","proto":1,"go":"rust","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":5,"client_ip":"127.0.0.1","api_lvl":5}"#
        );
    }
}
