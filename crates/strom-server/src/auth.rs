//! Authentication: who a CONNECT says it is, checked against configured users, tokens and nkeys,
//! and the account and permissions it lands with.
//!
//! Secrets are compared in constant time (plain passwords and tokens with `subtle`, bcrypt hashes
//! by `bcrypt`, nkey signatures by ed25519 verification).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use strom_proto::wire::ConnectOptions;
use subtle::ConstantTimeEq;

use crate::permissions::Permissions;

/// A configured secret: plain text, or a bcrypt hash (`$2a$…`, `$2b$…`) as nats-server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Plain(String),
    Bcrypt(String),
}

impl Secret {
    pub fn new(configured: &str) -> Secret {
        if configured.starts_with("$2") {
            Secret::Bcrypt(configured.to_string())
        } else {
            Secret::Plain(configured.to_string())
        }
    }

    /// Whether `given` is this secret.
    pub fn verify(&self, given: &str) -> bool {
        match self {
            Secret::Plain(p) => p.as_bytes().ct_eq(given.as_bytes()).into(),
            Secret::Bcrypt(h) => bcrypt::verify(given, h).unwrap_or(false),
        }
    }
}

/// One configured user.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Public nkey (`U…`) for challenge–response users.
    pub nkey: Option<String>,
    /// The account the user lands in; `None` is the global account.
    pub account: Option<String>,
    pub permissions: Option<Arc<Permissions>>,
}

/// Who a connection turned out to be.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// Account name; `None` is the global account.
    pub account: Option<String>,
    pub permissions: Option<Arc<Permissions>>,
    /// `user:name` or `nkey:U…`, for logs.
    pub label: String,
}

/// The configured ways in.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub users: Vec<User>,
    pub token: Option<Secret>,
    /// The user a client without credentials becomes.
    pub no_auth_user: Option<String>,
}

/// Answers "who is this CONNECT?".
#[derive(Debug, Default)]
pub struct Authenticator {
    by_name: HashMap<String, User>,
    by_nkey: HashMap<String, User>,
    token: Option<Secret>,
    no_auth_user: Option<String>,
}

impl Authenticator {
    pub fn new(cfg: &AuthConfig) -> Self {
        let mut a = Authenticator {
            token: cfg.token.clone(),
            no_auth_user: cfg.no_auth_user.clone(),
            ..Authenticator::default()
        };
        for u in &cfg.users {
            if let Some(nkey) = &u.nkey {
                a.by_nkey.insert(nkey.clone(), u.clone());
            } else if let Some(name) = &u.username {
                a.by_name.insert(name.clone(), u.clone());
            }
        }
        a
    }

    /// Whether clients must authenticate at all.
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.by_name.is_empty() || !self.by_nkey.is_empty()
    }

    /// Whether INFO must carry a nonce (nkey users exist).
    pub fn needs_nonce(&self) -> bool {
        !self.by_nkey.is_empty()
    }

    /// Checks a CONNECT. `nonce` is what this connection's INFO carried.
    ///
    /// `cert` holds the names of a verified client certificate when `verify_and_map` is on: the
    /// user is then the one whose name the certificate carries, and no password is asked.
    pub fn authenticate(
        &self,
        c: &ConnectOptions,
        nonce: &str,
        cert: &[String],
    ) -> Option<Identity> {
        if !cert.is_empty() {
            let (name, user) = cert
                .iter()
                .find_map(|n| self.by_name.get(n).map(|u| (n, u)))?;
            return Some(identity(user, format!("user:{name}")));
        }
        if !self.required() {
            return Some(Identity {
                label: String::new(),
                ..Identity::default()
            });
        }
        if let Some(nkey) = &c.nkey {
            let user = self.by_nkey.get(nkey)?;
            let sig = c.sig.as_deref()?;
            if !verify_nkey(nkey, nonce, sig) {
                return None;
            }
            return Some(identity(user, format!("nkey:{nkey}")));
        }
        if let Some(token) = &self.token {
            let given = c.auth_token.as_deref()?;
            return token.verify(given).then(|| Identity {
                label: "token".to_string(),
                ..Identity::default()
            });
        }
        let no_credentials = c.user.is_none() && c.pass.is_none() && c.auth_token.is_none();
        let name = match (&c.user, &self.no_auth_user) {
            (Some(u), _) => u.as_str(),
            (None, Some(default)) if no_credentials => {
                let user = self.by_name.get(default)?;
                return Some(identity(user, format!("user:{default}")));
            }
            _ => return None,
        };
        let user = self.by_name.get(name)?;
        let given = c.pass.as_deref().unwrap_or("");
        let ok = match &user.password {
            Some(secret) => secret.verify(given),
            None => given.is_empty(),
        };
        ok.then(|| identity(user, format!("user:{name}")))
    }
}

