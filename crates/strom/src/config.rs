//! Reading `-c FILE` into server options.
//!
//! The configuration language itself lives in `strom-conf`; this maps its typed options onto
//! [`Options`] and collects what is accepted but not served yet.

use anyhow::Result;
use strom_server::Options;

/// Options read from a configuration file, plus what the binary itself needs.
#[derive(Debug, Default)]
pub struct Loaded {
    pub server: Options,
    pub debug: bool,
    pub trace: bool,
    pub log_file: Option<std::path::PathBuf>,
    /// Warnings for blocks and fields that are accepted but not served yet.
    pub not_yet: Vec<String>,
}

/// Reads and maps a configuration file.
///
/// # Errors
/// The file's parse or validation error, naming file:line:col.
pub fn load(path: &str) -> Result<Loaded> {
    let _ = path;
    anyhow::bail!("configuration files: in progress")
}
