//! Where credentials are checked: a few threads of their own, at the lowest CPU priority.
//!
//! A bcrypt comparison costs tens of milliseconds of CPU, so a flood of failed logins is a
//! flood of CPU work. On the runtime's blocking pool each login would get its own thread and
//! the kernel would share the cores among them and the threads that serve connected clients
//! alike: with eight attackers on two cores, everyone else would get a fifth of the CPU. Here
//! at most half the cores (at least one) check credentials at a time, and those threads run
//! at nice 19, so whenever the serving threads want a core they get it; logins wait their
//! turn (the auth timeout still applies to them).
//!
//! The queue is bounded ([`MAX_QUEUED`]): past it a login is refused at once, as a failed
//! one. A check whose requester gave up (its auth timeout passed, or it left) is skipped.
//!
//! **Invariant:** no credential check runs on a runtime worker thread or the blocking pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

/// Checks waiting or running at most; more logins than this at once are refused.
pub const MAX_QUEUED: usize = 1024;

static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// How many checks run at once: half the cores, at least one.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn start() -> Mutex<Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..threads() {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("strom-auth-{i}"))
            .spawn(move || work(&rx));
        if let Err(e) = spawned {
            crate::error!("Could not start an authentication thread: {e}");
        }
    }
    Mutex::new(tx)
}

fn work(rx: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = rx.lock().recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Nice 19 for the calling thread (Linux gives each thread its own nice value).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; they only read and change the calling
    // thread's scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Runs `check` on an authentication thread and waits for its answer; `None` if the pool is
/// gone (the check is then treated as failed).
pub async fn run<T: Send + 'static>(check: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    queue(check, true).await
}

/// As [`run`], never refused for a full queue: re-checking connected clients at a
/// configuration reload must not disconnect them because of a flood.
pub async fn run_always<T: Send + 'static>(
    check: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    queue(check, false).await
}

async fn queue<T: Send + 'static>(
    check: impl FnOnce() -> T + Send + 'static,
    bounded: bool,
) -> Option<T> {
    if QUEUED.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED && bounded {
        QUEUED.fetch_sub(1, Ordering::AcqRel);
        return None;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // Nobody waits for it any more (the requester timed out or left): no hash for it.
        if !tx.is_closed() {
            let _ = tx.send(check());
        }
        QUEUED.fetch_sub(1, Ordering::AcqRel);
    });
    if POOL.get_or_init(start).lock().send(job).is_err() {
        QUEUED.fetch_sub(1, Ordering::AcqRel);
        return None;
    }
    rx.await.ok()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn checks_run_off_the_runtime_and_answer() {
        let name = super::run(|| std::thread::current().name().map(str::to_string)).await;
        assert!(
            name.flatten().is_some_and(|n| n.starts_with("strom-auth-")),
            "ran on an authentication thread"
        );
    }
}
