//! The on-disk record: one stored message (or a deletion marker) with its length and checksum.
//!
//! Layout, little-endian (format version 1):
//!
//! ```text
//! u32 len        bytes after this field (kind .. payload)
//! u32 crc32      CRC-32 (IEEE) of the bytes after this field
//! u8  kind       1 = message, 2 = delete marker, 3 = message with an LZ4-compressed payload,
//!                4 = purge marker (everything up to seq is gone), 5 = last-sequence marker
//! u64 seq
//! i64 ts         nanoseconds since the Unix epoch
//! u16 subj_len   u32 hdr_len   u32 payload_len
//! subject, headers, payload
//! ```
//!
//! Decoding never trusts a length it has not bounds-checked and never returns a record whose
//! checksum does not match: a torn or corrupted tail is reported, not served.

use bytes::{BufMut, Bytes};

/// Bytes before the variable part: len, crc, kind, seq, ts, three lengths.
pub const HEADER_LEN: usize = 4 + 4 + 1 + 8 + 8 + 2 + 4 + 4;

/// Largest record accepted when decoding; anything larger is corruption.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message = 1,
    Delete = 2,
    /// A message whose payload is LZ4-compressed (block format, size prepended): streams
    /// with `compression: s2` store payloads that shrink this way.
    Compressed = 3,
    /// Every message up to and including `seq` is gone (a purge): replay forgets what the
    /// segments before it held, even if their files are still there after a crash.
    Purge = 4,
    /// The stream's last sequence is at least `seq` (kept when a segment that held it goes).
    LastSeq = 5,
}

/// A decoded record; slices share the buffer they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub seq: u64,
    pub ts: i64,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
}

/// What decoding found at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A valid record and its total length on disk.
    Record(Record, usize),
    /// The buffer ends inside a record (a torn write at the tail).
    Torn,
    /// The bytes are not a valid record (bad length, kind or checksum).
    Corrupt(&'static str),
}

