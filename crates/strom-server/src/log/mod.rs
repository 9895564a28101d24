//! Log lines: nats-server's text shape (`[pid] date time [INF] text`) by default, or one JSON
//! object per line (`log_format: json`); to standard error, or to a file rotated by size
//! (`logfile_size_limit`, `logfile_max_num`) and reopened on SIGUSR1.
//!
//! Test helpers and operators' scripts wait for lines such as `Server is ready`, so the text
//! shape is part of the contract. One global logger, configured at start; each line is
//! formatted outside the lock and written whole under it. Lines about a client connection go
//! through [`write_client`], so the text format can prefix them as nats-server does and the
//! JSON format can carry the connection as fields. `text.rs` and `json.rs` shape lines,
//! `rotate.rs` owns the file, `quote.rs` is Go's `%q`.

mod json;
mod quote;
mod rotate;
mod text;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;
use thiserror::Error;

pub use quote::{go_quote, push_quoted};
use rotate::LogFile;

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

    /// nats-server's labels on a terminal (`setColoredLabelFormats`).
    fn colored_tag(self) -> &'static str {
        match self {
            Level::Fatal => "[\x1b[31mFTL\x1b[0m]",
            Level::Error => "[\x1b[31mERR\x1b[0m]",
            Level::Warn => "[\x1b[0;93mWRN\x1b[0m]",
            Level::Info => "[\x1b[32mINF\x1b[0m]",
            Level::Debug => "[\x1b[36mDBG\x1b[0m]",
            Level::Trace => "[\x1b[33mTRC\x1b[0m]",
        }
    }

    /// The level's name in JSON lines.
    fn name(self) -> &'static str {
        match self {
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// nats-server's text lines.
    #[default]
    Text,
    /// One JSON object per line (a Strom option; nats-server has none).
    Json,
}

impl std::str::FromStr for Format {
    type Err = LogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            _ => Err(LogError::Format(s.to_string())),
        }
    }
}

/// What went wrong setting up logging.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("could not open the log file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown log format \"{0}\": use \"text\" or \"json\"")]
    Format(String),
}

/// How a client connection is named in log lines once it has connected, as nats-server
/// names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLabel {
    /// `v<version>:<lang>:<name>` from CONNECT, leaving out what the client did not send;
    /// empty when it sent none of them.
    pub conn: String,
    /// The account the client is bound to.
    pub account: String,
    /// `user:<name>`, `nkey:<key>` or `token`; empty when the client gave no credentials.
    pub user: String,
}

/// The client connection a line is about.
#[derive(Debug, Clone, Copy)]
pub struct ClientRef<'a> {
    pub cid: u64,
    pub addr: Option<SocketAddr>,
    pub label: Option<&'a ClientLabel>,
}

/// nats-server's prefix: `ip:port - cid:N`, then once connected ` - "<conn label>"` and
/// ` - "<account>/<user>"` when there are any.
impl std::fmt::Display for ClientRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            Some(a) => write!(f, "{a} - cid:{}", self.cid)?,
            None => write!(f, "cid:{}", self.cid)?,
        }
        if let Some(label) = self.label {
            if !label.conn.is_empty() {
                write!(f, " - {}", go_quote(label.conn.as_bytes()))?;
            }
            if !label.user.is_empty() {
                let acs = format!("{}/{}", label.account, label.user);
                write!(f, " - {}", go_quote(acs.as_bytes()))?;
            }
        }
        Ok(())
    }
}

/// Logging as configured from the command line and the configuration file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub debug: bool,
    pub trace: bool,
    /// `logtime`: date and time on each line (nats-server's default).
    pub timestamps: bool,
    /// `logtime_utc`: the time in UTC rather than local time.
    pub utc: bool,
    pub format: Format,
    /// `logfile`: lines go there instead of standard error.
    pub file: Option<PathBuf>,
    /// `logfile_size_limit`: rotate the file once it is larger; 0 never rotates.
    pub size_limit: u64,
    /// `logfile_max_num`: files kept, the current one included; 0 keeps every backup.
    pub max_files: usize,
    /// `max_traced_msg_len`: payload bytes a trace line shows; 0 shows all.
    pub max_traced_msg_len: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            debug: false,
            trace: false,
            timestamps: true,
            utc: false,
            format: Format::Text,
            file: None,
            size_limit: 0,
            max_files: 0,
            max_traced_msg_len: 0,
        }
    }
}

struct Logger {
    time: AtomicBool,
    utc: AtomicBool,
    json: AtomicBool,
    /// Coloured labels: standard error is a terminal and no file is configured.
    colors: AtomicBool,
    debug: AtomicBool,
    trace: AtomicBool,
    max_traced: AtomicUsize,
    file: Mutex<Option<LogFile>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger {
        time: AtomicBool::new(true),
        utc: AtomicBool::new(false),
        json: AtomicBool::new(false),
        colors: AtomicBool::new(std::io::stderr().is_terminal()),
        debug: AtomicBool::new(false),
        trace: AtomicBool::new(false),
        max_traced: AtomicUsize::new(0),
        file: Mutex::new(None),
    })
}

/// When a line was written.
struct Stamp {
    utc: chrono::DateTime<chrono::Utc>,
    /// Show it in UTC (`logtime_utc`) rather than local time.
    in_utc: bool,
}

/// Applies `s`: levels, line shape, and the file (opened, and rotated at once when it is
/// already past its limit, as nats-server does).
///
/// # Errors
/// [`LogError::Open`] when the log file cannot be opened for appending; logging then stays
/// where it was.
pub fn configure(s: &Settings) -> Result<(), LogError> {
    let l = logger();
    let file = match &s.file {
        Some(path) => Some(open(path, s.size_limit, s.max_files)?),
        None => None,
    };
    l.time.store(s.timestamps, Ordering::Relaxed);
    l.utc.store(s.utc, Ordering::Relaxed);
    l.json.store(s.format == Format::Json, Ordering::Relaxed);
    l.colors.store(
        file.is_none() && std::io::stderr().is_terminal(),
        Ordering::Relaxed,
    );
    l.max_traced.store(s.max_traced_msg_len, Ordering::Relaxed);
    set_levels(s.debug, s.trace);
    install(file);
    Ok(())
}

