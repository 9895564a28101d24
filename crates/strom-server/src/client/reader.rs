//! The reader: reads from the socket, parses operations in place, and dispatches them.
//!
//! All the bytes of one read are processed before any writer is woken, so many frames for the
//! same receiver leave in one write (nats-server's "pending client deliveries").

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;
use tokio::time::Instant;

use strom_proto::subject::{
    has_wildcard, is_valid_literal_subject, is_valid_queue, is_valid_subject,
};
use strom_proto::wire::ConnectOptions;
use strom_proto::{encode, parse, ClientOp, ErrText, Limits, Parsed};

use super::close::CloseReason;
use super::connect::tls_handshake;
use super::deliver::Msg;
use super::handle::ClientHandle;
use super::outbound::Push;
use super::socket::Socket;
use super::writer::{self, WriterConfig};
use crate::account::Account;
use crate::permissions::Permissions;
use crate::rng::FastRng;
use crate::server::Shared;
use crate::sublist::SubResult;
use crate::subscription::Subscription;

/// First read buffer size; it doubles while reads fill it, up to [`MAX_READ`].
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// What [`Conn::process`] asks of the read loop.
enum Flow {
    /// Everything complete was handled; read more.
    Continue,
    /// The connection is closing.
    Close,
    /// A first CONNECT to authenticate before the rest of the buffer is processed.
    Authenticate(Box<ConnectOptions>),
}

/// A connection's reader-side state.
pub(crate) struct Conn {
    pub(super) server: Arc<Shared>,
    pub(super) handle: Arc<ClientHandle>,
    /// The account this client is bound to; set at CONNECT when authentication picks one.
    pub(super) account: Arc<Account>,
    pub(super) opts: ConnectOptions,
    /// The user's permissions, once authenticated with some.
    pub(super) perms: Option<Arc<Permissions>>,
    /// Publish permission verdicts by subject.
    pub(super) pub_verdicts: FxHashMap<Box<[u8]>, bool>,
    /// The nonce sent in INFO, for nkey challenges; empty when not needed.
    pub(super) nonce: String,
    /// Names from the verified client certificate, with `verify_and_map`.
    pub(super) cert_identities: Vec<String>,
    pub(super) connected: bool,
    /// Bound to the system account: `$SYS.REQ.>` requests are answered.
    pub(super) is_system: bool,
    /// This client as connect/disconnect advisories describe it, once connected.
    pub(super) advisory: Option<crate::system::ClientBlock>,
    pub(super) start: chrono::DateTime<chrono::Utc>,
    /// `user:name` etc., for logs.
    pub(super) label: String,
    /// Whether the INFO that follows the first PONG after CONNECT has been sent.
    pub(super) sent_connect_info: bool,
    pub(super) limits: Limits,
    pub(super) cache: FxHashMap<Box<[u8]>, Arc<SubResult>>,
    pub(super) cache_gen: u64,
    pub(super) pending_flush: Vec<Arc<ClientHandle>>,
    pub(super) rng: FastRng,
    pub(super) in_msgs: u64,
    pub(super) in_bytes: u64,
}

