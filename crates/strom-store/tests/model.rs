//! Random sequences of store operations checked against a trivial model, for both backends;
//! and the file store reopened after each sequence, and after damage to its files.

use std::collections::BTreeMap;

use proptest::prelude::*;
use std::sync::Arc;

use strom_store::{CipherKind, Crypto, FileStore, MemStore, Store};

#[derive(Debug, Clone)]
enum Op {
    Append { subject: u8, payload: Vec<u8> },
    Delete(u64),
    Purge,
    Compact(u64),
    Erase(u64),
    Sync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..5, prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(subject, payload)| Op::Append { subject, payload }),
        2 => (1u64..60).prop_map(Op::Delete),
        1 => Just(Op::Sync),
        1 => Just(Op::Purge),
        1 => (1u64..80).prop_map(Op::Compact),
        1 => (1u64..60).prop_map(Op::Erase),
    ]
}

/// The model: sequence → (subject, payload), and the last sequence handed out.
#[derive(Debug, Default, Clone)]
struct Model {
    msgs: BTreeMap<u64, (String, Vec<u8>)>,
    last: u64,
}

fn subject(n: u8) -> String {
    format!("orders.{n}")
}

fn apply(store: &mut dyn Store, model: &mut Model, op: &Op) {
    match op {
        Op::Append {
            subject: s,
            payload,
        } => {
            let seq = store
                .append(subject(*s).as_bytes(), b"", payload, 1)
                .expect("append");
            model.last += 1;
            assert_eq!(seq, model.last);
            model.msgs.insert(seq, (subject(*s), payload.clone()));
        }
        Op::Delete(seq) => {
            let held = store.delete(*seq).expect("delete");
            assert_eq!(held, model.msgs.remove(seq).is_some());
        }
        Op::Purge => {
            let n = store.purge().expect("purge");
            assert_eq!(n, model.msgs.len() as u64);
            model.msgs.clear();
        }
        Op::Compact(seq) => {
            let n = store.compact(*seq).expect("compact");
            let keep = model.msgs.split_off(seq);
            assert_eq!(n, model.msgs.len() as u64);
            model.msgs = keep;
            model.last = model.last.max(seq - 1);
        }
        Op::Erase(seq) => {
            let held = store.erase(*seq).expect("erase");
            assert_eq!(held, model.msgs.remove(seq).is_some());
        }
        Op::Sync => store.sync().expect("sync"),
    }
}

