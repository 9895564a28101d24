//! The part of a client that others hold: its id, outbound queue and subscriptions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::Notify;

use super::outbound::Outbound;
use super::responses::ResponseGrants;
use super::socket::Socket;
use crate::permissions::Permissions;
use crate::subscription::Subscription;
use strom_proto::wire::ConnectOptions;

/// What a client authenticated with: its CONNECT, the INFO nonce it answered, and the names
/// of its verified certificate (with `verify_and_map`).
pub type ConnectRecord = (ConnectOptions, String, Vec<String>);

/// A client as seen by publishers, the server registry and the monitoring code.
pub struct ClientHandle {
    pub id: u64,
    pub addr: Option<SocketAddr>,
    /// When the connection was accepted.
    pub started: chrono::DateTime<chrono::Utc>,
    pub out: Outbound,
    /// Subscriptions by sid. Only SUB, UNSUB, auto-unsubscribe and close touch it.
    pub subs: Mutex<FxHashMap<Bytes, Arc<Subscription>>>,
    /// Whether this client negotiated headers: publishers strip headers for it otherwise.
    headers: AtomicBool,
    /// Whether the client speaks protocol 1 and so accepts INFO at any time.
    async_info: AtomicBool,
    /// Server PINGs not yet answered.
    pub(super) pings_out: AtomicU32,
    /// Whether a PONG to a server PING has been seen (nats-server measures RTT with it).
    pub(super) rtt_known: AtomicBool,
    /// Nanoseconds since `epoch` when the last server PING was queued (0: none yet).
    ping_sent_ns: AtomicU64,
    /// The last measured round trip in nanoseconds (0: not measured).
    rtt_ns: AtomicU64,
    /// The negotiated TLS version and cipher suite, in Go's names, for TLS connections.
    tls: Mutex<Option<(String, String)>>,
    /// Milliseconds since `epoch` of the last bytes read from the client.
    last_in_ms: AtomicU64,
    epoch: Instant,
    /// The account this client is bound to, for INFO and logs.
    account: Mutex<String>,
    /// `allow_responses` of this client's user: replies it may send to requests it received.
    responses: Mutex<Option<ResponseGrants>>,
    /// Whether `responses` is set: lets deliveries skip its lock (a lock per request otherwise).
    has_responses: AtomicBool,
    /// The first CONNECT and the INFO nonce, to authenticate again on reload.
    connect: Mutex<Option<ConnectRecord>>,
    /// New permissions from a reload, for the reader to take before its next operation.
    pub(super) new_permissions: Mutex<Option<Option<Arc<Permissions>>>>,
    pub(super) permissions_changed: AtomicBool,
    /// Messages and payload bytes received from this client, published by its reader after
    /// each read.
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    /// Tells the reader to stop (the writer closed the connection).
    pub(super) stop_reader: Notify,
    /// The client as advisories describe it, once connected.
    described: Mutex<Option<Arc<crate::system::ClientBlock>>>,
    /// How log lines name the client once it has connected.
    log_label: Mutex<Option<Arc<crate::log::ClientLabel>>>,
}

impl ClientHandle {
    pub fn new(
        id: u64,
        addr: Option<SocketAddr>,
        max_pending: usize,
        socket: Option<Arc<Socket>>,
    ) -> Self {
        ClientHandle {
            id,
            addr,
            started: chrono::Utc::now(),
            out: Outbound::new(max_pending, socket),
            subs: Mutex::new(FxHashMap::default()),
            headers: AtomicBool::new(false),
            async_info: AtomicBool::new(false),
            pings_out: AtomicU32::new(0),
            rtt_known: AtomicBool::new(false),
            ping_sent_ns: AtomicU64::new(0),
            rtt_ns: AtomicU64::new(0),
            tls: Mutex::new(None),
            last_in_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            account: Mutex::new(crate::account::GLOBAL_ACCOUNT.to_string()),
            responses: Mutex::new(None),
            has_responses: AtomicBool::new(false),
            connect: Mutex::new(None),
            new_permissions: Mutex::new(None),
            permissions_changed: AtomicBool::new(false),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            stop_reader: Notify::new(),
            described: Mutex::new(None),
            log_label: Mutex::new(None),
        }
    }