/// Serves one accepted connection until it closes, then removes every trace of it.
pub(crate) async fn serve(
    server: Arc<Shared>,
    stream: TcpStream,
    addr: Option<SocketAddr>,
    id: u64,
) {
    let handle = Arc::new(ClientHandle::new(id, addr, server.opts.max_pending, None));
    server.register(handle.clone());
    crate::client_log!(Debug, handle, "Client connection created");
    let mut conn = Conn::new(server.clone(), handle.clone());
    if server.needs_nonce() {
        conn.nonce = crate::auth::new_nonce();
    }
    let socket = match server.tls() {
        None => {
            let socket = Arc::new(Socket::tcp(stream));
            handle.out.attach(socket.clone());
            conn.send_info(false);
            socket
        }
        Some((acceptor, opts)) => match tls_handshake(&conn, stream, acceptor, opts).await {
            Some(tls) => {
                if let Some((version, cipher)) = crate::tls::negotiated(tls.get_ref().1) {
                    handle.set_tls(version, cipher);
                }
                if opts.map_users {
                    conn.cert_identities = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| crate::tls::certificate_identities(c))
                        .unwrap_or_default();
                }
                let socket = Arc::new(Socket::tls(tls));
                if opts.handshake_first {
                    conn.send_info(false);
                }
                socket
            }
            None => {
                server.unregister(&handle);
                return;
            }
        },
    };
    let cfg = WriterConfig {
        ping_interval: server.opts.ping_interval,
        ping_max: server.opts.ping_max,
        write_deadline: server.opts.write_deadline,
    };
    let reader = conn.run(socket.clone());
    let writer = writer::run(handle.clone(), socket, cfg);
    let ((removed, mut closed), reason) = tokio::join!(reader, writer);
    server.unregister(&handle);
    // What the writer sent after the reader stopped counts too.
    closed.refresh_sent(&handle);
    server.closed.push(closed);
    if let Some(client) = handle.description() {
        crate::system::account_conns_changed(&server, &client.acc);
    }
    crate::client_log!(Debug, handle, "Client connection closed: {reason}");
    // nats-server traces the subscriptions a closed connection drops after saying it closed.
    for sid in &removed {
        handle.trace_delsub(sid);
    }
}

impl Conn {
    fn new(server: Arc<Shared>, handle: Arc<ClientHandle>) -> Self {
        let limits = Limits {
            max_control_line: server.opts.max_control_line,
            max_payload: server.opts.max_payload,
        };
        Conn {
            account: server.global.clone(),
            server,
            handle,
            opts: ConnectOptions::default(),
            perms: None,
            pub_verdicts: FxHashMap::default(),
            nonce: String::new(),
            cert_identities: Vec::new(),
            connected: false,
            is_system: false,
            advisory: None,
            start: chrono::Utc::now(),
            label: String::new(),
            sent_connect_info: false,
            limits,
            cache: FxHashMap::default(),
            cache_gen: 0,
            pending_flush: Vec::new(),
            rng: FastRng::new(),
            in_msgs: 0,
            in_bytes: 0,
        }
    }

    pub(super) fn send_info(&mut self, connect_info: bool) {
        let json = self
            .server
            .info_json(&self.handle, connect_info, &self.nonce);
        let mut line = BytesMut::with_capacity(json.len() + 8);
        encode::write_info(&mut line, &json);
        self.proto(&line);
    }

    /// Queues protocol bytes for this client.
    pub(super) fn proto(&mut self, bytes: &[u8]) {
        self.handle.trace_proto_out(bytes);
        if let Push::Queued { first: true } = self.handle.out.push_proto(bytes) {
            let h = self.handle.clone();
            self.flush_later(&h);
        }
    }

    pub(super) fn send_err(&mut self, err: ErrText) {
        let line = err.line();
        if err.closes() {
            self.handle.trace_proto_out(&line);
            self.handle
                .out
                .push_and_close(&line, CloseReason::for_err(err));
        } else {
            self.proto(&line);
        }
    }

    pub(super) fn ok(&mut self) {
        if self.opts.verbose {
            self.proto(encode::OK);
        }
    }

