//! Signals: the ones the running server reacts to, and `--signal` to send them to another
//! process, with nats-server's command names.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

/// Maps a `--signal` command to the signal nats-server sends for it.
fn signal_for(command: &str) -> Option<libc::c_int> {
    match command {
        "stop" => Some(libc::SIGKILL),
        "quit" => Some(libc::SIGINT),
        "term" => Some(libc::SIGTERM),
        "reopen" => Some(libc::SIGUSR1),
        "reload" => Some(libc::SIGHUP),
        "ldm" => Some(libc::SIGUSR2),
        _ => None,
    }
}

/// Handles `--signal <command>[=<pid or pid file>]`.
///
/// # Errors
/// An unknown command, an unreadable pid file, no or several candidate processes, or a failed
/// `kill`.
pub fn send(spec: &str) -> Result<()> {
    let (command, target) = match spec.split_once('=') {
        Some((c, t)) => (c, Some(t)),
        None => (spec, None),
    };
    let sig = signal_for(command).ok_or_else(|| anyhow!("unknown signal \"{command}\""))?;
    let pid = match target {
        Some(t) => resolve_pid(t)?,
        None => find_single_process()?,
    };
    // SAFETY: kill(2) with a pid and a valid signal number has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        bail!(
            "failed to signal process {pid}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// A pid given directly, or read from a pid file.
fn resolve_pid(target: &str) -> Result<libc::pid_t> {
    if let Ok(pid) = target.parse::<libc::pid_t>() {
        return Ok(pid);
    }
    let text = std::fs::read_to_string(Path::new(target))
        .with_context(|| format!("could not read pid file {target}"))?;
    text.trim()
        .parse()
        .with_context(|| format!("pid file {target} does not hold a pid"))
}

/// Without a pid, nats-server looks for the one other process running under its own name.
fn find_single_process() -> Result<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let exe = std::env::current_exe().context("cannot tell this program's name")?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("strom")
        .to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").context("cannot list processes")? {
        let Ok(entry) = entry else { continue };
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            found.push(pid);
        }
    }
    match found.as_slice() {
        [] => bail!("no {name} process running"),
        [pid] => Ok(*pid),
        many => bail!(
            "multiple {name} processes running:\n{}",
            many.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}