/// Appends the encoding of one record to `out`.
pub fn encode(
    out: &mut Vec<u8>,
    kind: Kind,
    seq: u64,
    ts: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) {
    let body_len = HEADER_LEN - 8 + subject.len() + headers.len() + payload.len();
    let start = out.len();
    out.reserve(body_len + 8);
    out.put_u32_le(body_len as u32);
    out.put_u32_le(0);
    out.put_u8(kind as u8);
    out.put_u64_le(seq);
    out.put_i64_le(ts);
    out.put_u16_le(subject.len() as u16);
    out.put_u32_le(headers.len() as u32);
    out.put_u32_le(payload.len() as u32);
    out.put_slice(subject);
    out.put_slice(headers);
    out.put_slice(payload);
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a record sealed with `crypto`: the plain record (as [`encode`] makes it) encrypted,
/// framed as `u32 len | u32 crc32 | nonce ciphertext tag`, so that torn and damaged tails are
/// found without the key, and the key is needed to read anything.
#[allow(clippy::too_many_arguments)]
pub fn encode_sealed(
    out: &mut Vec<u8>,
    crypto: &crate::Crypto,
    kind: Kind,
    seq: u64,
    ts: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) {
    let mut plain = Vec::with_capacity(HEADER_LEN + subject.len() + headers.len() + payload.len());
    encode(&mut plain, kind, seq, ts, subject, headers, payload);
    let start = out.len();
    out.put_u32_le(0);
    out.put_u32_le(0);
    crypto.seal(&plain, out);
    let len = (out.len() - start - 8) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Bytes a sealed record adds to the plain one.
pub const SEALED_OVERHEAD: usize = 8 + crate::crypto::OVERHEAD;

/// Decodes the record at the start of `buf`, opening it with `crypto` when the store is
/// encrypted.
pub fn decode_with(buf: &Bytes, crypto: Option<&crate::Crypto>) -> Decoded {
    let Some(crypto) = crypto else {
        return decode(buf);
    };
    let len = match frame(buf) {
        Ok(len) => len,
        Err(e) => return frame_error(e),
    };
    let Some(plain) = crypto.open(&buf[8..8 + len]) else {
        return Decoded::Corrupt("record cannot be decrypted (wrong key, or damaged)");
    };
    let plain = Bytes::from(plain);
    match decode(&plain) {
        Decoded::Record(r, n) if n == plain.len() => Decoded::Record(r, 8 + len),
        Decoded::Record(..) | Decoded::Torn => Decoded::Corrupt("sealed record is malformed"),
        d @ Decoded::Corrupt(_) => d,
    }
}

/// Checks the frame (length in range, complete, checksum); returns the body length, or what
/// is wrong: `None` for a torn frame, else why it is corrupt.
fn frame(buf: &[u8]) -> Result<usize, Option<&'static str>> {
    if buf.len() < 8 {
        return Err(None);
    }
    let len = u32_at(buf, 0) as usize;
    if !(HEADER_LEN - 8..=MAX_RECORD).contains(&len) {
        return Err(Some("record length out of range"));
    }
    if buf.len() < 8 + len {
        return Err(None);
    }
    if crc32fast::hash(&buf[8..8 + len]) != u32_at(buf, 4) {
        return Err(Some("checksum mismatch"));
    }
    Ok(len)
}

fn frame_error(e: Option<&'static str>) -> Decoded {
    e.map_or(Decoded::Torn, Decoded::Corrupt)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes the record at the start of `buf` (a shared buffer, so fields are slices of it).
pub fn decode(buf: &Bytes) -> Decoded {
    let len = match frame(buf) {
        Ok(len) => len,
        Err(e) => return frame_error(e),
    };
    let kind = match buf[8] {
        1 => Kind::Message,
        2 => Kind::Delete,
        3 => Kind::Compressed,
        4 => Kind::Purge,
        5 => Kind::LastSeq,
        _ => return Decoded::Corrupt("unknown record kind"),
    };
    let seq = u64::from_le_bytes(buf[9..17].try_into().expect("8 bytes by the bounds above"));
    let ts = i64::from_le_bytes(buf[17..25].try_into().expect("8 bytes by the bounds above"));
    let subj_len = u16::from_le_bytes([buf[25], buf[26]]) as usize;
    let hdr_len = u32_at(buf, 27) as usize;
    let pay_len = u32_at(buf, 31) as usize;
    if HEADER_LEN + subj_len + hdr_len + pay_len != 8 + len {
        return Decoded::Corrupt("field lengths do not add up");
    }
    let s = HEADER_LEN;
    let h = s + subj_len;
    let p = h + hdr_len;
    Decoded::Record(
        Record {
            kind,
            seq,
            ts,
            subject: buf.slice(s..h),
            headers: buf.slice(h..p),
            payload: buf.slice(p..p + pay_len),
        },
        8 + len,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: Kind) -> Vec<u8> {
        let mut v = Vec::new();
        encode(
            &mut v,
            kind,
            7,
            1234,
            b"orders.eu",
            b"NATS/1.0\r\n\r\n",
            b"hello",
        );
        v
    }

    #[test]
    fn round_trip() {
        let v = Bytes::from(one(Kind::Message));
        match decode(&v) {
            Decoded::Record(r, n) => {
                assert_eq!(n, v.len());
                assert_eq!((r.kind, r.seq, r.ts), (Kind::Message, 7, 1234));
                assert_eq!(&r.subject[..], b"orders.eu");
                assert_eq!(&r.payload[..], b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sealed_records_round_trip_and_need_the_key() {
        use crate::{CipherKind, Crypto};
        let c = Crypto::new(CipherKind::Aes256Gcm, "k");
        let mut v = Vec::new();
        encode_sealed(
            &mut v,
            &c,
            Kind::Message,
            7,
            1234,
            b"orders.eu",
            b"",
            b"hello",
        );
        let v = Bytes::from(v);
        match decode_with(&v, Some(&c)) {
            Decoded::Record(r, n) => {
                assert_eq!(n, v.len());
                assert_eq!((r.seq, &r.payload[..]), (7, &b"hello"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !v.windows(5).any(|w| w == b"hello"),
            "the payload is not in clear"
        );
        let other = Crypto::new(CipherKind::Aes256Gcm, "other");
        assert!(matches!(decode_with(&v, Some(&other)), Decoded::Corrupt(_)));
        assert!(matches!(
            decode_with(&v.slice(..v.len() - 1), Some(&c)),
            Decoded::Torn
        ));
    }

    #[test]
    fn every_truncation_is_torn_and_every_bit_flip_is_caught() {
        let v = one(Kind::Delete);
        for cut in 0..v.len() {
            let d = decode(&Bytes::copy_from_slice(&v[..cut]));
            assert!(
                matches!(d, Decoded::Torn | Decoded::Corrupt(_)),
                "cut {cut}: {d:?}"
            );
        }
        for byte in 0..v.len() {
            for bit in 0..8 {
                let mut w = v.clone();
                w[byte] ^= 1 << bit;
                let d = decode(&Bytes::from(w));
                assert!(
                    !matches!(d, Decoded::Record(..)),
                    "flip {byte}:{bit} served as valid"
                );
            }
        }
    }
}
