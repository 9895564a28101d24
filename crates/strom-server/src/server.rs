//! The server: the listener, the registry of clients, and the ways a server ends — shutdown and
//! lame duck mode.
//!
//! Shutdown follows mini-redis: a `watch` channel tells the accept loop to stop, every client is
//! told to close (flushing what it has queued), and `run` returns once the registry is empty.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use strom_proto::wire::{ConnectOptions, ServerInfo};
use strom_proto::{encode, ErrText};

use crate::account::{Account, GLOBAL_ACCOUNT};
use crate::auth::{Authenticator, Identity};
use crate::client::{serve, ClientHandle, CloseReason};
use crate::error::ServerError;
use crate::identity::{new_server_id, API_LEVEL, NATS_VERSION};
use crate::options::Options;
use crate::subscription::Subscription;
use crate::system::{System, DEFAULT_SYSTEM_ACCOUNT};

/// A monitoring port as configured: a random one (stored as 0) was given as -1.
fn shown_port(p: u16) -> i32 {
    if p == 0 {
        -1
    } else {
        i32::from(p)
    }
}

/// One account's traffic, for `/accstatz`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountTraffic {
    pub conns: usize,
    pub received: (u64, u64),
    pub sent: (u64, u64),
    pub slow_consumers: u64,
}

/// What the server is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    LameDuck,
    Shutdown,
}

/// State shared by every connection.
pub struct Shared {
    pub opts: Options,
    /// The account clients land in without account configuration.
    pub global: Arc<Account>,
    /// Configured accounts by name.
    accounts: RwLock<FxHashMap<String, Arc<Account>>>,
    authenticator: RwLock<Arc<Authenticator>>,
    system: Option<System>,
    tls: Option<(tokio_rustls::TlsAcceptor, crate::tls::TlsOptions)>,
    pub server_id: String,
    pub server_name: String,
    port: u16,
    clients: Mutex<FxHashMap<u64, Arc<ClientHandle>>>,
    next_cid: AtomicU64,
    /// Connections accepted and not yet gone; checked against `max_connections` at accept.
    conns: AtomicUsize,
    lame_duck: std::sync::atomic::AtomicBool,
    slow_consumers: AtomicU64,
    stale_connections: AtomicU64,
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    /// What clients that have gone were sent, so the totals never fall.
    out_msgs: AtomicU64,
    out_bytes: AtomicU64,
    /// Signalled whenever a client leaves the registry.
    client_gone: Notify,
    /// The monitoring port's own figures, for `/varz`.
    pub http_stats: crate::monitor::HttpStats,
    /// The most recent closed connections, for `/connz?state=closed`.
    pub closed: crate::client::ClosedRing,
    /// JetStream, once started.
    jetstream: std::sync::OnceLock<Arc<crate::jetstream::JetStream>>,
    /// When the server started (and its configuration was loaded).
    pub started: chrono::DateTime<chrono::Utc>,
}

impl Shared {
    /// Adds a connection to the registry.
    pub(crate) fn register(&self, client: Arc<ClientHandle>) {
        self.clients.lock().insert(client.id, client);
    }

