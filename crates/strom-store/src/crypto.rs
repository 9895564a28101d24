//! Encryption at rest: AES-256-GCM or ChaCha20-Poly1305 (RustCrypto's implementations), each
//! sealed item carrying its own random 96-bit nonce and 128-bit tag.
//!
//! The 256-bit key is derived from the operator's secret with SHA-256 under a fixed,
//! versioned label. The secret is expected to be a high-entropy key, as nats-server's
//! `jetstream { key }` is; it is not a password-hardening KDF.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use sha2::{Digest, Sha256};

/// Bytes a sealed item adds: nonce and tag.
pub const OVERHEAD: usize = NONCE_LEN + 16;
const NONCE_LEN: usize = 12;
const LABEL: &[u8] = b"strom jetstream encryption key v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherKind {
    Aes256Gcm,
    ChaCha20Poly1305,
}

enum Aead2 {
    Aes(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

/// A cipher with its key.
pub struct Crypto {
    kind: CipherKind,
    aead: Aead2,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto").field("kind", &self.kind).finish()
    }
}

impl Crypto {
    pub fn new(kind: CipherKind, secret: &str) -> Crypto {
        let mut h = Sha256::new();
        h.update(LABEL);
        h.update(secret.as_bytes());
        let key = h.finalize();
        let aead = match kind {
            CipherKind::Aes256Gcm => Aead2::Aes(Box::new(
                Aes256Gcm::new_from_slice(&key).expect("a SHA-256 digest is a 256-bit key"),
            )),
            CipherKind::ChaCha20Poly1305 => Aead2::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(&key).expect("a SHA-256 digest is a 256-bit key"),
            )),
        };
        Crypto { kind, aead }
    }

    pub fn kind(&self) -> CipherKind {
        self.kind
    }

    /// Appends `nonce || ciphertext || tag` of `plain` to `out`.
    pub fn seal(&self, plain: &[u8], out: &mut Vec<u8>) {
        let mut nonce = [0u8; NONCE_LEN];
        // The OS random source failing is not something to write data through.
        getrandom::getrandom(&mut nonce).expect("the OS random number generator works");
        let n = aes_gcm::Nonce::from_slice(&nonce);
        let sealed = match &self.aead {
            Aead2::Aes(c) => c.encrypt(n, plain),
            Aead2::ChaCha(c) => c.encrypt(n, plain),
        }
        .expect("encryption of an in-memory buffer does not fail");
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
    }

    /// The plaintext of a sealed item; `None` when the key is wrong or the bytes were altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < OVERHEAD {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let n = aes_gcm::Nonce::from_slice(nonce);
        match &self.aead {
            Aead2::Aes(c) => c.decrypt(n, body),
            Aead2::ChaCha(c) => c.decrypt(n, body),
        }
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        for kind in [CipherKind::Aes256Gcm, CipherKind::ChaCha20Poly1305] {
            let c = Crypto::new(kind, "secret");
            let mut out = Vec::new();
            c.seal(b"hello", &mut out);
            assert_eq!(out.len(), 5 + OVERHEAD);
            assert_eq!(c.open(&out).as_deref(), Some(&b"hello"[..]));
            assert!(Crypto::new(kind, "other").open(&out).is_none());
            let mut bad = out.clone();
            bad[14] ^= 1;
            assert!(c.open(&bad).is_none());
        }
        let aes = Crypto::new(CipherKind::Aes256Gcm, "secret");
        let mut out = Vec::new();
        aes.seal(b"x", &mut out);
        assert!(Crypto::new(CipherKind::ChaCha20Poly1305, "secret")
            .open(&out)
            .is_none());
    }
}
