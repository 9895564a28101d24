//! Storage engine micro-benchmarks: append, group commit (one fsync per batch), read by
//! sequence and last-by-subject.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use strom_store::{FileStore, MemStore, Store};

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_append");
    group.throughput(Throughput::Elements(1000));
    for size in [16usize, 1024] {
        let payload = vec![b'x'; size];
        group.bench_function(format!("memory_{size}b"), |b| {
            b.iter_batched(
                MemStore::new,
                |mut s| {
                    for i in 0..1000u32 {
                        s.append(format!("orders.{}", i % 64).as_bytes(), b"", &payload, 1)
                            .expect("append");
                    }
                },
                BatchSize::SmallInput,
            )
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        group.bench_function(format!("file_{size}b_no_sync"), |b| {
            b.iter(|| {
                for i in 0..1000u32 {
                    store
                        .append(format!("orders.{}", i % 64).as_bytes(), b"", &payload, 1)
                        .expect("append");
                }
                store.purge().expect("purge keeps the file small");
            })
        });
    }
    group.finish();
}

/// Group commit: 1000 appends durable with one fsync per batch of `batch`.
fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_group_commit");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    for batch in [1usize, 10, 100, 1000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut store, _) = FileStore::open(dir.path()).expect("open");
        group.bench_function(format!("fsync_every_{batch}"), |b| {
            b.iter(|| {
                for i in 0..1000usize {
                    store
                        .append(b"orders.x", b"", &[b'x'; 128], 1)
                        .expect("append");
                    if (i + 1) % batch == 0 {
                        store.sync().expect("sync");
                    }
                }
            })
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, _) = FileStore::open(dir.path()).expect("open");
    for i in 0..100_000u32 {
        store
            .append(
                format!("orders.{}", i % 1000).as_bytes(),
                b"",
                &[b'x'; 128],
                1,
            )
            .expect("append");
    }
    store.sync().expect("sync");
    let mut seq = 0u64;
    c.bench_function("store_get_by_seq_file", |b| {
        b.iter(|| {
            seq = seq % 100_000 + 1;
            store.get(seq).expect("get").expect("held")
        })
    });
    c.bench_function("store_last_by_subject_file", |b| {
        b.iter(|| {
            store
                .last_by_subject(b"orders.517")
                .expect("get")
                .expect("held")
        })
    });
}

criterion_group!(benches, append, group_commit, read);
criterion_main!(benches);
