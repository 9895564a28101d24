//! Subject routing micro-benchmarks: matching literal and wildcard subscriptions in a sublist
//! holding many subjects.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use strom_server::account::Account;
use strom_server::client::ClientHandle;
use strom_server::sublist::Sublist;
use strom_server::subscription::Subscription;

fn filled(n: usize) -> Sublist {
    let sl = Sublist::new();
    let client = Arc::new(ClientHandle::new(1, None, usize::MAX, None));
    let account = Arc::new(Account::new("bench"));
    for i in 0..n {
        let subject = format!("tenant{}.orders.{}.created", i % 100, i);
        sl.insert(Arc::new(Subscription::new(
            client.clone(),
            account.clone(),
            Bytes::from(subject),
            None,
            Bytes::from(i.to_string()),
        )));
    }
    for s in ["tenant7.orders.*.created", "tenant7.>", ">"] {
        sl.insert(Arc::new(Subscription::new(
            client.clone(),
            account.clone(),
            Bytes::from_static(s.as_bytes()),
            None,
            Bytes::from_static(b"w"),
        )));
    }
    sl
}

fn sublist_match(c: &mut Criterion) {
    let sl = filled(100_000);
    c.bench_function("sublist_match_literal_100k", |b| {
        b.iter(|| sl.matches(b"tenant3.orders.503.created"))
    });
    c.bench_function("sublist_match_wildcards_100k", |b| {
        b.iter(|| sl.matches(b"tenant7.orders.12345.created"))
    });
    c.bench_function("sublist_match_miss_100k", |b| {
        b.iter(|| sl.matches(b"nobody.listens.here"))
    });
}

criterion_group!(benches, sublist_match);
criterion_main!(benches);
