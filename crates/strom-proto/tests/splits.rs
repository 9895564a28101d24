//! Property: however a valid byte stream is cut into reads, the parser yields the same
//! operations as when it sees the whole stream at once.

use proptest::prelude::*;
use strom_proto::{parse, ClientOp, Limits, Parsed};

/// An owned copy of an operation, so results from different buffers can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Connect(Vec<u8>),
    Pub(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<u64>),
    Ping,
    Pong,
    Ignored,
}

fn own(op: &ClientOp<'_>) -> Owned {
    match op {
        ClientOp::Connect(j) => Owned::Connect(j.to_vec()),
        ClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        } => Owned::Pub(
            subject.to_vec(),
            reply.map(<[u8]>::to_vec),
            headers.map(<[u8]>::to_vec),
            payload.to_vec(),
        ),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => Owned::Sub(subject.to_vec(), queue.map(<[u8]>::to_vec), sid.to_vec()),
        ClientOp::Unsub { sid, max } => Owned::Unsub(sid.to_vec(), *max),
        ClientOp::Ping => Owned::Ping,
        ClientOp::Pong => Owned::Pong,
        ClientOp::Ignored => Owned::Ignored,
    }
}

/// Feeds `chunks` one after another the way a connection reader does: append, parse what is
/// complete, keep the rest.
fn parse_in_chunks(chunks: &[&[u8]]) -> Vec<Owned> {
    let limits = Limits::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut pos = 0;
        while let Ok(Parsed::Op(op, used)) = parse(&buf[pos..], &limits) {
            ops.push(own(&op));
            pos += used;
        }
        buf.drain(..pos);
    }
    assert!(buf.is_empty(), "a valid stream leaves nothing behind");
    ops
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

fn op_bytes() -> impl Strategy<Value = Vec<u8>> {
    let payload = prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        (subject(), payload.clone()).prop_map(|(s, p)| {
            let mut v = format!("PUB {s} {}\r\n", p.len()).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subject(), subject(), payload.clone()).prop_map(|(s, r, p)| {
            let mut v = format!("pub {s} {r} {}\r\n", p.len()).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subject(), "[a-z]{1,5}", payload).prop_map(|(s, hv, p)| {
            let hdr = format!("NATS/1.0\r\nX-K: {hv}\r\n\r\n");
            let mut v = format!("HPUB {s} {} {}\r\n", hdr.len(), hdr.len() + p.len()).into_bytes();
            v.extend_from_slice(hdr.as_bytes());
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subject(), prop::option::of(token()), 1u32..1000).prop_map(|(s, q, sid)| match q {
            Some(q) => format!("SUB {s} {q} {sid}\r\n").into_bytes(),
            None => format!("SUB {s} {sid}\r\n").into_bytes(),
        }),
        (1u32..1000, prop::option::of(0u64..10)).prop_map(|(sid, max)| match max {
            Some(m) => format!("UNSUB {sid} {m}\r\n").into_bytes(),
            None => format!("UNSUB {sid}\r\n").into_bytes(),
        }),
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":false,\"name\":\"a b\"}\r\n".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_parses_to_the_same_operations(
        ops in prop::collection::vec(op_bytes(), 1..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = ops.concat();
        let whole = parse_in_chunks(&[&stream]);
        prop_assert_eq!(whole.len(), ops.len());
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&stream[last..p]);
            last = p;
        }
        chunks.push(&stream[last..]);
        prop_assert_eq!(parse_in_chunks(&chunks), whole.clone());
        // And byte by byte, the worst case.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(parse_in_chunks(&bytes), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits { max_control_line: 64, max_payload: 128 };
        let mut pos = 0;
        while let Ok(Parsed::Op(_, used)) = parse(&data[pos..], &limits) {
            prop_assert!(used > 0);
            pos += used;
        }
    }
}