fn check(store: &dyn Store, model: &Model) {
    let st = store.state();
    assert_eq!(st.msgs, model.msgs.len() as u64);
    assert_eq!(st.last_seq, model.last);
    assert_eq!(
        st.first_seq,
        model.msgs.keys().next().copied().unwrap_or(model.last + 1)
    );
    for seq in 1..=model.last {
        let got = store.get(seq).expect("get");
        match model.msgs.get(&seq) {
            Some((s, p)) => {
                let m = got.expect("held message is served");
                assert_eq!((&m.subject[..], &m.payload[..]), (s.as_bytes(), &p[..]));
            }
            None => assert!(got.is_none(), "seq {seq} is gone"),
        }
    }
    for n in 0..5 {
        let want = model
            .msgs
            .iter()
            .rev()
            .find(|(_, (s, _))| *s == subject(n))
            .map(|(k, _)| *k);
        let got = store
            .last_by_subject(subject(n).as_bytes())
            .expect("last")
            .map(|m| m.seq);
        assert_eq!(got, want);
        assert_eq!(store.last_seq_for(subject(n).as_bytes()), want);
        let on: Vec<u64> = model
            .msgs
            .iter()
            .filter(|(_, (s, _))| *s == subject(n))
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            store.subject_count(subject(n).as_bytes()),
            (on.len() as u64, on.first().copied())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_store_matches_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut store = MemStore::new();
        let mut model = Model::default();
        for op in &ops {
            apply(&mut store, &mut model, op);
        }
        check(&store, &model);
    }

    #[test]
    fn file_store_matches_the_model_and_survives_reopening(ops in prop::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) = FileStore::open(dir.path()).expect("open");
            for op in &ops {
                apply(&mut store, &mut model, op);
            }
            check(&store, &model);
            store.sync().expect("sync");
        }
        let (store, recovery) = FileStore::open(dir.path()).expect("reopen");
        prop_assert!(recovery.damage.is_empty(), "{recovery:?}");
        check(&store, &model);
    }

    /// A clean close leaves an index snapshot: the next open uses it (reading only what
    /// came after), and the store is the same — also after more operations and a reopen
    /// without a close (the snapshot is gone by then and everything is replayed).
    #[test]
    fn file_store_reopens_from_its_snapshot(
        before in prop::collection::vec(op(), 1..60),
        after in prop::collection::vec(op(), 0..30),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) = FileStore::open(dir.path()).expect("open");
            for op in &before {
                apply(&mut store, &mut model, op);
            }
            store.close().expect("close");
        }
        {
            let (mut store, recovery) = FileStore::open(dir.path()).expect("reopen");
            prop_assert!(recovery.from_snapshot, "{recovery:?}");
            prop_assert!(recovery.damage.is_empty(), "{recovery:?}");
            check(&store, &model);
            for op in &after {
                apply(&mut store, &mut model, op);
            }
            store.sync().expect("sync");
        }
        let (store, recovery) = FileStore::open(dir.path()).expect("reopen again");
        prop_assert!(!recovery.from_snapshot, "{recovery:?}");
        check(&store, &model);
    }

    /// The same with every record encrypted; and the key is needed to read anything.
    #[test]
    fn encrypted_file_store_matches_the_model(
        ops in prop::collection::vec(op(), 1..60),
        aes in any::<bool>(),
    ) {
        let kind = if aes { CipherKind::Aes256Gcm } else { CipherKind::ChaCha20Poly1305 };
        let crypto = Arc::new(Crypto::new(kind, "the key"));
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) =
                FileStore::open_with(dir.path(), Some(crypto.clone())).expect("open");
            for op in &ops {
                apply(&mut store, &mut model, op);
            }
            check(&store, &model);
            store.sync().expect("sync");
        }
        {
            let (mut store, recovery) =
                FileStore::open_with(dir.path(), Some(crypto.clone())).expect("reopen");
            prop_assert!(recovery.damage.is_empty(), "{recovery:?}");
            check(&store, &model);
            store.close().expect("close");
        }
        let (store, recovery) =
            FileStore::open_with(dir.path(), Some(crypto)).expect("reopen from snapshot");
        prop_assert!(recovery.from_snapshot);
        check(&store, &model);
    }

    /// Small segments: many are created, and those whose messages are all gone are removed;
    /// the store still matches the model, reopened with and without its snapshot.
    #[test]
    fn many_small_segments_match_the_model(
        ops in prop::collection::vec(op(), 1..120),
        close in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) = FileStore::open(dir.path()).expect("open");
            store.set_segment_max(600);
            for op in &ops {
                apply(&mut store, &mut model, op);
            }
            check(&store, &model);
            if close {
                store.close().expect("close");
            } else {
                store.sync().expect("sync");
            }
        }
        let (mut store, recovery) = FileStore::open(dir.path()).expect("reopen");
        prop_assert!(recovery.damage.is_empty(), "{recovery:?}");
        prop_assert_eq!(recovery.from_snapshot, close, "a clean close is reopened from its snapshot");
        check(&store, &model);
        store.set_segment_max(600);
        for op in &ops {
            apply(&mut store, &mut model, op);
        }
        check(&store, &model);
    }

    /// Appends after a close grow the last segment the snapshot covers: the reopen reads
    /// only those.
    #[test]
    fn snapshot_then_appends_then_reopen(
        before in prop::collection::vec(op(), 1..40),
        after in prop::collection::vec(op(), 1..40),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) = FileStore::open(dir.path()).expect("open");
            for op in &before {
                apply(&mut store, &mut model, op);
            }
            store.close().expect("close");
            // Used again after close, as a stream that keeps running would.
            for op in &after {
                apply(&mut store, &mut model, op);
            }
            store.sync().expect("sync");
        }
        let (store, _) = FileStore::open(dir.path()).expect("reopen");
        check(&store, &model);
    }

    #[test]
    fn damage_is_detected_and_never_served(
        n in 1usize..40,
        cut in any::<prop::sample::Index>(),
        flip in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = Model::default();
        {
            let (mut store, _) = FileStore::open(dir.path()).expect("open");
            for i in 0..n {
                apply(&mut store, &mut model, &Op::Append { subject: (i % 5) as u8, payload: vec![i as u8; 50] });
            }
            store.sync().expect("sync");
        }
        let seg = std::fs::read_dir(dir.path()).expect("dir").filter_map(Result::ok)
            .map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "seg")).expect("a segment");
        let mut bytes = std::fs::read(&seg).expect("read");
        // Every record here is the same size; the file holds them, then zeros written ahead.
        let record = strom_store::record::HEADER_LEN + "orders.0".len() + 50;
        let data = n * record;
        prop_assert!(bytes[data..].iter().all(|&b| b == 0), "zeros after the records");
        let at = cut.index(data);
        if flip { bytes[at] ^= 0x10; } else { bytes.truncate(at); }
        std::fs::write(&seg, &bytes).expect("write");
        let (store, recovery) = FileStore::open(dir.path()).expect("opens despite damage");
        // A cut exactly between records leaves valid segments behind (only metadata kept
        // elsewhere could tell), anything else is caught.
        if flip || at % record != 0 {
            prop_assert!(!recovery.damage.is_empty(), "damage at {} reported", at);
        }
        // Whatever is served is exactly what was written; the rest is gone, never altered.
        let st = store.state();
        prop_assert!(st.msgs < n as u64);
        for seq in 1..=n as u64 {
            if let Some(m) = store.get(seq).expect("no damaged record is served") {
                let (s, p) = &model.msgs[&seq];
                prop_assert_eq!((&m.subject[..], &m.payload[..]), (s.as_bytes(), &p[..]));
            }
        }
    }
}