    /// Removes a connection from the registry.
    pub(crate) fn unregister(&self, client: &ClientHandle) {
        // Looked up first: the registry lock is never held while taking the accounts lock.
        let account = self.account_named(&client.account_name());
        {
            let mut clients = self.clients.lock();
            if clients.remove(&client.id).is_some() {
                // Under the registry lock, so received_totals never misses or doubles them.
                let (m, b) = client.in_stats();
                self.in_msgs.fetch_add(m, Ordering::Relaxed);
                self.in_bytes.fetch_add(b, Ordering::Relaxed);
                let (om, ob) = client.out.stats();
                self.out_msgs.fetch_add(om, Ordering::Relaxed);
                self.out_bytes.fetch_add(ob, Ordering::Relaxed);
                if let Some(account) = account {
                    account.departed.add((m, b), (om, ob));
                }
            }
        }
        if client.out.close_reason() == Some(crate::client::CloseReason::StaleConnection) {
            self.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        self.conns.fetch_sub(1, Ordering::AcqRel);
        self.client_gone.notify_waiters();
    }

    /// Number of clients closed for not answering PINGs.
    pub fn stale_connections(&self) -> u64 {
        self.stale_connections.load(Ordering::Relaxed)
    }

    /// The connected client with this id.
    pub fn client_by_id(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Number of client connections.
    /// The client port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// Removes a subscription from its client and from the sublist.
    pub(crate) fn remove_subscription(&self, sub: &Arc<Subscription>) {
        if !sub.close() {
            return;
        }
        if let Some(client) = sub.client() {
            let mut subs = client.subs.lock();
            if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
                subs.remove(&sub.sid);
            }
        }
        sub.account.sublist.remove(sub);
    }

    /// The account called `name`: the global one or a configured one.
    pub fn account_named(&self, name: &str) -> Option<Arc<Account>> {
        if name == self.global.name {
            return Some(self.global.clone());
        }
        self.accounts.read().get(name).cloned()
    }

    pub(crate) fn count_slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of clients closed as slow consumers.
    pub fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }

    /// Checks a CONNECT; `nonce` is the one this connection's INFO carried. Runs on the
    /// authentication threads ([`crate::auth_pool`]): a bcrypt comparison takes tens of
    /// milliseconds of CPU, and a flood of failed logins must not slow everyone else.
    pub(crate) async fn authenticate(
        &self,
        c: ConnectOptions,
        nonce: String,
        cert: Vec<String>,
    ) -> Option<Identity> {
        let auth = self.authenticator.read().clone();
        crate::auth_pool::run(move || auth.authenticate(&c, &nonce, &cert))
            .await
            .flatten()
    }

    /// The TLS acceptor and options, when clients must use TLS.
    pub(crate) fn tls(&self) -> Option<(&tokio_rustls::TlsAcceptor, &crate::tls::TlsOptions)> {
        self.tls.as_ref().map(|(a, o)| (a, o))
    }

    /// JetStream, when enabled and started.
    pub fn jetstream(&self) -> Option<&Arc<crate::jetstream::JetStream>> {
        self.jetstream.get()
    }

    /// The system account, when there is one.
    pub fn system(&self) -> Option<&System> {
        self.system.as_ref()
    }

    /// Whether `account` is the system account.
    pub fn is_system_account(&self, account: &Account) -> bool {
        self.system
            .as_ref()
            .is_some_and(|s| s.account.name == account.name)
    }

    /// Messages and payload bytes delivered to clients since start.
    pub fn sent_totals(&self) -> (u64, u64) {
        // The registry lock orders this against unregister moving a client's counts.
        let clients = self.clients.lock();
        clients.values().fold(
            (
                self.out_msgs.load(Ordering::Relaxed),
                self.out_bytes.load(Ordering::Relaxed),
            ),
            |(m, b), c| {
                let (cm, cb) = c.out.stats();
                (m + cm, b + cb)
            },
        )
    }

    /// Messages and payload bytes received from clients since start.
    pub fn received_totals(&self) -> (u64, u64) {
        // The registry lock orders this against unregister moving a client's counts.
        let clients = self.clients.lock();
        clients.values().fold(
            (
                self.in_msgs.load(Ordering::Relaxed),
                self.in_bytes.load(Ordering::Relaxed),
            ),
            |(m, b), c| {
                let (cm, cb) = c.in_stats();
                (m + cm, b + cb)
            },
        )
    }

    /// Connections accepted since start.
    pub fn total_connections(&self) -> u64 {
        self.next_cid.load(Ordering::Relaxed) - 1
    }

    /// Accounts with at least one client.
    pub fn active_accounts(&self) -> usize {
        let clients: Vec<Arc<ClientHandle>> = self.clients.lock().values().cloned().collect();
        let mut names: Vec<String> = clients.iter().map(|c| c.account_name()).collect();
        names.sort();
        names.dedup();
        names.len()
    }

