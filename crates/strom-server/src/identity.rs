//! The server's identity: its id (nats-server's 56-character `N…` form) and name.

use rand::Rng;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new server id shaped like nats-server's public server nkey: `N` and 55 base32 characters.
pub fn new_server_id() -> String {
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(BASE32[rng.gen_range(0..32)] as char);
    }
    id
}

/// The NATS protocol version whose behaviour Strom offers; clients gate features on it.
pub const NATS_VERSION: &str = "2.15.1";
/// What nats-server reports as its JetStream API level at that version.
pub const API_LEVEL: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_server_nkeys() {
        let id = new_server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert!(id.bytes().all(|b| BASE32.contains(&b)));
        assert_ne!(id, new_server_id());
    }
}
