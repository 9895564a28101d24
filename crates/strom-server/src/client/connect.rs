//! The first CONNECT and what surrounds it: the TLS handshake, authentication's verdict
//! applied to the connection (account, permissions, advisories), later CONNECTs, and permissions
//! replaced by a configuration reload.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tokio::net::TcpStream;

use strom_proto::wire::ConnectOptions;
use strom_proto::{encode, ErrText};

use super::close::CloseReason;
use super::reader::Conn;
use super::responses::ResponseGrants;
use crate::auth::Identity;

/// Sends INFO in the clear (unless the handshake comes first), then runs the TLS handshake
/// within the configured timeout. A client that does not speak TLS is closed, as nats-server
/// closes it.
pub(super) async fn tls_handshake(
    conn: &Conn,
    mut stream: TcpStream,
    acceptor: &tokio_rustls::TlsAcceptor,
    opts: &crate::tls::TlsOptions,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    use tokio::io::AsyncWriteExt;
    if !opts.handshake_first {
        let json = conn.server.info_json(&conn.handle, false, &conn.nonce);
        let mut line = BytesMut::with_capacity(json.len() + 8);
        encode::write_info(&mut line, &json);
        let sent = tokio::time::timeout(opts.timeout, stream.write_all(&line)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return None;
        }
    }
    // A TLS handshake opens with a handshake record (0x16). nats-server closes anything else
    // without a word; rustls would answer with an alert, so look before handing over.
    let mut first = [0u8; 1];
    match tokio::time::timeout(opts.timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == 0x16 => {}
        _ => {
            crate::client_log!(Debug, conn.handle, "not a TLS handshake, closing");
            return None;
        }
    }
    match tokio::time::timeout(opts.timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            crate::client_log!(Error, conn.handle, "TLS handshake error: {e}");
            None
        }
        Err(_) => {
            crate::client_log!(Error, conn.handle, "TLS handshake timeout");
            None
        }
    }
}

impl Conn {
    /// Refuses the connection; `opts` is the CONNECT that failed, whose credentials the log
    /// line names as nats-server's `authViolation` does.
    pub(super) fn auth_violation(&mut self, opts: Option<&ConnectOptions>) -> bool {
        match opts.and_then(auth_user) {
            Some(who) => crate::client_log!(Error, self.handle, "authentication error - {who}"),
            None => crate::client_log!(Error, self.handle, "authentication error"),
        }
        self.handle
            .trace_proto_out(&ErrText::AuthorizationViolation.line());
        self.handle.out.push_and_close(
            &ErrText::AuthorizationViolation.line(),
            CloseReason::AuthenticationViolation,
        );
        false
    }

    /// Adopts permissions a configuration reload gave this client.
    pub(super) fn take_new_permissions(&mut self) {
        self.handle
            .permissions_changed
            .store(false, Ordering::Release);
        let Some(perms) = self.handle.new_permissions.lock().take() else {
            return;
        };
        self.handle.set_response_grants(
            perms
                .as_ref()
                .and_then(|p| p.responses)
                .map(ResponseGrants::new),
        );
        self.perms = perms;
        self.pub_verdicts.clear();
    }

    /// Reads CONNECT's JSON; a client that sends something else is closed, as nats-server does.
    pub(super) fn parse_connect(&mut self, json: &[u8]) -> Option<ConnectOptions> {
        match ConnectOptions::parse(json) {
            Ok(o) => Some(o),
            Err(e) => {
                crate::client_log!(Debug, self.handle, "invalid CONNECT: {e}");
                self.handle.out.close(CloseReason::ProtocolViolation);
                None
            }
        }
    }

    /// A CONNECT after the first: options may change, identity may not.
    pub(super) fn process_connect(&mut self, json: &[u8]) -> bool {
        match self.parse_connect(json) {
            Some(opts) => self.apply_connect(opts),
            None => false,
        }
    }

