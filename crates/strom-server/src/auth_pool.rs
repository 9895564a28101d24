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
//! **Invariant:** no credential check runs on a runtime worker thread or the blocking pool.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

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
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(check());
    });
    POOL.get_or_init(start).lock().send(job).ok()?;
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