    /// Per account: connections now, and messages and bytes received from and sent to its
    /// clients since start (departed clients included), in `all_accounts` order. One pass
    /// over the clients, whatever the number of accounts.
    pub fn account_traffic(&self) -> Vec<(Arc<Account>, AccountTraffic)> {
        self.traffic_of(self.all_accounts())
    }

    /// [`Shared::account_traffic`] for one account (after its clients came or went).
    pub fn account_traffic_of(&self, name: &str) -> Option<(Arc<Account>, AccountTraffic)> {
        let account = self.account_named(name)?;
        self.traffic_of(vec![account]).pop()
    }

    fn traffic_of(&self, accounts: Vec<Arc<Account>>) -> Vec<(Arc<Account>, AccountTraffic)> {
        let mut live: std::collections::HashMap<String, AccountTraffic> =
            std::collections::HashMap::with_capacity(accounts.len());
        {
            // Under the registry lock, which unregister holds while moving a client's counts.
            let clients = self.clients.lock();
            for c in clients.values() {
                let t = live.entry(c.account_name()).or_default();
                let (im, ib) = c.in_stats();
                let (om, ob) = c.out.stats();
                t.conns += 1;
                t.received = (t.received.0 + im, t.received.1 + ib);
                t.sent = (t.sent.0 + om, t.sent.1 + ob);
            }
            // The departed counts are read under the same lock, so no client is counted twice
            // or missed.
            accounts
                .into_iter()
                .map(|a| {
                    let d = &a.departed;
                    let now = live.remove(&a.name).unwrap_or_default();
                    let t = AccountTraffic {
                        conns: now.conns,
                        received: (
                            d.in_msgs.load(Ordering::Relaxed) + now.received.0,
                            d.in_bytes.load(Ordering::Relaxed) + now.received.1,
                        ),
                        sent: (
                            d.out_msgs.load(Ordering::Relaxed) + now.sent.0,
                            d.out_bytes.load(Ordering::Relaxed) + now.sent.1,
                        ),
                        slow_consumers: d.slow_consumers.load(Ordering::Relaxed),
                    };
                    (a, t)
                })
                .collect()
        }
    }

    /// Every account: the global one, then the configured ones by name.
    pub fn all_accounts(&self) -> Vec<Arc<Account>> {
        let mut named: Vec<Arc<Account>> = self.accounts.read().values().cloned().collect();
        named.sort_by(|a, b| a.name.cmp(&b.name));
        std::iter::once(self.global.clone()).chain(named).collect()
    }

    /// Subscriptions in every account.
    pub fn total_subscriptions(&self) -> u64 {
        self.global.sublist.count()
            + self
                .accounts
                .read()
                .values()
                .map(|a| a.sublist.count())
                .sum::<u64>()
    }

    /// Whether clients must authenticate (as of the last configuration load).
    pub fn auth_required(&self) -> bool {
        self.authenticator.read().required()
    }

    /// Swaps in new users, tokens and permissions; returns the authenticator now in force.
    pub(crate) fn replace_authenticator(&self, auth: Authenticator) -> Arc<Authenticator> {
        let auth = Arc::new(auth);
        *self.authenticator.write() = auth.clone();
        auth
    }

    /// Adds the accounts `names` that do not exist yet.
    pub(crate) fn add_accounts(&self, names: &[String]) {
        let mut accounts = self.accounts.write();
        for n in names {
            accounts
                .entry(n.clone())
                .or_insert_with(|| Arc::new(Account::new(n.clone())));
        }
    }