    /// Reads and dispatches until the connection closes; returns the sids of the
    /// subscriptions the close removed, when tracing (for `<-> [DELSUB sid]`), and the
    /// connection's closed record.
    async fn run(mut self, socket: Arc<Socket>) -> (Vec<Bytes>, super::ClosedConn) {
        let mut buf = BytesMut::with_capacity(MIN_READ);
        let mut read_size = MIN_READ;
        let auth_deadline = Instant::now() + self.server.opts.auth_timeout;
        let needs_auth = self.server.auth_required();
        loop {
            if buf.capacity() - buf.len() < read_size {
                buf.reserve(read_size);
            }
            let read = tokio::select! {
                r = socket.read_buf(&mut buf) => r,
                _ = self.handle.stop_reader.notified() => break,
                _ = tokio::time::sleep_until(auth_deadline), if needs_auth && !self.connected => {
                    crate::client_log!(Error, self.handle, "authentication timeout");
                    self.handle
                        .trace_proto_out(&ErrText::AuthenticationTimeout.line());
                    self.handle.out.push_and_close(
                        &ErrText::AuthenticationTimeout.line(),
                        CloseReason::AuthenticationTimeout,
                    );
                    break;
                }
            };
            let n = match read {
                Ok(0) => {
                    self.handle.out.close(CloseReason::ClientClosed);
                    break;
                }
                Ok(n) => n,
                Err(_) => {
                    self.handle.out.close(CloseReason::ReadError);
                    break;
                }
            };
            self.handle.touch_in(std::time::Instant::now());
            if n >= read_size && read_size < MAX_READ {
                read_size *= 2;
            } else if n < read_size / 4 && read_size > MIN_READ {
                read_size /= 2;
            }
            let mut keep_going = true;
            loop {
                super::deliver::defer_flushes();
                let flow = self.process(&mut buf);
                let deferred = super::deliver::take_deferred();
                self.pending_flush.extend(deferred);
                match flow {
                    Flow::Continue => break,
                    Flow::Close => {
                        keep_going = false;
                        break;
                    }
                    // Authentication runs off this task; the rest of the buffer waits for it.
                    Flow::Authenticate(opts) => {
                        self.flush_pending();
                        // The auth timeout holds while the check waits its turn: a flood of
                        // logins queued before this one must not keep it open forever.
                        let server = self.server.clone();
                        let asked = (
                            (*opts).clone(),
                            self.nonce.clone(),
                            self.cert_identities.clone(),
                        );
                        let check =
                            async move { server.authenticate(asked.0, asked.1, asked.2).await };
                        tokio::pin!(check);
                        // Meanwhile the socket is watched: a client that leaves drops its
                        // place in the queue (its check is then skipped); what it sends is
                        // kept for after.
                        enum Waited {
                            Checked(Option<crate::auth::Identity>),
                            TimedOut,
                            Left,
                        }
                        let waited = loop {
                            tokio::select! {
                                identity = &mut check => break Waited::Checked(identity),
                                _ = tokio::time::sleep_until(auth_deadline) => break Waited::TimedOut,
                                r = socket.read_buf(&mut buf) => match r {
                                    Ok(n) if n > 0 => continue,
                                    _ => break Waited::Left,
                                },
                            }
                        };
                        let identity = match waited {
                            Waited::Checked(identity) => identity,
                            Waited::Left => {
                                self.handle.out.close(CloseReason::ClientClosed);
                                keep_going = false;
                                break;
                            }
                            Waited::TimedOut => {
                                crate::client_log!(Error, self.handle, "authentication timeout");
                                let line = ErrText::AuthenticationTimeout.line();
                                self.handle.trace_proto_out(&line);
                                self.handle
                                    .out
                                    .push_and_close(&line, CloseReason::AuthenticationTimeout);
                                keep_going = false;
                                break;
                            }
                        };
                        if !self.finish_connect(*opts, identity) {
                            keep_going = false;
                            break;
                        }
                    }
                }
            }
            self.flush_pending();
            self.handle.set_in_stats(self.in_msgs, self.in_bytes);
            if !keep_going {
                break;
            }
        }
        self.flush_pending();
        self.handle.set_in_stats(self.in_msgs, self.in_bytes);
        self.cleanup()
    }

    /// Parses and dispatches the complete operations in `buf`, stopping early at a CONNECT that
    /// needs authenticating.
    fn process(&mut self, buf: &mut BytesMut) -> Flow {
        if self.handle.permissions_changed.load(Ordering::Acquire) {
            self.take_new_permissions();
        }
        let mut pos = 0;
        let result = loop {
            match parse(&buf[pos..], &self.limits) {
                Ok(Parsed::Op(op, used)) => {
                    if crate::log::enabled(crate::log::Level::Trace) {
                        self.trace_in(&buf[pos..pos + used]);
                    }
                    if let (ClientOp::Connect(json), false) = (&op, self.connected) {
                        pos += used;
                        break match self.parse_connect(json) {
                            Some(opts) => Flow::Authenticate(Box::new(opts)),
                            None => Flow::Close,
                        };
                    }
                    let ok = self.dispatch(op);
                    pos += used;
                    if !ok {
                        break Flow::Close;
                    }
                }
                Ok(Parsed::Incomplete { needed }) => {
                    if let Some(needed) = needed {
                        let have = buf.len() - pos;
                        if needed > have {
                            // Room for the rest of a large message in one go.
                            buf.reserve(needed - have + MIN_READ);
                        }
                    }
                    break Flow::Continue;
                }
                Err(e) => {
                    crate::client_log!(Debug, self.handle, "protocol error: {e}");
                    match e.err_text() {
                        Some(text) => self.send_err(text),
                        None => self.handle.out.close(CloseReason::ProtocolViolation),
                    }
                    break Flow::Close;
                }
            }
        };
        buf.advance(pos);
        result
    }

