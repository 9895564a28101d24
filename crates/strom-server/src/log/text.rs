//! nats-server's text line: `[pid] 2006/01/02 15:04:05.000000 [INF] text`.
//!
//! Go's `log` package writes the pid prefix, the date and time with microseconds (local time,
//! or UTC with `logtime_utc`), then the label and the text. On a terminal nats-server colours
//! the label; lines the rotation writes itself end in CRLF (its `logDirect`).

use std::fmt::Write as _;

use super::{ClientRef, Level, Stamp};

/// One line, ending in `\n`.
pub(super) fn line(
    level: Level,
    stamp: Option<&Stamp>,
    colors: bool,
    client: Option<&ClientRef<'_>>,
    msg: &std::fmt::Arguments<'_>,
) -> String {
    let mut out = String::with_capacity(128);
    let _ = write!(out, "[{}] ", std::process::id());
    if let Some(stamp) = stamp {
        push_time(&mut out, stamp);
    }
    out.push_str(if colors {
        level.colored_tag()
    } else {
        level.tag()
    });
    out.push(' ');
    if let Some(c) = client {
        let _ = write!(out, "{c} - ");
    }
    let _ = write!(out, "{msg}");
    out.push('\n');
    out
}

/// A line the log file's rotation writes directly: always local time, CRLF-terminated, as
/// nats-server's `logDirect`.
pub(super) fn direct(level: Level, stamp: Option<&Stamp>, msg: &str) -> Vec<u8> {
    let mut out = String::with_capacity(64 + msg.len());
    let _ = write!(out, "[{}] ", std::process::id());
    if let Some(stamp) = stamp {
        push_time(
            &mut out,
            &Stamp {
                utc: stamp.utc,
                in_utc: false,
            },
        );
    }
    out.push_str(level.tag());
    out.push(' ');
    out.push_str(msg);
    out.push_str("\r\n");
    out.into_bytes()
}

fn push_time(out: &mut String, stamp: &Stamp) {
    const FORMAT: &str = "%Y/%m/%d %H:%M:%S%.6f ";
    if stamp.in_utc {
        let _ = write!(out, "{}", stamp.utc.format(FORMAT));
    } else {
        let _ = write!(
            out,
            "{}",
            stamp.utc.with_timezone(&chrono::Local).format(FORMAT)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        crate::log::test_stamp()
    }

    #[test]
    fn lines_have_nats_server_shape() {
        let l = line(
            Level::Info,
            Some(&stamp()),
            false,
            None,
            &format_args!("Server is ready"),
        );
        let want = format!(
            "[{}] 2026/11/23 18:34:12.112202 [INF] Server is ready\n",
            std::process::id()
        );
        assert_eq!(l, want);
        let l = line(Level::Trace, None, false, None, &format_args!("x"));
        assert_eq!(l, format!("[{}] [TRC] x\n", std::process::id()));
    }

    #[test]
    fn terminal_labels_are_colored_as_nats_server() {
        let l = line(Level::Warn, None, true, None, &format_args!("w"));
        assert_eq!(
            l,
            format!("[{}] [\x1b[0;93mWRN\x1b[0m] w\n", std::process::id())
        );
    }

    #[test]
    fn rotation_notices_end_in_crlf() {
        let l = direct(Level::Info, None, "Rotated log");
        assert_eq!(
            l,
            format!("[{}] [INF] Rotated log\r\n", std::process::id()).into_bytes()
        );
    }
}