    /// Every connected client.
    pub fn clients(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Whether INFO must carry a nonce for nkey challenges.
    pub(crate) fn needs_nonce(&self) -> bool {
        self.authenticator.read().needs_nonce()
    }

    /// The account with this name; `None` is the global account.
    pub fn account(&self, name: Option<&str>) -> Option<Arc<Account>> {
        match name {
            None => Some(self.global.clone()),
            Some(n) => self.accounts.read().get(n).cloned(),
        }
    }

    /// The INFO JSON for one client.
    pub(crate) fn info_json(
        &self,
        client: &ClientHandle,
        connect_info: bool,
        nonce: &str,
    ) -> Vec<u8> {
        let info = ServerInfo {
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            version: NATS_VERSION.to_string(),
            proto: 1,
            git_commit: String::new(),
            go: concat!("strom ", env!("CARGO_PKG_VERSION")).to_string(),
            host: self.opts.host.clone(),
            port: self.port,
            headers: true,
            auth_required: self.auth_required(),
            tls_required: self.tls.is_some(),
            tls_verify: self.tls.as_ref().is_some_and(|(_, o)| o.verify),
            max_payload: self.opts.max_payload,
            client_id: client.id,
            client_ip: client.addr.map(|a| a.ip().to_string()).unwrap_or_default(),
            nonce: nonce.to_string(),
            ldm: self.lame_duck.load(Ordering::Relaxed),
            connect_info,
            remote_account: if connect_info {
                client.account_name()
            } else {
                String::new()
            },
            acc_is_sys: connect_info
                && self
                    .system
                    .as_ref()
                    .is_some_and(|s| s.account.name == client.account_name()),
            api_lvl: API_LEVEL,
            jetstream: self.opts.jetstream,
            ..ServerInfo::default()
        };
        serde_json::to_vec(&info)
            .expect("ServerInfo serializes: it holds only strings, numbers and bools")
    }
}

/// A handle to ask a running server to stop or to enter lame duck mode.
#[derive(Clone)]
pub struct Controller {
    state: Arc<watch::Sender<RunState>>,
    shared: Arc<Shared>,
}

impl Controller {
    /// Stops accepting, closes every client, and makes [`Server::run`] return.
    pub fn shutdown(&self) {
        self.state.send_replace(RunState::Shutdown);
    }

    /// Applies a re-read configuration (see [`Shared::reload`]); returns what needs a restart.
    pub async fn reload(&self, opts: &Options) -> Vec<String> {
        self.shared.reload(opts).await
    }

    /// Enters lame duck mode (ignored once shutting down).
    pub fn lame_duck(&self) {
        self.state.send_if_modified(|s| {
            if *s == RunState::Running {
                *s = RunState::LameDuck;
                true
            } else {
                false
            }
        });
    }
}

/// A bound, not yet running server.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    state: Arc<watch::Sender<RunState>>,
}