    /// Handles one operation; returns false once the connection must close.
    fn dispatch(&mut self, op: ClientOp<'_>) -> bool {
        if !self.connected && self.server.auth_required() && !matches!(op, ClientOp::Connect(_)) {
            return self.auth_violation(None);
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                headers,
                payload,
            } => self.process_pub(subject, reply, headers, payload),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.process_sub(subject, queue, sid);
                true
            }
            ClientOp::Unsub { sid, max } => {
                self.process_unsub(sid, max);
                true
            }
            ClientOp::Ping => {
                self.proto(encode::PONG);
                // Clients speaking protocol 1 accept asynchronous INFO; nats-server sends them
                // one after the first PONG, confirming the connection and its account.
                if self.connected && !self.sent_connect_info && self.opts.protocol >= 1 {
                    self.sent_connect_info = true;
                    self.send_info(true);
                }
                true
            }
            ClientOp::Pong => {
                self.handle.pong_received();
                true
            }
            ClientOp::Connect(json) => self.process_connect(json),
            ClientOp::Ignored => true,
        }
    }

    pub(super) fn process_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        if headers.is_some() && !self.opts.headers {
            // nats-server closes a client that sends HPUB without having negotiated headers.
            self.handle.out.close(CloseReason::ProtocolViolation);
            return false;
        }
        if self.perms.is_some() && !self.may_publish(subject) {
            let text = format!(
                "Permissions Violation for Publish to \"{}\"",
                String::from_utf8_lossy(subject)
            );
            self.proto(&err_line(&text));
            // nats-server answers first, then logs.
            crate::client_log!(
                Error,
                self.handle,
                "Publish Violation - Subject {}",
                crate::log::go_quote(subject)
            );
            return true;
        }
        self.in_msgs += 1;
        self.in_bytes += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
        // nats-server checks the subject and acknowledges a verbose client when it reads the
        // control line, so both come before any copy of the message this client receives. The
        // pedantic check only warns: the message is still routed.
        if self.opts.pedantic && !is_valid_literal_subject(subject) {
            self.send_err(ErrText::InvalidPublishSubject);
        }
        self.ok();
        // Requests to the server itself, from a system-account client, are answered first.
        // Clients of other accounts reach the few system services nats-server imports into
        // every account.
        let answered = subject.starts_with(b"$SYS.REQ.")
            && reply.is_some_and(|r| {
                if self.is_system {
                    crate::system::answer(&self.server, subject, r, payload)
                } else {
                    crate::system::answer_imported(
                        &self.server,
                        &self.account,
                        &self.label,
                        self.perms.as_deref(),
                        subject,
                        r,
                        payload,
                    )
                }
            });
        let delivered = self.route(&mut Msg {
            shared: None,
            subject,
            reply,
            headers,
            payload,
            from: self.handle.id,
        });
        if !delivered && !answered && self.opts.no_responders && self.opts.headers {
            if let Some(reply) = reply {
                self.no_responders(subject, reply);
            }
        }
        true
    }

    pub(super) fn process_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !is_valid_subject(subject) || queue.is_some_and(|q| !is_valid_queue(q)) {
            self.send_err(ErrText::InvalidSubject);
            return;
        }
        if let Some(perms) = &self.perms {
            if !perms.can_subscribe(subject, queue) {
                let subj = String::from_utf8_lossy(subject);
                let text = match queue {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to \"{subj}\" using queue \"{}\"",
                        String::from_utf8_lossy(q)
                    ),
                    None => format!("Permissions Violation for Subscription to \"{subj}\""),
                };
                self.proto(&err_line(&text));
                // nats-server's text, with the queue when there is one.
                let queue = queue
                    .map(|q| format!(", Queue: {}", crate::log::go_quote(q)))
                    .unwrap_or_default();
                crate::client_log!(
                    Error,
                    self.handle,
                    "Subscription Violation - Subject {}{queue}, SID {}",
                    crate::log::go_quote(subject),
                    String::from_utf8_lossy(sid)
                );
                return;
            }
        }
        let deny_filter = self
            .perms
            .as_ref()
            .filter(|p| has_wildcard(subject) && p.subscribe.as_ref().is_some_and(|r| r.has_deny()))
            .cloned();
        {
            let mut subs = self.handle.subs.lock();
            // nats-server keeps the first subscription when a sid is reused.
            if !subs.contains_key(sid) {
                let sub = Arc::new(
                    Subscription::new(
                        self.handle.clone(),
                        self.account.clone(),
                        Bytes::copy_from_slice(subject),
                        queue.map(Bytes::copy_from_slice),
                        Bytes::copy_from_slice(sid),
                    )
                    .with_deny_filter(deny_filter),
                );
                subs.insert(sub.sid.clone(), sub.clone());
                self.account.sublist.insert(sub);
            }
        }
        self.ok();
    }

    pub(super) fn process_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        let sub = self.handle.subs.lock().get(sid).cloned();
        if let Some(sub) = sub {
            let now = match max {
                Some(max) => sub.set_max(max),
                None => true,
            };
            if now {
                // nats-server acknowledges a verbose client before it removes the
                // subscription, and traces the removal.
                self.ok();
                if !sub.is_closed() {
                    self.handle.trace_delsub(&sub.sid);
                }
                self.server.remove_subscription(&sub);
                return;
            }
        }
        self.ok();
    }

    /// Whether this client may publish to `subject`: its rules (cached per subject), or a reply
    /// it was granted by `allow_responses`.
    pub(super) fn may_publish(&mut self, subject: &[u8]) -> bool {
        let Some(perms) = &self.perms else {
            return true;
        };
        let allowed = match self.pub_verdicts.get(subject) {
            Some(v) => *v,
            None => {
                let v = perms.can_publish(subject);
                if self.pub_verdicts.len() >= 1024 {
                    self.pub_verdicts.clear();
                }
                self.pub_verdicts.insert(subject.into(), v);
                v
            }
        };
        allowed || self.handle.take_response(subject)
    }

    /// Drops every subscription of this client; returns the sids of those it removed when
    /// tracing, and its closed record (kept once the client is unregistered, so that no
    /// listing shows it both open and closed).
    fn cleanup(&mut self) -> (Vec<Bytes>, super::ClosedConn) {
        let reason = self
            .handle
            .out
            .close_reason()
            .map_or_else(|| "Client Closed".to_string(), |r| r.to_string());
        let closed = super::ClosedConn::snapshot(&self.handle, reason.clone());
        let subs: Vec<Arc<Subscription>> =
            self.handle.subs.lock().drain().map(|(_, s)| s).collect();
        let tracing = crate::log::enabled(crate::log::Level::Trace);
        let mut removed = Vec::new();
        for s in &subs {
            if s.close() && tracing {
                removed.push(s.sid.clone());
            }
        }
        self.account.sublist.remove_all(subs.iter());
        self.cache.clear();
        if let Some(mut advisory) = self.advisory.take() {
            advisory.stop = Some(crate::system::timestamp(chrono::Utc::now()));
            crate::system::client_disconnected(
                &self.server,
                &advisory,
                self.handle.out.stats(),
                (self.in_msgs, self.in_bytes),
                reason,
            );
        }
        (removed, closed)
    }
}

/// `-ERR '<text>'\r\n` for texts built at run time.
fn err_line(text: &str) -> Vec<u8> {
    format!("-ERR '{text}'\r\n").into_bytes()
}