fn identity(user: &User, label: String) -> Identity {
    Identity {
        account: user.account.clone(),
        permissions: user.permissions.clone(),
        label,
    }
}

/// Verifies an nkey signature (base64url, as clients send it) over the nonce.
fn verify_nkey(public: &str, nonce: &str, sig: &str) -> bool {
    let Ok(kp) = nkeys::KeyPair::from_public_key(public) else {
        return false;
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Ok(raw) = engine.decode(sig.trim_end_matches('=')).or_else(|_| {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(sig.trim_end_matches('='))
    }) else {
        return false;
    };
    kp.verify(nonce.as_bytes(), &raw).is_ok()
}

/// A fresh nonce for INFO, shaped like nats-server's (11 random bytes, base64url).
pub fn new_nonce() -> String {
    let mut b = [0u8; 11];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(json: &str) -> ConnectOptions {
        ConnectOptions::parse(json.as_bytes()).expect("test CONNECT parses")
    }

    #[test]
    fn plain_and_bcrypt_passwords() {
        let hash = bcrypt::hash("s3cret", 4).expect("hashes");
        let auth = Authenticator::new(&AuthConfig {
            users: vec![
                User {
                    username: Some("a".into()),
                    password: Some(Secret::new("pw")),
                    ..User::default()
                },
                User {
                    username: Some("b".into()),
                    password: Some(Secret::new(&hash)),
                    account: Some("B".into()),
                    ..User::default()
                },
            ],
            ..AuthConfig::default()
        });
        assert!(auth.required());
        assert!(auth
            .authenticate(&connect(r#"{"user":"a","pass":"pw"}"#), "", &[])
            .is_some());
        assert!(auth
            .authenticate(&connect(r#"{"user":"a","pass":"px"}"#), "", &[])
            .is_none());
        let id = auth
            .authenticate(&connect(r#"{"user":"b","pass":"s3cret"}"#), "", &[])
            .expect("bcrypt user");
        assert_eq!(id.account.as_deref(), Some("B"));
        assert!(auth
            .authenticate(&connect(r#"{"user":"b","pass":"nope"}"#), "", &[])
            .is_none());
        assert!(auth.authenticate(&connect("{}"), "", &[]).is_none());
    }

    #[test]
    fn no_auth_user_takes_clients_without_credentials() {
        let auth = Authenticator::new(&AuthConfig {
            users: vec![User {
                username: Some("guest".into()),
                password: Some(Secret::new("x")),
                ..User::default()
            }],
            no_auth_user: Some("guest".into()),
            ..AuthConfig::default()
        });
        let id = auth
            .authenticate(&connect("{}"), "", &[])
            .expect("default user");
        assert_eq!(id.label, "user:guest");
        assert!(auth
            .authenticate(&connect(r#"{"user":"guest","pass":"y"}"#), "", &[])
            .is_none());
    }

    #[test]
    fn nkey_challenge() {
        let kp = nkeys::KeyPair::new_user();
        let auth = Authenticator::new(&AuthConfig {
            users: vec![User {
                nkey: Some(kp.public_key()),
                ..User::default()
            }],
            ..AuthConfig::default()
        });
        assert!(auth.needs_nonce());
        let nonce = new_nonce();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(kp.sign(nonce.as_bytes()).expect("signs"));
        let ok = format!(r#"{{"nkey":"{}","sig":"{}"}}"#, kp.public_key(), sig);
        assert!(auth.authenticate(&connect(&ok), &nonce, &[]).is_some());
        assert!(auth
            .authenticate(&connect(&ok), "other-nonce", &[])
            .is_none());
    }

    #[test]
    fn token() {
        let auth = Authenticator::new(&AuthConfig {
            token: Some(Secret::new("t0k")),
            ..AuthConfig::default()
        });
        assert!(auth
            .authenticate(&connect(r#"{"auth_token":"t0k"}"#), "", &[])
            .is_some());
        assert!(auth
            .authenticate(&connect(r#"{"auth_token":"no"}"#), "", &[])
            .is_none());
        assert!(auth.authenticate(&connect("{}"), "", &[]).is_none());
    }
}
