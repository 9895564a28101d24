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
            crate::debug!(
                "{} - not a TLS handshake, closing",
                conn.handle.log_prefix()
            );
            return None;
        }
    }
    match tokio::time::timeout(opts.timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            crate::error!("{} - TLS handshake error: {e}", conn.handle.log_prefix());
            None
        }
        Err(_) => {
            crate::error!("{} - TLS handshake timeout", conn.handle.log_prefix());
            None
        }
    }
}

impl Conn {
    pub(super) fn auth_violation(&mut self) -> bool {
        crate::error!("{} - authentication error", self.handle.log_prefix());
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
                crate::debug!("{} - invalid CONNECT: {e}", self.handle.log_prefix());
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
        {
            let Some(identity) = identity else {
                return self.auth_violation();
            };
            let Some(account) = self.server.account(identity.account.as_deref()) else {
                return self.auth_violation();
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
