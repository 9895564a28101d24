//! JetStream: streams stored by `strom-store`, served through the `$JS.API.>` subjects.
//!
//! - [`JetStream`]: the server-wide part — where the store lives, the sync policy, the
//!   accounts with JetStream, and the API worker thread.
//! - [`JsAccount`]: one account's streams and limits.
//! - [`stream`]: one stream, its store and the subscriptions that capture its subjects;
//!   [`ingest`]: the stream's writer (checks, append, group commit, PubAck).
//! - [`api`]: the API requests; [`wire`]: their JSON; [`errors`]: the error table.
//!
//! Layout on disk: `<store_dir>/jetstream/<account>/streams/<stream>/{meta.json,msgs/}`.

pub mod advisory;
pub mod api;
pub mod commit;
pub mod consumer;
pub mod consumer_config;
pub mod errors;
pub mod ingest;
mod keycheck;
pub mod latency;
pub mod meta;
pub mod snapshot;
pub mod source_config;
pub mod sourcing;
pub mod stream;
pub mod stream_config;
pub mod usage;
pub mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::account::Account;
use crate::options::{JsLimits, Options, SyncPolicy};
use crate::server::Shared;
use crate::subscription::Subscription;
use stream::Stream;

/// The name of the directory nats-server keeps JetStream's data in, under `store_dir`.
pub const STORE_SUBDIR: &str = "jetstream";

/// One account's JetStream.
pub struct JsAccount {
    pub account: Arc<Account>,
    pub limits: JsLimits,
    /// Streams by name.
    pub streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// `<root>/<account>/streams`.
    pub dir: PathBuf,
    /// Bytes held, against the account's limits.
    pub usage: Arc<usage::Usage>,
    /// Names of streams being restored: taken, though not in `streams` yet.
    pub restoring: Mutex<std::collections::HashSet<String>>,
    api_subs: Mutex<Vec<Arc<Subscription>>>,
}

impl JsAccount {
    /// Bytes held by this account's memory and file streams.
    pub fn usage(&self) -> (u64, u64) {
        self.usage.held()
    }

    /// Consumers of every stream of the account.
    pub fn consumer_count(&self) -> usize {
        self.streams
            .read()
            .values()
            .map(|s| s.consumer_count())
            .sum()
    }
}

/// The server's JetStream.
pub struct JetStream {
    pub server: Weak<Shared>,
    /// `<store_dir>/jetstream`.
    pub root: PathBuf,
    pub sync: SyncPolicy,
    pub domain: Option<String>,
    pub max_memory: i64,
    pub max_file: i64,
    accounts: RwLock<BTreeMap<String, Arc<JsAccount>>>,
    api_tx: Mutex<Option<mpsc::Sender<api::Work>>>,
    /// The API subscriptions of accounts without JetStream (they answer "not enabled").
    other_api_subs: Mutex<Vec<Arc<Subscription>>>,
    api_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    /// Encryption at rest for file streams, when configured.
    pub crypto: Option<Arc<strom_store::Crypto>>,
}

/// nats-server's default store directory when JetStream is on and none is given.
fn default_store_dir() -> PathBuf {
    std::env::temp_dir().join("nats").join(STORE_SUBDIR)
}

