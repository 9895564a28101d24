//! Reading `-c FILE`: the language is `strom-conf`'s, the mapping onto options is
//! `strom-server`'s; this only ties the two to the command line.

use anyhow::Result;
pub use strom_server::config::FileOptions as Loaded;

/// Reads and maps a configuration file.
///
/// # Errors
/// The file's parse or validation errors, each naming file:line:col.
pub fn load(path: &str) -> Result<Loaded> {
    let cfg = strom_conf::ServerConfig::from_file(path)?;
    Ok(strom_server::config::from_config(&cfg)?)
}
