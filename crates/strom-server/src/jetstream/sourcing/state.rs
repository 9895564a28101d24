//! Where each source of a stream stands in its origin: the last origin sequence stored and
//! the origin's identity, by the source's index name (nats-server 2.15's sourcing state).
//!
//! The writer updates it with every sourced message it stores; it is saved in the stream's
//! directory (`sources.json`, written atomically) when the stream stops and after a purge,
//! with the stream's next sequence as a stamp. On start the saved state is brought up to
//! date from the messages stored after the stamp, whose `Nats-Stream-Source` headers say
//! where they came from — so a purge, which removes those messages, never makes a source
//! take its origin's messages a second time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use strom_store::Store;

use super::frames;
use crate::jetstream::meta;

/// The file, in the stream's directory.
pub const FILE: &str = "sources.json";

/// One source's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub seq: u64,
    pub ident: String,
}

/// Every source's position, by index name.
pub type Positions = BTreeMap<String, Position>;

#[derive(Serialize, Deserialize)]
struct Saved {
    /// The stream's next sequence when this was written: later messages are not covered.
    stamp: u64,
    sources: Positions,
}

/// Saves the positions with the store's next sequence as the stamp.
///
/// # Errors
/// The I/O error.
pub fn save(
    dir: &Path,
    positions: &Positions,
    next_seq: u64,
    crypto: Option<&strom_store::Crypto>,
) -> std::io::Result<()> {
    let saved = Saved {
        stamp: next_seq,
        sources: positions.clone(),
    };
    meta::save_json(dir, FILE, &saved, crypto)
}

/// The positions of the sources `inames`: what was saved, brought up to date with the
/// messages stored since (newest first, until every source is found or the stamp reached).
pub fn recover(
    dir: Option<&Path>,
    store: &dyn Store,
    inames: &[String],
    crypto: Option<&strom_store::Crypto>,
) -> Positions {
    let saved: Option<Saved> = dir.and_then(|d| {
        if !d.join(FILE).exists() {
            return None;
        }
        match meta::load_json(d, FILE, crypto) {
            Ok(s) => Some(s),
            Err(e) => {
                crate::warn!("Sourcing state unreadable ({e}); rebuilding it from the messages");
                None
            }
        }
    });
    let (stamp, mut positions) = match saved {
        Some(s) => (s.stamp, s.sources),
        None => (0, Positions::new()),
    };
    positions.retain(|k, _| inames.contains(k));
    let mut found: Vec<String> = Vec::new();
    store.scan_back(&mut |seq, _| {
        if seq < stamp || found.len() == inames.len() {
            return false;
        }
        let Ok(Some(m)) = store.get(seq) else {
            return true;
        };
        let parsed = strom_proto::headers::get(&m.headers, b"Nats-Stream-Source")
            .and_then(frames::parse_source_header);
        if let Some((iname, oseq, ident)) = parsed {
            if inames.contains(&iname) && !found.contains(&iname) {
                found.push(iname.clone());
                positions.insert(iname, Position { seq: oseq, ident });
            }
        }
        true
    });
    positions
}
