//! Configuration reload (SIGHUP, `--signal reload`): new users, tokens, permissions and accounts
//! take effect without dropping connections that are still allowed. Every connected client is
//! authenticated again with the CONNECT it sent; one that no longer may connect (its user
//! removed, its password changed, its account gone) is told `Authorization Violation` and
//! closed, and one whose permissions changed has them replaced before its next operation.
//!
//! Listener and limit options are fixed at start; changing them is reported as needing a
//! restart.

use strom_proto::ErrText;

use crate::auth::Authenticator;
use crate::client::CloseReason;
use crate::options::Options;
use crate::server::Shared;

impl Shared {
    /// Applies a re-read configuration; returns one line per change that needs a restart.
    pub async fn reload(&self, new: &Options) -> Vec<String> {
        let mut notes = Vec::new();
        let fixed: [(&str, bool); 9] = [
            ("host", new.host != self.opts.host),
            ("port", new.port != self.opts.port),
            ("max_payload", new.max_payload != self.opts.max_payload),
            (
                "max_control_line",
                new.max_control_line != self.opts.max_control_line,
            ),
            ("max_pending", new.max_pending != self.opts.max_pending),
            (
                "max_connections",
                new.max_connections != self.opts.max_connections,
            ),
            (
                "ping_interval",
                new.ping_interval != self.opts.ping_interval,
            ),
            (
                "write_deadline",
                new.write_deadline != self.opts.write_deadline,
            ),
            ("jetstream", new.jetstream != self.opts.jetstream),
        ];
        for (name, changed) in fixed {
            if changed {
                notes.push(format!(
                    "config reload: changing {name} needs a restart; keeping the running value"
                ));
            }
        }
        self.add_accounts(&new.accounts);
        let auth = self.replace_authenticator(Authenticator::new(&new.auth));
        for client in self.clients() {
            let Some((connect, nonce, cert)) = client.connect_record() else {
                continue;
            };
            let check = auth.clone();
            let identity =
                crate::auth_pool::run_always(move || check.authenticate(&connect, &nonce, &cert))
                    .await
                    .flatten();
            let account = identity
                .as_ref()
                .and_then(|id| self.account(id.account.as_deref()));
            match (identity, account) {
                (Some(id), Some(acc)) if acc.name == client.account_name() => {
                    client.replace_permissions(id.permissions);
                }
                _ => {
                    crate::client_log!(
                        Error,
                        client,
                        "authorization revoked by configuration reload"
                    );
                    client.trace_proto_out(&ErrText::AuthorizationViolation.line());
                    client.out.push_and_close(
                        &ErrText::AuthorizationViolation.line(),
                        CloseReason::AuthenticationViolation,
                    );
                }
            }
        }
        notes
    }
}
