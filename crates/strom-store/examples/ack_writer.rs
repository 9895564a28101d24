//! A writer for the kill -9 durability test: appends messages in batches, syncs each batch,
//! and only then prints the batch's sequences ("acknowledges" them), forever. The test kills it
//! at a random moment and checks that every acknowledged message is in the store.

use std::io::Write;

use strom_store::{FileStore, Store};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: ack_writer DIR");
    let (mut store, _) = FileStore::open(&dir).expect("open");
    let mut out = std::io::stdout().lock();
    let mut n: u64 = store.state().last_seq;
    loop {
        let mut batch = Vec::new();
        for _ in 0..(1 + n % 50) {
            n += 1;
            let payload = format!("payload-{n}-{}", "x".repeat((n % 300) as usize));
            let seq = store
                .append(
                    format!("dur.{}", n % 7).as_bytes(),
                    b"",
                    payload.as_bytes(),
                    n as i64,
                )
                .expect("append");
            assert_eq!(seq, n);
            batch.push(seq);
        }
        store.sync().expect("sync");
        for seq in batch {
            writeln!(out, "{seq}").expect("stdout");
        }
        out.flush().expect("stdout");
    }
}
