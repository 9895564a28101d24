//! The log file, rotated by size as nats-server's `logfile_size_limit` and `logfile_max_num` do.
//!
//! After a write takes the file past its limit, the file is renamed to
//! `<name>.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN` (local time), a fresh file is opened under the
//! configured name and starts with a "Rotated log, backup saved as ..." line; with a maximum
//! number of files, the oldest backups beyond `max - 1` are then deleted ("Purged log file").
//! The naming and the choice of backups to delete are plain functions, tested without files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};

use super::quote::go_quote;
use super::Level;

/// Formats a line the rotation writes itself (nats-server's `logDirect`).
pub(super) type Notice<'a> = &'a dyn Fn(Level, &str) -> Vec<u8>;

/// An open log file with its size accounting.
pub(super) struct LogFile {
    file: File,
    path: PathBuf,
    /// Bytes in the file as far as rotation counts them.
    written: u64,
    /// The size past which the file is rotated; 0 for never. Doubled after a failed rotation.
    limit: u64,
    configured_limit: u64,
    /// How many files (the current one and its backups) to keep; 0 keeps every backup.
    max_files: usize,
}

impl LogFile {
    /// Opens `path` for appending (created with mode 0640, as nats-server), counting what it
    /// already holds against the limit.
    pub(super) fn open(path: &Path, limit: u64, max_files: usize) -> std::io::Result<LogFile> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(LogFile {
            file,
            path: path.to_path_buf(),
            written,
            limit,
            configured_limit: limit,
            max_files,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The configured size limit and number of files, to reopen the file with.
    pub(super) fn settings(&self) -> (u64, usize) {
        (self.configured_limit, self.max_files)
    }

    /// Whether the file is already past its limit (nats-server then logs "Rotating
    /// logfile..." at start-up, and that line rotates it).
    pub(super) fn over_limit(&self) -> bool {
        self.limit > 0 && self.written > self.limit
    }

    /// Appends one line, rotating afterwards when it took the file past the limit. A failed
    /// write has nowhere better to be reported; the server keeps serving.
    pub(super) fn write_line(&mut self, line: &[u8], notice: Notice<'_>) {
        if self.file.write_all(line).is_err() {
            return;
        }
        self.written += line.len() as u64;
        if self.over_limit() {
            self.rotate(notice);
        }
    }

    fn rotate(&mut self, notice: Notice<'_>) {
        let backup = backup_path(&self.path, &chrono::Local::now());
        if let Err(e) = std::fs::rename(&self.path, &backup) {
            self.postpone(notice, &format!("Unable to rotate logfile ({e})"));
            return;
        }
        match open_append(&self.path) {
            Ok(f) => self.file = f,
            Err(e) => {
                // nats-server panics here; Strom goes on writing to the renamed file.
                let what = format!(
                    "Unable to re-open the logfile {} after rotation ({e})",
                    go_quote(self.path.to_string_lossy().as_bytes())
                );
                self.postpone(notice, &what);
                return;
            }
        }
        let line = notice(
            Level::Info,
            &format!(
                "Rotated log, backup saved as {}",
                go_quote(backup.to_string_lossy().as_bytes())
            ),
        );
        let _ = self.file.write_all(&line);
        self.written = line.len() as u64;
        self.limit = self.configured_limit;
        if self.max_files > 0 {
            self.purge(notice);
        }
    }

    /// After a failed rotation, as nats-server: report it and try again at twice the size.
    fn postpone(&mut self, notice: Notice<'_>, what: &str) {
        self.limit = self.limit.saturating_mul(2);
        let line = notice(
            Level::Error,
            &format!("{what}, will attempt next rotation at size {}", self.limit),
        );
        let _ = self.file.write_all(&line);
    }

    /// Deletes the oldest backups so that at most `max_files - 1` remain besides the file.
    fn purge(&mut self, notice: Notice<'_>) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(base) = self.path.file_name().and_then(|b| b.to_str()) else {
            return;
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                let line = notice(
                    Level::Error,
                    &format!(
                        "Unable to read directory {} for log purge ({e}), will attempt next rotation",
                        go_quote(dir.to_string_lossy().as_bytes())
                    ),
                );
                let _ = self.file.write_all(&line);
                return;
            }
        };
        let mut backups: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| is_backup(base, name))
            .collect();
        // Timestamped names sort oldest first.
        backups.sort();
        for name in to_purge(&backups, self.max_files) {
            let quoted = go_quote(name.as_bytes());
            let line = match std::fs::remove_file(dir.join(name)) {
                Ok(()) => notice(Level::Info, &format!("Purged log file {quoted}")),
                Err(e) => {
                    let line = notice(
                        Level::Error,
                        &format!("Unable to remove backup log file {quoted} ({e}), will attempt next rotation"),
                    );
                    let _ = self.file.write_all(&line);
                    return;
                }
            };
            let _ = self.file.write_all(&line);
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// `<path>.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN`, nats-server's name for a rotated file.
pub(super) fn backup_path<Tz: TimeZone>(path: &Path, at: &DateTime<Tz>) -> PathBuf {
    let stamp = format!(
        ".{:04}.{:02}.{:02}.{:02}.{:02}.{:02}.{:09}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond() % 1_000_000_000
    );
    let mut name = path.as_os_str().to_os_string();
    name.push(stamp);
    PathBuf::from(name)
}

/// Whether `name` is a backup of the log file called `base`: `base.` followed by a valid
/// date and time `YYYY.MM.DD.HH.MM.SS`, optionally with a fraction of a second (nats-server
/// checks it with Go's `time.Parse`, so other files next to the log are never deleted).
pub(super) fn is_backup(base: &str, name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    let mut parts = stamp.splitn(7, '.');
    let mut field = |len: usize| {
        parts
            .next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) =
        (field(4), field(2), field(2), field(2), field(2), field(2))
    else {
        return false;
    };
    let fraction_ok = parts
        .next()
        .is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let date_ok = i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, mo, d))
        .is_some();
    fraction_ok && date_ok && h < 24 && mi < 60 && s < 60
}

