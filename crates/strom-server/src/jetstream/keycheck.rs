//! The store's key check: `<store>/jetstream/key.check` holds a known text sealed with the
//! configured cipher and key. At start-up a wrong key (or cipher), a key for an unencrypted
//! store, or no key for an encrypted one, stops the server before anything is read or
//! written — nothing is destroyed by a configuration mistake.

use std::path::Path;
use std::sync::Arc;

use strom_store::Crypto;

use super::meta;

const FILE: &str = "key.check";
const KNOWN: &[u8] = b"strom jetstream key check v1";

/// Checks (or, for a new store, records) the key; returns the cipher streams use.
///
/// # Errors
/// A sentence for the operator saying what is wrong and that nothing was changed.
pub fn check(root: &Path, crypto: Option<Crypto>) -> Result<Option<Arc<Crypto>>, String> {
    let path = root.join(FILE);
    let existing = std::fs::read(&path).ok();
    match (crypto, existing) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(format!(
            "the store at {} is encrypted: configure its cipher and key \
             (jetstream {{ cipher: ..., key: ... }}); nothing was changed",
            root.display()
        )),
        (Some(c), Some(sealed)) => match c.open(&sealed) {
            Some(plain) if plain == KNOWN => Ok(Some(Arc::new(c))),
            _ => Err(format!(
                "the encryption key or cipher does not match the one the store at {} was \
                 written with; nothing was changed",
                root.display()
            )),
        },
        (Some(c), None) => {
            if has_streams(root) {
                return Err(format!(
                    "the store at {} holds unencrypted streams: encryption can be turned on \
                     only for a new store; nothing was changed",
                    root.display()
                ));
            }
            let mut sealed = Vec::new();
            c.seal(KNOWN, &mut sealed);
            meta::write_atomic(&path, &sealed).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some(Arc::new(c)))
        }
    }
}

/// Whether any account directory under `root` holds a stream.
fn has_streams(root: &Path) -> bool {
    let Ok(accounts) = std::fs::read_dir(root) else {
        return false;
    };
    accounts.filter_map(Result::ok).any(|a| {
        std::fs::read_dir(a.path().join("streams"))
            .map(|mut s| s.next().is_some())
            .unwrap_or(false)
    })
}