/// Zeros written ahead of the records are the clean end of the data; anything but zeros
/// after that end is reported, and every record before it is still served.
#[test]
fn the_zero_tail_ends_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        for _ in 0..10 {
            store.append(b"a", b"", b"payload", 1).expect("append");
        }
        store.sync().expect("sync");
    }
    let seg = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .expect("a segment");
    let (_, recovery) = FileStore::open(dir.path()).expect("reopen");
    assert!(recovery.damage.is_empty(), "{recovery:?}");
    let mut bytes = std::fs::read(&seg).expect("read");
    let len = bytes.len();
    bytes[len - 100] = 7;
    std::fs::write(&seg, &bytes).expect("write");
    let (store, recovery) = FileStore::open(dir.path()).expect("reopen");
    assert_eq!(recovery.damage.len(), 1, "{recovery:?}");
    assert_eq!(store.state().msgs, 10);
    for seq in 1..=10 {
        assert!(store.get(seq).expect("served").is_some());
    }
}

/// Deleting every message of a closed segment removes its file: trimming from the front
/// (max_msgs, max_age) frees space as it goes.
#[test]
fn emptied_segments_are_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seg_files = || {
        std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .count()
    };
    let (mut store, _) = FileStore::open(dir.path()).expect("open");
    store.set_segment_max(1000);
    for i in 0..200u64 {
        store.append(b"t", b"", &[7; 40], i as i64).expect("append");
        let limits = strom_store::Limits {
            max_msgs: Some(10),
            ..strom_store::Limits::default()
        };
        strom_store::enforce(&mut store, &limits, 0, None).expect("enforce");
    }
    store.sync().expect("sync");
    assert!(
        seg_files() <= 3,
        "{} segment files for 10 messages",
        seg_files()
    );
    assert_eq!(store.segment_count(), seg_files());
    drop(store);
    let (store, recovery) = FileStore::open(dir.path()).expect("reopen");
    assert!(recovery.damage.is_empty());
    let st = store.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (10, 191, 200));
}

/// Erasing overwrites the message where it is stored; the store reopens without damage.
#[test]
fn erased_messages_leave_no_trace_in_the_files() {
    for encrypted in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let crypto = encrypted.then(|| Arc::new(Crypto::new(CipherKind::Aes256Gcm, "k")));
        let contains = |needle: &[u8]| {
            std::fs::read_dir(dir.path())
                .expect("dir")
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                .any(|e| {
                    std::fs::read(e.path())
                        .expect("read")
                        .windows(needle.len())
                        .any(|w| w == needle)
                })
        };
        {
            let (mut store, _) = FileStore::open_with(dir.path(), crypto.clone()).expect("open");
            store.append(b"a", b"", b"keep me", 1).expect("append");
            store.append(b"a", b"", b"SECRET-ONE", 1).expect("append");
            store.sync().expect("sync");
            store.append(b"a", b"", b"SECRET-TWO", 1).expect("append");
            // One erased from the file, one still in the write buffer.
            assert!(store.erase(2).expect("erase"));
            assert!(store.erase(3).expect("erase"));
            assert!(!store.erase(3).expect("erase again"));
            store.sync().expect("sync");
            if !encrypted {
                assert!(contains(b"keep me"));
            }
            assert!(!contains(b"SECRET"));
        }
        let (store, recovery) = FileStore::open_with(dir.path(), crypto).expect("reopen");
        assert!(recovery.damage.is_empty(), "{recovery:?}");
        let st = store.state();
        assert_eq!((st.msgs, st.last_seq), (1, 3));
        assert_eq!(
            &store.get(1).expect("get").expect("held").payload[..],
            b"keep me"
        );
    }
}

