//! Fuzzes the client protocol parser: arbitrary bytes, cut into arbitrary reads, must never
//! panic, must make progress on every operation, and must parse the same whole or in pieces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strom_proto::{parse, ClientOp, Limits, Parsed};

fn describe(op: &ClientOp<'_>) -> String {
    format!("{op:?}")
}

/// Parses like a connection reader: append each chunk, consume complete operations, keep the
/// rest. Stops at the first error, returning the operations seen and whether an error ended it.
fn run(chunks: &[&[u8]], limits: &Limits) -> (Vec<String>, bool) {
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            match parse(&buf[pos..], limits) {
                Ok(Parsed::Op(op, used)) => {
                    assert!(used > 0 && pos + used <= buf.len());
                    ops.push(describe(&op));
                    pos += used;
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(_) => return (ops, true),
            }
        }
        buf.drain(..pos);
    }
    (ops, false)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // First byte picks the cut size, the rest is the stream.
    let cut = usize::from(data[0]) + 1;
    let stream = &data[1..];
    let limits = Limits { max_control_line: 256, max_payload: 4096 };
    let (whole, whole_err) = run(&[stream], &limits);
    let pieces: Vec<&[u8]> = stream.chunks(cut).collect();
    let (split, split_err) = run(&pieces, &limits);
    assert_eq!(whole, split);
    assert_eq!(whole_err, split_err);
});