    /// A handle not attached to any socket, for unit tests of routing.
    #[cfg(test)]
    pub fn new_for_test(id: u64) -> Self {
        Self::new(id, None, usize::MAX, None)
    }

    #[inline]
    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub(super) fn set_headers(&self, on: bool) {
        self.headers.store(on, Ordering::Relaxed);
    }

    /// Sets (or clears) the replies this client may send under `allow_responses`.
    pub(super) fn set_response_grants(&self, grants: Option<ResponseGrants>) {
        let mut slot = self.responses.lock();
        self.has_responses
            .store(grants.is_some(), Ordering::Release);
        *slot = grants;
    }

    /// Allows this client to answer `reply` (it just received a request), under its
    /// `allow_responses` limits; nothing when it has none.
    #[inline]
    pub(super) fn grant_response(&self, reply: &[u8]) {
        if !self.has_responses.load(Ordering::Acquire) {
            return;
        }
        if let Some(grants) = self.responses.lock().as_mut() {
            grants.grant(reply, std::time::Instant::now());
        }
    }

    /// Uses one allowed answer to `subject`, if there is one.
    pub(super) fn take_response(&self, subject: &[u8]) -> bool {
        self.has_responses.load(Ordering::Acquire)
            && self
                .responses
                .lock()
                .as_mut()
                .is_some_and(|g| g.take(subject, std::time::Instant::now()))
    }

    /// Messages and payload bytes received from this client so far.
    pub fn in_stats(&self) -> (u64, u64) {
        (
            self.in_msgs.load(Ordering::Relaxed),
            self.in_bytes.load(Ordering::Relaxed),
        )
    }