impl JetStream {
    /// Starts JetStream for a bound server: recovers every stream on disk, subscribes the
    /// API, and starts the API worker.
    ///
    /// # Errors
    /// When the store directory cannot be created.
    pub fn start(server: &Arc<Shared>) -> Result<Arc<JetStream>, String> {
        let opts: &Options = &server.opts;
        let root = match &opts.store_dir {
            Some(d) => d.join(STORE_SUBDIR),
            None => default_store_dir(),
        };
        meta::create_dir_durable(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let crypto = keycheck::check(
            &root,
            opts.js_cipher
                .as_ref()
                .map(|(kind, key)| strom_store::Crypto::new(*kind, &key.0)),
        )?;
        let (max_memory, max_file) = default_limits(opts, &root);
        let js = Arc::new(JetStream {
            server: Arc::downgrade(server),
            root,
            sync: opts.sync,
            domain: opts.js_domain.clone(),
            max_memory,
            max_file,
            accounts: RwLock::new(BTreeMap::new()),
            api_tx: Mutex::new(None),
            other_api_subs: Mutex::new(Vec::new()),
            api_thread: Mutex::new(None),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            crypto,
        });
        crate::info!("Starting JetStream");
        crate::info!("    Max Memory:      {}", human_bytes(max_memory));
        crate::info!("    Max Storage:     {}", human_bytes(max_file));
        crate::info!("    Store Directory: \"{}\"", js.root.display());
        if let Some(d) = &js.domain {
            crate::info!("    Domain:          {d}");
        }
        if let Some(c) = &js.crypto {
            crate::info!("    Encryption:      {:?}", c.kind());
        }
        if let SyncPolicy::Every(d) = js.sync {
            crate::warn!(
                "JetStream sync_interval is {d:?}: acknowledged messages may be lost on a power cut"
            );
        }
        let (tx, rx) = mpsc::channel();
        *js.api_tx.lock() = Some(tx);
        let worker = js.clone();
        let handle = std::thread::Builder::new()
            .name("strom-js-api".into())
            .spawn(move || api::run(worker, rx))
            .map_err(|e| format!("starting the API worker: {e}"))?;
        *js.api_thread.lock() = Some(handle);
        let enabled = enabled_accounts(server);
        let names: Vec<String> = enabled.iter().map(|(a, _)| a.name.clone()).collect();
        for (account, limits) in enabled {
            js.enable_account(account, limits);
        }
        // Every other account (but the system account) is told JetStream is not enabled for
        // it, as nats-server does, rather than hearing no responders.
        let others = std::iter::once(server.global.clone())
            .chain(opts.accounts.iter().filter_map(|n| server.account(Some(n))))
            .filter(|a| !names.contains(&a.name) && !server.is_system_account(a));
        for account in others {
            let subs = js.subscribe_api(&account);
            js.other_api_subs.lock().extend(subs);
        }
        crate::info!("JetStream started");
        Ok(js)
    }

    /// Turns JetStream on for an account: recovers its streams and subscribes its API.
    fn enable_account(self: &Arc<Self>, account: Arc<Account>, limits: JsLimits) {
        let dir = self.root.join(&account.name).join("streams");
        let jsa = Arc::new(JsAccount {
            account: account.clone(),
            limits,
            streams: RwLock::new(BTreeMap::new()),
            dir,
            api_subs: Mutex::new(Vec::new()),
            usage: Arc::new(usage::Usage::new(limits.max_memory, limits.max_file)),
            restoring: Mutex::new(std::collections::HashSet::new()),
        });
        self.recover(&jsa);
        *jsa.api_subs.lock() = self.subscribe_api(&account);
        self.accounts.write().insert(account.name.clone(), jsa);
    }

    /// Subscribes the API subjects in `account`; requests go to the API worker, which
    /// answers for accounts without JetStream too.
    fn subscribe_api(&self, account: &Arc<Account>) -> Vec<Arc<Subscription>> {
        let sink: Arc<dyn crate::subscription::Internal> = Arc::new(api::Sink {
            tx: self.api_tx.lock().clone(),
            account: account.name.clone(),
        });
        let mut subjects = vec!["$JS.API.>".to_string()];
        if let Some(d) = &self.domain {
            subjects.push(format!("$JS.{d}.API.>"));
        }
        subjects
            .into_iter()
            .map(|s| {
                let sub = Arc::new(Subscription::internal(
                    account.clone(),
                    Bytes::from(s.into_bytes()),
                    sink.clone(),
                ));
                account.sublist.insert(sub.clone());
                sub
            })
            .collect()
    }

    /// Reopens the account's streams from disk.
    fn recover(&self, jsa: &Arc<JsAccount>) {
        let Ok(entries) = std::fs::read_dir(&jsa.dir) else {
            return;
        };
        crate::info!(
            "Recovering JetStream state for account \"{}\"",
            jsa.account.name
        );
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let started = std::time::Instant::now();
            match Stream::recover(
                jsa.account.clone(),
                dir.clone(),
                self.crypto.clone(),
                jsa.usage.clone(),
            ) {
                Ok((stream, recovery)) => {
                    for (path, at, why) in &recovery.damage {
                        crate::warn!(
                            "Stream '{} > {}': damaged data in {} at byte {at} ({why}); \
                             {} bytes after it were cut off",
                            jsa.account.name,
                            stream.name,
                            path.display(),
                            recovery.truncated_bytes
                        );
                    }
                    let st = stream.store.lock().state();
                    crate::info!(
                        "  Restored {} messages for stream '{} > {}' in {:?}{}",
                        st.msgs,
                        jsa.account.name,
                        stream.name,
                        started.elapsed(),
                        if recovery.from_snapshot {
                            " (index snapshot)"
                        } else {
                            ""
                        }
                    );
                    stream.start(self.ingest_context());
                    jsa.streams.write().insert(stream.name.clone(), stream);
                }
                Err(e) => crate::error!(
                    "  Error recovering stream in {}: {e}; left on disk untouched",
                    dir.display()
                ),
            }
        }
    }

