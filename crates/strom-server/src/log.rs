//! Log lines in nats-server's shape: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.
//!
//! Test helpers and operators' scripts wait for lines such as `Server is ready`, so the shape is part
//! of the contract. One global logger, set once at start; writes are whole lines under a lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// Severity, written as nats-server's three-letter tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Fatal => "[FTL]",
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        }
    }
}

struct Logger {
    /// `logtime`: prefix lines with the date and time (nats-server's default).
    time: AtomicBool,
    debug: AtomicBool,
    trace: AtomicBool,
    file: Mutex<Option<(File, std::path::PathBuf)>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        time: AtomicBool::new(true),
        debug: AtomicBool::new(false),
        trace: AtomicBool::new(false),
        file: Mutex::new(None),
    })
}

/// Whether lines carry the date and time (`logtime`, `-T`); on by default.
pub fn set_timestamps(on: bool) {
    logger().time.store(on, Ordering::Relaxed);
}

/// Sets the levels and, when given, the file logs go to instead of standard error.
///
/// # Errors
/// The I/O error when the log file cannot be opened for appending.
pub fn configure(debug: bool, trace: bool, file: Option<&Path>) -> std::io::Result<()> {
    let l = logger();
    l.debug.store(debug, Ordering::Relaxed);
    l.trace.store(trace, Ordering::Relaxed);
    if let Some(path) = file {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        *l.file.lock() = Some((f, path.to_path_buf()));
    }
    Ok(())
}

/// Reopens the log file (after a log rotator moved it away), as nats-server does on SIGUSR1.
/// Returns whether there was a file to reopen.
///
/// # Errors
/// The I/O error when the file cannot be opened again; logging then continues to the old one.
pub fn reopen() -> std::io::Result<bool> {
    let l = logger();
    let mut file = l.file.lock();
    let Some((_, path)) = file.as_ref() else {
        return Ok(false);
    };
    let path = path.clone();
    let f = OpenOptions::new().create(true).append(true).open(&path)?;
    *file = Some((f, path));
    Ok(true)
}

/// Whether lines of this level are written.
pub fn enabled(level: Level) -> bool {
    let l = logger();
    match level {
        Level::Debug => l.debug.load(Ordering::Relaxed),
        Level::Trace => l.trace.load(Ordering::Relaxed),
        _ => true,
    }
}

/// Writes one line.
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let l = logger();
    let line = if l.time.load(Ordering::Relaxed) {
        let now = chrono::Local::now();
        format!(
            "[{}] {} {} {}\n",
            std::process::id(),
            now.format("%Y/%m/%d %H:%M:%S%.6f"),
            level.tag(),
            args
        )
    } else {
        format!("[{}] {} {}\n", std::process::id(), level.tag(), args)
    };
    let mut file = l.file.lock();
    // A failed log write has nowhere better to be reported; the server keeps serving.
    match file.as_mut() {
        Some((f, _)) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($t)*)) } }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Debug) { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! trace { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Trace) { $crate::log::write($crate::log::Level::Trace, format_args!($($t)*)) } } }