/// The backups to delete, oldest first, so that `max_files - 1` remain; `sorted` is oldest
/// first.
pub(super) fn to_purge(sorted: &[String], max_files: usize) -> &[String] {
    let keep = max_files.saturating_sub(1);
    &sorted[..sorted.len().saturating_sub(keep)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_named_as_nats_server_names_them() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid date")
            + chrono::Duration::nanoseconds(6_007);
        assert_eq!(
            backup_path(Path::new("/var/log/nats.log"), &at),
            PathBuf::from("/var/log/nats.log.2026.01.02.03.04.05.000006007")
        );
    }

    #[test]
    fn only_timestamped_siblings_count_as_backups() {
        let base = "n.log";
        assert!(is_backup(base, "n.log.2026.11.23.18.35.30.590982557"));
        assert!(is_backup(base, "n.log.2026.11.23.18.35.30"));
        assert!(!is_backup(base, "n.log"));
        assert!(!is_backup(base, "n.log.1"));
        assert!(!is_backup(base, "n.log.old"));
        assert!(
            !is_backup(base, "n.log.2026.02.30.18.35.30.1"),
            "no 30 February"
        );
        assert!(!is_backup(base, "n.log.2026.11.23.24.35.30.1"));
        assert!(!is_backup(base, "n.log.2026.11.23.18.35.30.x"));
        assert!(!is_backup(base, "n.logx.2026.11.23.18.35.30.1"));
    }

    #[test]
    fn purge_keeps_the_newest_max_minus_one() {
        let names: Vec<String> = (1..=5)
            .map(|i| format!("n.log.2026.01.0{i}.00.00.00.0"))
            .collect();
        assert_eq!(to_purge(&names, 3), &names[..3]);
        assert_eq!(to_purge(&names, 1), &names[..]);
        assert!(to_purge(&names, 6).is_empty());
        assert!(to_purge(&names[..2], 3).is_empty());
    }

    fn notice(level: Level, text: &str) -> Vec<u8> {
        format!("{} {text}\r\n", level.tag()).into_bytes()
    }

    #[test]
    fn a_write_past_the_limit_rotates_and_prunes() {
        let dir = std::env::temp_dir().join(format!("strom-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s.log");
        let mut f = LogFile::open(&path, 64, 2).expect("opens");
        for i in 0..20 {
            f.write_line(
                format!("line {i:02} ........................\n").as_bytes(),
                &notice,
            );
        }
        let names: Vec<String> = std::fs::read_dir(&dir)
            .expect("lists")
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        let backups: Vec<&String> = names.iter().filter(|n| is_backup("s.log", n)).collect();
        assert_eq!(
            backups.len(),
            1,
            "max 2 files: one backup and the log: {names:?}"
        );
        let text = std::fs::read_to_string(&path).expect("reads");
        assert!(
            text.starts_with("[INF] Rotated log, backup saved as \""),
            "{text}"
        );
        assert!(text.contains("[INF] Purged log file \"s.log."), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