    pub fn ingest_context(&self) -> ingest::Context {
        ingest::Context {
            server: self.server.clone(),
            sync: self.sync,
            domain: self.domain.clone(),
        }
    }

    /// Every account with JetStream.
    pub fn accounts(&self) -> Vec<Arc<JsAccount>> {
        self.accounts.read().values().cloned().collect()
    }

    /// The account's JetStream, when enabled.
    pub fn account(&self, name: &str) -> Option<Arc<JsAccount>> {
        self.accounts.read().get(name).cloned()
    }

    /// Stops every stream (each writer syncs what it holds) and the API worker.
    pub fn shutdown(&self) {
        let accounts: Vec<Arc<JsAccount>> = self.accounts.read().values().cloned().collect();
        for jsa in accounts {
            for sub in jsa.api_subs.lock().drain(..) {
                jsa.account.sublist.remove(&sub);
            }
            let streams: Vec<Arc<Stream>> = jsa.streams.read().values().cloned().collect();
            for s in streams {
                s.stop();
            }
        }
        for sub in self.other_api_subs.lock().drain(..) {
            sub.account.sublist.remove(&sub);
        }
        if let Some(tx) = self.api_tx.lock().take() {
            let _ = tx.send(api::Work::Stop);
        }
        if let Some(h) = self.api_thread.lock().take() {
            let _ = h.join();
        }
    }

    pub(crate) fn count_api(&self, error: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if error {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The accounts that get JetStream: the global account when none are configured, otherwise
/// those whose configuration enables it.
fn enabled_accounts(server: &Shared) -> Vec<(Arc<Account>, JsLimits)> {
    let opts = &server.opts;
    if opts.accounts.is_empty() && opts.js_accounts.is_empty() {
        return vec![(server.global.clone(), JsLimits::default())];
    }
    opts.js_accounts
        .iter()
        .filter_map(|(name, limits)| server.account(Some(name)).map(|a| (a, *limits)))
        .collect()
}

/// nats-server's defaults: 75% of memory and 75% of the disk the store is on.
fn default_limits(opts: &Options, root: &std::path::Path) -> (i64, i64) {
    let mem = if opts.js_max_memory >= 0 {
        opts.js_max_memory
    } else {
        (total_memory() / 4 * 3) as i64
    };
    let file = if opts.js_max_file >= 0 {
        opts.js_max_file
    } else {
        (free_disk(root) / 4 * 3) as i64
    };
    (mem, file)
}

fn total_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64) * (size.max(0) as u64)
}

fn free_disk(path: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: `c` is a valid NUL-terminated path and `st` is written by statvfs.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return 0;
        }
        (st.f_bavail as u64) * (st.f_frsize as u64)
    }
}

/// Sizes as nats-server logs them (1024-based, e.g. `5.82 GB`).
fn human_bytes(n: i64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", units[i])
    }
}