    pub(super) fn set_in_stats(&self, msgs: u64, bytes: u64) {
        self.in_msgs.store(msgs, Ordering::Relaxed);
        self.in_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The CONNECT, the INFO nonce and the client certificate's names.
    pub fn connect_record(&self) -> Option<ConnectRecord> {
        self.connect.lock().clone()
    }

    pub(super) fn set_connect_record(&self, record: ConnectRecord) {
        *self.connect.lock() = Some(record);
    }

    /// Hands the reader new permissions (from a configuration reload).
    pub fn replace_permissions(&self, perms: Option<Arc<Permissions>>) {
        *self.new_permissions.lock() = Some(perms);
        self.permissions_changed.store(true, Ordering::Release);
    }

    /// Records how advisories describe this client.
    pub(crate) fn set_description(&self, block: Arc<crate::system::ClientBlock>) {
        *self.described.lock() = Some(block);
    }

    /// How advisories describe this client, once it has connected.
    pub fn description(&self) -> Option<Arc<crate::system::ClientBlock>> {
        self.described.lock().clone()
    }

    /// The name of the account this client is bound to.
    pub fn account_name(&self) -> String {
        self.account.lock().clone()
    }

    pub(super) fn set_account_name(&self, name: &str) {
        *self.account.lock() = name.to_string();
    }

    /// Whether INFO updates (lame duck mode, cluster changes) may be sent to this client.
    pub fn accepts_async_info(&self) -> bool {
        self.async_info.load(Ordering::Relaxed)
    }

    pub(super) fn set_async_info(&self, on: bool) {
        self.async_info.store(on, Ordering::Relaxed);
    }

    pub(super) fn touch_in(&self, now: Instant) {
        let ms = now.duration_since(self.epoch).as_millis() as u64;
        self.last_in_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the client last sent anything.
    pub fn idle_for(&self, now: Instant) -> std::time::Duration {
        let last =
            self.epoch + std::time::Duration::from_millis(self.last_in_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }

    /// Queues a server PING, noting when, so the PONG gives the round trip.
    pub(super) fn push_ping(&self) {
        let ns = self.epoch.elapsed().as_nanos().max(1) as u64;
        self.ping_sent_ns.store(ns, Ordering::Relaxed);
        self.pings_out.fetch_add(1, Ordering::Relaxed);
        self.trace_proto_out(strom_proto::encode::PING);
        if let super::Push::Queued { first: true } = self.out.push_proto(strom_proto::encode::PING)
        {
            self.out.wake();
        }
    }

    /// Takes the round trip from the PING the PONG answers.
    pub(super) fn pong_received(&self) {
        self.pings_out.store(0, Ordering::Relaxed);
        self.rtt_known.store(true, Ordering::Relaxed);
        let sent = self.ping_sent_ns.load(Ordering::Relaxed);
        if sent != 0 {
            let now = self.epoch.elapsed().as_nanos() as u64;
            self.rtt_ns
                .store(now.saturating_sub(sent).max(1), Ordering::Relaxed);
        }
    }

    /// Estimates the round trip at CONNECT as the time since the connection was accepted, as
    /// nats-server does, unless a PONG already measured it; later PONGs refine it.
    pub(super) fn estimate_rtt(&self) {
        let ns = self.epoch.elapsed().as_nanos().max(1) as u64;
        let _ = self
            .rtt_ns
            .compare_exchange(0, ns, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The last measured round trip; zero until CONNECT (see [`Self::estimate_rtt`]).
    pub fn rtt(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.rtt_ns.load(Ordering::Relaxed))
    }

    /// Starts a round-trip measurement when none has been made, as nats-server does when
    /// monitoring asks (only for clients that have sent CONNECT and named their language).
    pub fn request_rtt(&self) {
        let ready = self
            .described
            .lock()
            .as_ref()
            .is_some_and(|d| !d.lang.is_empty());
        if ready && self.rtt_ns.load(Ordering::Relaxed) == 0 && self.out.close_reason().is_none() {
            self.push_ping();
        }
    }

    pub(super) fn set_tls(&self, version: String, cipher: String) {
        *self.tls.lock() = Some((version, cipher));
    }

    /// The TLS version and cipher suite, for TLS connections.
    pub fn tls(&self) -> Option<(String, String)> {
        self.tls.lock().clone()
    }

    /// Who the client authenticated as, as nats-server's monitoring shows it: the nkey, the
    /// user name, or `[REDACTED]` for a token.
    pub fn auth_user(&self) -> String {
        let record = self.connect.lock();
        let Some((o, _, _)) = record.as_ref() else {
            return String::new();
        };
        if let Some(k) = o.nkey.as_ref().filter(|k| !k.is_empty()) {
            return k.clone();
        }
        if let Some(u) = o.user.as_ref().filter(|u| !u.is_empty()) {
            return u.clone();
        }
        if o.auth_token.as_ref().is_some_and(|t| !t.is_empty()) {
            return "[REDACTED]".into();
        }
        String::new()
    }

    /// nats-server's prefix of per-client log lines: `ip:port - cid:N`, and once connected
    /// its name and account/user (see [`crate::log::ClientRef`]).
    pub fn log_prefix(&self) -> String {
        let label = self.log_label.lock().clone();
        crate::log::ClientRef {
            cid: self.id,
            addr: self.addr,
            label: label.as_deref(),
        }
        .to_string()
    }

    /// Names the client in later log lines (set once, at its first CONNECT, as nats-server).
    pub(super) fn set_log_label(&self, label: crate::log::ClientLabel) {
        *self.log_label.lock() = Some(Arc::new(label));
    }

    /// Writes a log line about this client (see [`crate::client_log!`]).
    pub fn log(&self, level: crate::log::Level, args: std::fmt::Arguments<'_>) {
        let label = self.log_label.lock().clone();
        let client = crate::log::ClientRef {
            cid: self.id,
            addr: self.addr,
            label: label.as_deref(),
        };
        crate::log::write_client(level, &client, args);
    }

    /// The subjects this client subscribes to (with the queue group, if any).
    pub fn subjects(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .subs
            .lock()
            .values()
            .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
            .collect();
        v.sort();
        v
    }

    /// Number of subscriptions held.
    pub fn num_subs(&self) -> usize {
        self.subs.lock().len()
    }
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle")
            .field("id", &self.id)
            .finish()
    }
}