/// Changes the levels (a configuration reload).
pub fn set_levels(debug: bool, trace: bool) {
    let l = logger();
    l.debug.store(debug, Ordering::Relaxed);
    l.trace.store(trace, Ordering::Relaxed);
}

/// Changes `max_traced_msg_len` (a configuration reload).
pub fn set_max_traced_msg_len(len: usize) {
    logger().max_traced.store(len, Ordering::Relaxed);
}

/// `max_traced_msg_len`: how many payload bytes a trace line shows; 0 for all.
pub fn max_traced_msg_len() -> usize {
    logger().max_traced.load(Ordering::Relaxed)
}

fn open(path: &Path, limit: u64, max_files: usize) -> Result<LogFile, LogError> {
    LogFile::open(path, limit, max_files).map_err(|source| LogError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Makes `file` the destination; when it is already past its limit, the notice rotates it.
fn install(file: Option<LogFile>) {
    let over = file.as_ref().is_some_and(LogFile::over_limit);
    *logger().file.lock() = file;
    if over {
        write(Level::Info, format_args!("Rotating logfile..."));
    }
}

/// Reopens the log file under its configured name (after a log rotator moved it away), as
/// nats-server does on SIGUSR1. Size limit and pruning stay as configured. Returns whether
/// there was a file to reopen.
///
/// # Errors
/// [`LogError::Open`] when the file cannot be opened again; logging then continues to the
/// old one.
pub fn reopen() -> Result<bool, LogError> {
    let l = logger();
    let fresh = {
        let file = l.file.lock();
        let Some(current) = file.as_ref() else {
            return Ok(false);
        };
        let (limit, max_files) = current.settings();
        open(current.path(), limit, max_files)?
    };
    install(Some(fresh));
    Ok(true)
}

/// Whether lines of this level are written.
#[inline]
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
    emit(level, None, &args);
}

/// Writes one line about a client connection.
pub fn write_client(level: Level, client: &ClientRef<'_>, args: std::fmt::Arguments<'_>) {
    emit(level, Some(client), &args);
}

fn emit(level: Level, client: Option<&ClientRef<'_>>, args: &std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let l = logger();
    let stamp = l.time.load(Ordering::Relaxed).then(|| Stamp {
        utc: chrono::Utc::now(),
        in_utc: l.utc.load(Ordering::Relaxed),
    });
    let json = l.json.load(Ordering::Relaxed);
    let line = if json {
        json::line(level, stamp.as_ref(), client, &args.to_string())
    } else {
        let colors = l.colors.load(Ordering::Relaxed);
        text::line(level, stamp.as_ref(), colors, client, args)
    };
    let mut file = l.file.lock();
    match file.as_mut() {
        Some(f) => {
            let notice = |level: Level, msg: &str| {
                let stamp = stamp.as_ref().map(|s| Stamp {
                    utc: chrono::Utc::now(),
                    in_utc: s.in_utc,
                });
                if json {
                    json::line(level, stamp.as_ref(), None, msg).into_bytes()
                } else {
                    text::direct(level, stamp.as_ref(), msg)
                }
            };
            f.write_line(line.as_bytes(), &notice);
        }
        // A failed log write has nowhere better to be reported; the server keeps serving.
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

/// A line about a client connection: `client_log!(Debug, handle, "Client connection created")`.
/// `handle` is anything with a `log(Level, Arguments)` method (a `ClientHandle`).
#[macro_export]
macro_rules! client_log {
    ($level:ident, $client:expr, $($t:tt)*) => {
        if $crate::log::enabled($crate::log::Level::$level) {
            $client.log($crate::log::Level::$level, format_args!($($t)*))
        }
    };
}

/// A fixed time (2026-11-23 18:34:12.112202999 UTC) for the line-shape tests.
#[cfg(test)]
fn test_stamp() -> Stamp {
    use chrono::TimeZone;
    let utc = chrono::Utc
        .with_ymd_and_hms(2026, 11, 23, 18, 34, 12)
        .single()
        .expect("valid date")
        + chrono::Duration::nanoseconds(112_202_999);
    Stamp { utc, in_utc: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_prefix_grows_with_what_connect_told() {
        let addr = "127.0.0.1:47804".parse().ok();
        let c = ClientRef {
            cid: 5,
            addr,
            label: None,
        };
        assert_eq!(c.to_string(), "127.0.0.1:47804 - cid:5");
        let label = ClientLabel {
            conn: "n".into(),
            account: "$G".into(),
            user: "user:a".into(),
        };
        let c = ClientRef {
            label: Some(&label),
            ..c
        };
        assert_eq!(
            c.to_string(),
            r#"127.0.0.1:47804 - cid:5 - "n" - "$G/user:a""#
        );
        let label = ClientLabel {
            conn: String::new(),
            account: "$G".into(),
            user: "token".into(),
        };
        let c = ClientRef {
            label: Some(&label),
            ..c
        };
        assert_eq!(c.to_string(), r#"127.0.0.1:47804 - cid:5 - "$G/token""#);
    }

    #[test]
    fn formats_parse_case_insensitively() {
        assert_eq!("JSON".parse::<Format>().ok(), Some(Format::Json));
        assert_eq!("text".parse::<Format>().ok(), Some(Format::Text));
        assert!("yaml".parse::<Format>().is_err());
    }
}