/// With compression on, compressible payloads take less room and read back the same,
/// across reopening; incompressible and short ones are stored as they are.
#[test]
fn compressed_payloads_read_back_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let payload = |i: u64| -> Vec<u8> {
        match i % 3 {
            0 => format!("{i} ").repeat(500).into_bytes(),
            1 => (0..300u64).map(|k| (k * 7919 + i * 31) as u8).collect(),
            _ => b"short".to_vec(),
        }
    };
    let raw: usize = (0..60).map(|i| payload(i).len()).sum();
    {
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        store.set_compression(true);
        for i in 0..60u64 {
            store
                .append(b"c", b"", &payload(i), i as i64)
                .expect("append");
        }
        store.erase(4).expect("erase");
        store.delete(5).expect("delete");
        store.close().expect("close");
    }
    let data: usize = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .map(|e| {
            let b = std::fs::read(e.path()).expect("read");
            b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1)
        })
        .sum();
    assert!(
        data < raw / 2,
        "{data} bytes on disk for {raw} bytes of payload"
    );
    for snapshot in [true, false] {
        let (mut store, recovery) = FileStore::open(dir.path()).expect("reopen");
        assert_eq!(recovery.from_snapshot, snapshot);
        assert!(recovery.damage.is_empty());
        for i in 0..60u64 {
            let got = store.get(i + 1).expect("get");
            if i + 1 == 4 || i + 1 == 5 {
                assert!(got.is_none());
            } else {
                assert_eq!(
                    got.expect("held").payload.to_vec(),
                    payload(i),
                    "seq {}",
                    i + 1
                );
            }
        }
        store.sync().expect("sync");
    }
}

/// A crash after a purge's marker is durable but before the old files are gone (their
/// unlink lost): the old messages do not come back, and numbering continues.
#[test]
fn purged_messages_stay_gone_when_old_files_survive_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved: Vec<(std::path::PathBuf, Vec<u8>)>;
    {
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        store.set_segment_max(500);
        for i in 0..40u8 {
            store.append(b"p", b"", &[i; 30], 1).expect("append");
        }
        store.sync().expect("sync");
        saved = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .map(|p| {
                let b = std::fs::read(&p).expect("read");
                (p, b)
            })
            .collect();
        assert!(saved.len() > 1);
        assert_eq!(store.purge().expect("purge"), 40);
    }
    for (p, b) in &saved {
        std::fs::write(p, b).expect("old segment back");
    }
    let (mut store, recovery) = FileStore::open(dir.path()).expect("reopen");
    assert!(recovery.damage.is_empty(), "{recovery:?}");
    let st = store.state();
    assert_eq!((st.msgs, st.last_seq), (0, 40), "{st:?}");
    assert_eq!(store.append(b"p", b"", b"next", 1).expect("append"), 41);
    store.sync().expect("sync");
    let files = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .count();
    assert_eq!(files, 1, "the surviving old files are removed at open");
}

#[test]
fn sequences_continue_after_purge_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        for _ in 0..5 {
            store.append(b"a", b"", b"x", 1).expect("append");
        }
        assert_eq!(store.purge().expect("purge"), 5);
    }
    let (mut store, _) = FileStore::open(dir.path()).expect("reopen");
    assert_eq!(store.state().first_seq, 6);
    assert_eq!(store.append(b"a", b"", b"y", 2).expect("append"), 6);
}

/// The last message's time outlives its purge, across a crash (replay) and a clean close
/// (snapshot), as nats-server's `LastTime` does; memory stores keep it too.
#[test]
fn last_time_survives_purge_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        store.append(b"a", b"", b"x", 10).expect("append");
        store.append(b"a", b"", b"x", 20).expect("append");
        store.purge().expect("purge");
        assert_eq!(store.last_time(), 20);
        // Dropped without close: the next open replays the records.
    }
    let (mut store, _) = FileStore::open(dir.path()).expect("reopen after a crash");
    assert_eq!(store.last_time(), 20, "from the purge record");
    store.close().expect("close");
    drop(store);
    let (store, recovery) = FileStore::open(dir.path()).expect("reopen after a close");
    assert!(recovery.from_snapshot);
    assert_eq!(store.last_time(), 20, "from the snapshot");
    let mut mem = MemStore::new();
    mem.append(b"a", b"", b"x", 30).expect("append");
    mem.purge().expect("purge");
    assert_eq!(mem.last_time(), 30);
}

/// Jobs of several batches absorbed into one cover every segment any of them wrote, and the
/// removals they carry: what a commit thread does when batches queue up during an fsync.
#[test]
fn absorbed_sync_jobs_cover_every_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, _) = FileStore::open(dir.path()).expect("open");
    store.set_segment_max(1000);
    let mut job = store.begin_sync().expect("first job");
    for i in 0..100u64 {
        store.append(b"t", b"", &[7; 40], i as i64).expect("append");
        if i % 10 == 9 {
            let later = store.begin_sync().expect("later job");
            job.absorb(later);
        }
    }
    job.run().expect("one run of every job");
    let mut all = Vec::new();
    store.scan(0, &mut |seq, _| {
        all.push(seq);
        true
    });
    assert_eq!(all.len(), 100);
    drop(store);
    let (store, recovery) = FileStore::open(dir.path()).expect("reopen");
    assert!(recovery.damage.is_empty());
    assert_eq!(store.state().msgs, 100);
}