impl Server {
    /// Binds the client listener.
    ///
    /// # Errors
    /// [`ServerError::Listen`] when the address cannot be bound.
    pub async fn bind(opts: Options) -> Result<Server, ServerError> {
        let addr = format!("{}:{}", opts.host, opts.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| ServerError::Listen { addr, source })?
            .port();
        let server_id = new_server_id();
        let mut accounts: FxHashMap<String, Arc<Account>> = opts
            .accounts
            .iter()
            .map(|n| (n.clone(), Arc::new(Account::new(n.clone()))))
            .collect();
        // nats-server always has a system account; `system_account` names it.
        let sys_name = opts
            .system_account
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_ACCOUNT.to_string());
        let sys_account = accounts
            .entry(sys_name.clone())
            .or_insert_with(|| Arc::new(Account::new(sys_name)))
            .clone();
        let system = System::new(sys_account);
        crate::links::wire(&opts.imports, &opts.exports, |n| accounts.get(n).cloned())?;
        let tls = match &opts.tls {
            Some(t) => Some((
                tokio_rustls::TlsAcceptor::from(crate::tls::server_config(t)?),
                t.clone(),
            )),
            None => None,
        };
        let authenticator = Arc::new(Authenticator::new(&opts.auth));
        let server_name = opts
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone());
        let closed = crate::client::ClosedRing::new(opts.max_closed_clients);
        let shared = Arc::new(Shared {
            opts,
            global: Arc::new(Account::new(GLOBAL_ACCOUNT)),
            accounts: RwLock::new(accounts),
            authenticator: RwLock::new(authenticator),
            system: Some(system),
            tls,
            server_id,
            server_name,
            port,
            clients: Mutex::new(FxHashMap::default()),
            next_cid: AtomicU64::new(1),
            conns: AtomicUsize::new(0),
            lame_duck: std::sync::atomic::AtomicBool::new(false),
            slow_consumers: AtomicU64::new(0),
            stale_connections: AtomicU64::new(0),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            client_gone: Notify::new(),
            closed,
            http_stats: crate::monitor::HttpStats::default(),
            jetstream: std::sync::OnceLock::new(),
            started: {
                crate::system::mark_start();
                chrono::Utc::now()
            },
        });
        let (state, _) = watch::channel(RunState::Running);
        Ok(Server {
            shared,
            listener,
            state: Arc::new(state),
        })
    }

    /// Starts JetStream when the options ask for it: recovers the streams on disk and serves
    /// the API. Call before [`Server::run`].
    ///
    /// # Errors
    /// [`ServerError::JetStream`] when the store cannot be used (a directory that cannot be
    /// created, a wrong encryption key): the server must not start without its streams.
    pub async fn start_jetstream(&self) -> Result<(), ServerError> {
        if !self.shared.opts.jetstream {
            return Ok(());
        }
        let s = self.shared.clone();
        let js = tokio::task::spawn_blocking(move || crate::jetstream::JetStream::start(&s))
            .await
            .map_err(|e| ServerError::JetStream(e.to_string()))?
            .map_err(ServerError::JetStream)?;
        let _ = self.shared.jetstream.set(js);
        Ok(())
    }

    /// Starts the HTTP or HTTPS monitoring port when one is configured; the address it
    /// listens on.
    ///
    /// # Errors
    /// As nats-server, which does not start then either: both an HTTP and an HTTPS port, an
    /// HTTPS port without a `tls` block, or a port that cannot be bound.
    pub async fn start_monitoring(&self) -> Result<Option<SocketAddr>, ServerError> {
        let opts = &self.shared.opts;
        let (port, tls) = match (opts.http_port, opts.https_port) {
            (None, None) => return Ok(None),
            (Some(http), Some(https)) => {
                return Err(ServerError::Monitor(format!(
                    "can't specify both HTTP ({}) and HTTPs ({}) ports",
                    shown_port(http),
                    shown_port(https)
                )))
            }
            (Some(port), None) => (port, None),
            (None, Some(port)) => {
                let Some(t) = &opts.tls else {
                    return Err(ServerError::Monitor(
                        "TLS cert and key required for HTTPS".into(),
                    ));
                };
                let config = crate::tls::monitoring_config(t)?;
                (port, Some(tokio_rustls::TlsAcceptor::from(config)))
            }
        };
        let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
        crate::monitor::start(self.shared.clone(), &host, port, tls)
            .await
            .map(Some)
            .map_err(|e| {
                ServerError::Monitor(format!(
                    "can't listen to the monitor port: {host}:{port}: {e}"
                ))
            })
    }

    /// The address the client listener is bound to.
    ///
    /// # Errors
    /// The I/O error from the socket.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn controller(&self) -> Controller {
        Controller {
            state: self.state.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Accepts clients until shutdown or lame duck mode, then closes them all.
    pub async fn run(self) {
        let Server {
            shared,
            listener,
            state,
        } = self;
        let mut rx = state.subscribe();
        crate::info!(
            "Listening for client connections on {}:{}",
            shared.opts.host,
            shared.port
        );
        if shared.tls.is_some() {
            crate::info!("TLS required for client connections");
        }
        crate::info!("Server is ready");
        tokio::spawn(crate::system::statsz_heartbeat(Arc::downgrade(&shared)));
        let end = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => accept(&shared, stream, addr),
                    Err(e) => {
                        crate::error!("Error accepting client connection: {e}");
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                changed = rx.changed() => {
                    let s = *rx.borrow();
                    if changed.is_err() || s != RunState::Running {
                        break s;
                    }
                }
            }
        };
        drop(listener);
        if end == RunState::LameDuck {
            lame_duck(&shared, &mut rx).await;
        }
        close_all(&shared).await;
        if let Some(js) = shared.jetstream.get().cloned() {
            let _ = tokio::task::spawn_blocking(move || js.shutdown()).await;
        }
        crate::info!("Server Exiting..");
    }
}

