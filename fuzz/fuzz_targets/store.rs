//! The storage engine's readers of bytes from disk: record decoding (plain and sealed),
//! opening a store whose segment — or index snapshot — holds arbitrary bytes, and replaying a
//! consumer journal of arbitrary bytes. None may panic;
//! an opened store serves only records that decode, and message headers parse safely.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strom_store::record::{decode, decode_with};
use strom_store::{CipherKind, Crypto, FileStore, Journal, Store};

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("strom-fuzz-store-{}", std::process::id())))
}

fn crypto() -> &'static Arc<Crypto> {
    static C: OnceLock<Arc<Crypto>> = OnceLock::new();
    C.get_or_init(|| Arc::new(Crypto::new(CipherKind::ChaCha20Poly1305, "fuzz")))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = Bytes::copy_from_slice(rest);
    let _ = decode(&bytes);
    let _ = decode_with(&bytes, Some(crypto()));
    let _ = strom_proto::headers::get(rest, b"Nats-Msg-Id");
    let _ = strom_proto::headers::status(rest);
    let _ = strom_proto::headers::lines(rest).count();
    let d = dir();
    let _ = std::fs::remove_dir_all(d);
    std::fs::create_dir_all(d).expect("temp dir");
    if mode % 4 >= 2 {
        // A consumer journal of arbitrary bytes (plain or sealed): replay yields only records
        // whose checksum holds, and what is appended after replay reads back.
        let path = d.join("state.log");
        std::fs::write(&path, rest).expect("write journal");
        let c = (mode % 4 == 3).then(|| crypto().clone());
        if let Ok((mut j, before)) = Journal::open(&path, c.clone()) {
            j.append(b"after");
            j.sync().expect("sync journal");
            let (_, again) = Journal::open(&path, c).expect("reopen journal");
            assert_eq!(again.len(), before.len() + 1);
            assert_eq!(again.last().map(Vec::as_slice), Some(&b"after"[..]));
        }
        return;
    }
    if mode % 2 == 0 {
        std::fs::write(d.join("00000000000000000001.seg"), rest).expect("write segment");
    } else {
        // A valid store, then a snapshot of arbitrary bytes beside it.
        {
            let (mut s, _) = FileStore::open(d).expect("open");
            for i in 0..5u8 {
                s.append(b"a.b", b"", &[i; 10], 1).expect("append");
            }
            s.sync().expect("sync");
        }
        let mut snap = b"STRMIDX1".to_vec();
        snap.extend_from_slice(rest);
        std::fs::write(d.join("index.snap"), snap).expect("write snapshot");
    }
    if let Ok((store, _)) = FileStore::open(d) {
        let st = store.state();
        for seq in st.first_seq..=st.last_seq.min(st.first_seq + 100) {
            let _ = store.get(seq);
        }
        let _ = store.subjects();
    }
});
