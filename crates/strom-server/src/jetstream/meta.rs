//! A stream's metadata file: its configuration and creation time, written so that a power cut
//! leaves either the old file or the new one — write a temporary file, fsync it, rename it over
//! the old one, fsync the directory — and read back with a checksum.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::stream_config::StreamConfig;

/// The metadata file's name inside a stream directory.
pub const META_FILE: &str = "meta.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub config: StreamConfig,
    /// Creation time, nanoseconds since the epoch.
    pub created: i64,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    meta: T,
    /// CRC-32 of the `meta` JSON, so a damaged file is told apart from a valid one.
    crc32: u32,
}

/// Writes `bytes` to `path` durably and atomically.
///
/// # Errors
/// The I/O error of any step; the old file, if any, is then still intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp: PathBuf = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Fsyncs a directory, making the entries created, renamed or removed in it durable.
///
/// # Errors
/// The I/O error.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and every missing parent, and makes each new entry durable.
///
/// # Errors
/// The I/O error.
pub fn create_dir_durable(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.exists() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    fs::create_dir_all(dir)?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent() {
            sync_dir(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })?;
        }
    }
    Ok(())
}

/// Stores `meta` as `file` in `dir`: JSON with its checksum, sealed when encrypted, written
/// durably and atomically. Streams and consumers keep their metadata this way.
///
/// # Errors
/// The I/O error.
pub fn save_json<T: Serialize>(
    dir: &Path,
    file: &str,
    meta: &T,
    crypto: Option<&strom_store::Crypto>,
) -> std::io::Result<()> {
    let json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    let env = Envelope {
        meta,
        crc32: crc32fast::hash(&json),
    };
    let mut bytes = serde_json::to_vec_pretty(&env).map_err(std::io::Error::other)?;
    if let Some(c) = crypto {
        let mut sealed = Vec::new();
        c.seal(&bytes, &mut sealed);
        bytes = sealed;
    }
    write_atomic(&dir.join(file), &bytes)
}

/// Reads what [`save_json`] stored.
///
/// # Errors
/// A description of what is wrong with the file.
pub fn load_json<T: Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    file: &str,
    crypto: Option<&strom_store::Crypto>,
) -> Result<T, String> {
    let path = dir.join(file);
    let mut bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(c) = crypto {
        bytes = c
            .open(&bytes)
            .ok_or_else(|| format!("{}: cannot be decrypted", path.display()))?;
    }
    let env: Envelope<T> =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let json = serde_json::to_vec(&env.meta).map_err(|e| e.to_string())?;
    if crc32fast::hash(&json) != env.crc32 {
        return Err(format!("{}: checksum mismatch", path.display()));
    }
    Ok(env.meta)
}

/// Stores a stream's metadata in `dir`.
///
/// # Errors
/// The I/O error.
pub fn save(dir: &Path, meta: &Meta, crypto: Option<&strom_store::Crypto>) -> std::io::Result<()> {
    save_json(dir, META_FILE, meta, crypto)
}

/// Reads a stream's metadata from `dir`.
///
/// # Errors
/// A description of what is wrong with the file.
pub fn load(dir: &Path, crypto: Option<&strom_store::Crypto>) -> Result<Meta, String> {
    load_json(dir, META_FILE, crypto)
}