    /// Binds the connection to the identity authentication found (or refuses it), then applies
    /// the CONNECT options.
    pub(super) fn finish_connect(
        &mut self,
        opts: ConnectOptions,
        identity: Option<Identity>,
    ) -> bool {
        self.handle.estimate_rtt();
        {
            let Some(identity) = identity else {
                return self.auth_violation(Some(&opts));
            };
            let Some(account) = self.server.account(identity.account.as_deref()) else {
                return self.auth_violation(Some(&opts));
            };
            self.handle.set_account_name(&account.name);
            self.account = account;
            if let Some(p) = &identity.permissions {
                if let Some(limits) = p.responses {
                    self.handle
                        .set_response_grants(Some(ResponseGrants::new(limits)));
                }
            }
            self.perms = identity.permissions;
            self.label = identity.label;
        }
        self.is_system = self.server.is_system_account(&self.account);
        self.handle
            .set_log_label(log_label(&opts, &self.account.name, &self.label));
        self.handle.set_connect_record((
            opts.clone(),
            self.nonce.clone(),
            self.cert_identities.clone(),
        ));
        let advisory = crate::system::ClientBlock {
            start: crate::system::timestamp(self.start),
            host: self
                .handle
                .addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            id: self.handle.id,
            acc: self.account.name.clone(),
            user: self
                .label
                .strip_prefix("user:")
                .or_else(|| self.label.strip_prefix("nkey:"))
                .unwrap_or_default()
                .to_string(),
            name: opts.name.clone(),
            lang: opts.lang.clone(),
            ver: opts.version.clone(),
            stop: None,
            kind: "Client",
            client_type: "nats",
        };
        let ok = self.apply_connect(opts);
        if ok {
            crate::system::client_connected(&self.server, &advisory);
            crate::system::account_conns_changed(&self.server, &self.account.name);
            self.handle
                .set_description(std::sync::Arc::new(advisory.clone()));
            self.advisory = Some(advisory);
        }
        ok
    }

    pub(super) fn apply_connect(&mut self, opts: ConnectOptions) -> bool {
        if opts.no_responders && !opts.headers {
            self.send_err(ErrText::NoRespondersRequiresHeaders);
            return false;
        }
        self.handle.set_headers(opts.headers);
        self.handle.set_async_info(opts.protocol >= 1);
        self.opts = opts;
        self.connected = true;
        self.ok();
        true
    }
}

/// The credentials a CONNECT offered, as nats-server's `getAuthUser` names them.
fn auth_user(opts: &ConnectOptions) -> Option<String> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
    if let Some(nkey) = given(&opts.nkey) {
        return Some(format!("Nkey {}", crate::log::go_quote(nkey.as_bytes())));
    }
    if let Some(user) = given(&opts.user) {
        return Some(format!("User {}", crate::log::go_quote(user.as_bytes())));
    }
    given(&opts.auth_token).map(|_| "Token \"[REDACTED]\"".to_string())
}

/// How log lines name a client after its first CONNECT, as nats-server's `processConnect`:
/// `v<version>:<lang>:<name>` from what the client sent, and the account with the user it
/// authenticated as, or, without authentication, the credentials it offered anyway.
fn log_label(opts: &ConnectOptions, account: &str, identity: &str) -> crate::log::ClientLabel {
    let conn = [
        (!opts.version.is_empty()).then(|| format!("v{}", opts.version)),
        (!opts.lang.is_empty()).then(|| opts.lang.clone()),
        (!opts.name.is_empty()).then(|| opts.name.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(":");
    let offered = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let user = if !identity.is_empty() {
        identity.to_string()
    } else if let Some(nkey) = opts.nkey.as_ref().filter(|_| offered(&opts.nkey)) {
        format!("nkey:{nkey}")
    } else if let Some(user) = opts.user.as_ref().filter(|_| offered(&opts.user)) {
        format!("user:{user}")
    } else if offered(&opts.auth_token) {
        "token".to_string()
    } else {
        String::new()
    };
    crate::log::ClientLabel {
        conn,
        account: account.to_string(),
        user,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: &str) -> ConnectOptions {
        ConnectOptions::parse(json.as_bytes()).expect("test CONNECT parses")
    }

    #[test]
    fn labels_follow_nats_server() {
        let l = log_label(
            &opts(r#"{"version":"1.2","lang":"go","name":"app"}"#),
            "$G",
            "",
        );
        assert_eq!((l.conn.as_str(), l.user.as_str()), ("v1.2:go:app", ""));
        let l = log_label(&opts(r#"{"lang":"rust","user":"a","pass":"p"}"#), "$G", "");
        assert_eq!((l.conn.as_str(), l.user.as_str()), ("rust", "user:a"));
        let l = log_label(&opts(r#"{"auth_token":"t"}"#), "A", "");
        assert_eq!(l.user, "token");
        let l = log_label(&opts(r#"{"user":"x"}"#), "A", "user:mapped");
        assert_eq!(l.user, "user:mapped");
    }
}