fn accept(shared: &Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = shared.next_cid.fetch_add(1, Ordering::Relaxed);
    if shared.conns.fetch_add(1, Ordering::AcqRel) >= shared.opts.max_connections {
        shared.conns.fetch_sub(1, Ordering::AcqRel);
        let shared = shared.clone();
        tokio::spawn(async move { refuse_max_connections(&shared, stream, addr, id).await });
        return;
    }
    tokio::spawn(serve(shared.clone(), stream, Some(addr), id));
}

/// nats-server sends its INFO, then the error, then closes.
async fn refuse_max_connections(shared: &Shared, mut stream: TcpStream, addr: SocketAddr, id: u64) {
    crate::error!("{addr} - cid:{id} - maximum connections exceeded");
    let handle = ClientHandle::new(id, Some(addr), 0, None);
    let mut out = bytes::BytesMut::new();
    encode::write_info(&mut out, &shared.info_json(&handle, false, ""));
    out.extend_from_slice(&ErrText::MaxConnections.line());
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(&out)).await;
    let _ = stream.shutdown().await;
}

/// Lame duck mode as nats-server does it: tell clients (INFO with `ldm`), wait the grace
/// period, then close clients spread over the rest of `lame_duck_duration`.
async fn lame_duck(shared: &Arc<Shared>, rx: &mut watch::Receiver<RunState>) {
    crate::info!("Entering lame duck mode, stop accepting new clients");
    shared.lame_duck.store(true, Ordering::Relaxed);
    let clients: Vec<Arc<ClientHandle>> = shared.clients.lock().values().cloned().collect();
    for c in clients.iter().filter(|c| c.accepts_async_info()) {
        let mut line = bytes::BytesMut::new();
        encode::write_info(&mut line, &shared.info_json(c, false, ""));
        c.out.push_proto(&line);
        c.out.wake();
    }
    let grace = shared.opts.lame_duck_grace_period;
    crate::info!("Waiting {:?} grace period before closing clients", grace);
    if wait_or_shutdown(rx, grace).await {
        return;
    }
    let clients: Vec<Arc<ClientHandle>> = shared.clients.lock().values().cloned().collect();
    if clients.is_empty() {
        return;
    }
    crate::info!("Closing {} existing clients", clients.len());
    let total = shared
        .opts
        .lame_duck_duration
        .saturating_sub(grace)
        .max(Duration::from_secs(1));
    // Close one client per interval; when that interval would be under 1ms, close in batches.
    let n = clients.len() as u32;
    let per = total / n;
    let (batch, pause) = if per < Duration::from_millis(1) {
        let batches = (total.as_millis().max(1)) as usize;
        (clients.len().div_ceil(batches), Duration::from_millis(1))
    } else {
        (1, per)
    };
    for chunk in clients.chunks(batch) {
        for c in chunk {
            c.out.close(CloseReason::LameDuckMode);
        }
        if wait_or_shutdown(rx, pause).await {
            return;
        }
    }
}

/// Sleeps for `d`; returns true early if shutdown was requested meanwhile.
async fn wait_or_shutdown(rx: &mut watch::Receiver<RunState>, d: Duration) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return false,
            changed = rx.changed() => {
                if changed.is_err() || *rx.borrow() == RunState::Shutdown {
                    return true;
                }
            }
        }
    }
}

/// Closes every client (flushing their queues) and waits, boundedly, until all are gone.
async fn close_all(shared: &Arc<Shared>) {
    let deadline =
        tokio::time::Instant::now() + shared.opts.write_deadline + Duration::from_secs(1);
    loop {
        let gone = shared.client_gone.notified();
        tokio::pin!(gone);
        gone.as_mut().enable();
        let clients: Vec<Arc<ClientHandle>> = shared.clients.lock().values().cloned().collect();
        if clients.is_empty() {
            return;
        }
        for c in &clients {
            c.out.close(CloseReason::ServerShutdown);
        }
        if tokio::time::timeout_at(deadline, gone).await.is_err() {
            crate::warn!("{} clients did not close in time", clients.len());
            return;
        }
    }
}
