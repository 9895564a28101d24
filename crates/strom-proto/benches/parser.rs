//! Parser and encoder micro-benchmarks: how fast a read buffer full of PUBs becomes operations,
//! and how fast MSG frames are written.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use strom_proto::encode::write_msg;
use strom_proto::{parse, Limits, Parsed};

fn pub_stream(size: usize, count: usize) -> Vec<u8> {
    let payload = vec![b'x'; size];
    let mut out = Vec::new();
    for _ in 0..count {
        out.extend_from_slice(format!("PUB bench.subject.{size} {size}\r\n").as_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn parse_pub(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_pub");
    for size in [16usize, 128, 1024] {
        let stream = pub_stream(size, 1000);
        group.throughput(Throughput::Elements(1000));
        group.bench_with_input(BenchmarkId::from_parameter(size), &stream, |b, stream| {
            let limits = Limits::default();
            b.iter(|| {
                let mut pos = 0;
                let mut n = 0;
                while let Ok(Parsed::Op(_, used)) = parse(&stream[pos..], &limits) {
                    pos += used;
                    n += 1;
                }
                assert_eq!(n, 1000);
            });
        });
    }
    group.finish();
}

fn encode_msg(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_msg");
    for size in [16usize, 128, 1024] {
        let payload = vec![b'x'; size];
        group.throughput(Throughput::Elements(1000));
        group.bench_with_input(BenchmarkId::from_parameter(size), &payload, |b, payload| {
            let mut out = BytesMut::with_capacity(2 << 20);
            b.iter(|| {
                out.clear();
                for _ in 0..1000 {
                    write_msg(
                        &mut out,
                        b"bench.subject",
                        b"42",
                        Some(b"_INBOX.abc"),
                        None,
                        payload,
                    );
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, parse_pub, encode_msg);
criterion_main!(benches);
