//! The object store through the real `strom` binary with async-nats: chunked puts and gets
//! with their digests, info, list, replace, delete, watch, links, metadata updates, status and
//! sealing. Every test also runs against nats-server (`STROM_TEST_AGAINST_REFERENCE=1`).

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, object_store};
use common::{ServerProcess, TempDir};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

async fn start() -> (ServerProcess, TempDir, jetstream::Context) {
    let dir = TempDir::new("objects");
    let store = dir.0.to_str().expect("utf-8 path").to_string();
    let server = ServerProcess::strom(&["-js", "-sd", &store]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    (server, dir, jetstream::new(client))
}

/// Bytes that are not all alike, so chunks differ.
fn data(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn read_all(store: &object_store::ObjectStore, name: &str) -> Vec<u8> {
    let mut obj = store.get(name).await.expect("get");
    let mut out = Vec::new();
    obj.read_to_end(&mut out)
        .await
        .expect("read (digest checked)");
    out
}

#[tokio::test]
async fn put_get_list_replace_delete() {
    let (_server, _dir, js) = start().await;
    let store = js
        .create_object_store(object_store::Config {
            bucket: "FILES".into(),
            description: Some("files".into()),
            ..Default::default()
        })
        .await
        .expect("bucket");
    let big = data(3 * 1024 * 1024 + 12_345);
    let info = store
        .put("big.bin", &mut big.as_slice())
        .await
        .expect("put");
    assert_eq!(info.size, big.len());
    assert_eq!(info.chunks, big.len().div_ceil(128 * 1024));
    assert_eq!(read_all(&store, "big.bin").await, big);
    let small = b"hello".to_vec();
    store
        .put(
            object_store::ObjectMetadata {
                name: "small.txt".into(),
                description: Some("greeting".into()),
                ..Default::default()
            },
            &mut small.as_slice(),
        )
        .await
        .expect("put small");
    let info = store.info("small.txt").await.expect("info");
    assert_eq!(
        (info.size, info.description.as_deref()),
        (5, Some("greeting"))
    );

    let mut names: Vec<String> = store
        .list()
        .await
        .expect("list")
        .map(|o| o.expect("object").name)
        .collect()
        .await;
    names.sort();
    assert_eq!(names, ["big.bin", "small.txt"]);

    // Replacing an object drops its old chunks.
    let replacement = data(1000);
    store
        .put("big.bin", &mut replacement.as_slice())
        .await
        .expect("replace");
    assert_eq!(read_all(&store, "big.bin").await, replacement);
    let mut stream = js.get_stream("OBJ_FILES").await.expect("stream");
    let st = stream.info().await.expect("info").state.clone();
    // One chunk each and the two metadata messages.
    assert_eq!(st.messages, 4, "{st:?}");

    store.delete("small.txt").await.expect("delete");
    assert!(
        store.get("small.txt").await.is_err(),
        "a deleted object is gone"
    );
    let names: Vec<String> = store
        .list()
        .await
        .expect("list")
        .map(|o| o.expect("object").name)
        .collect()
        .await;
    assert_eq!(names, ["big.bin"]);
}

#[tokio::test]
async fn watch_links_metadata_and_seal() {
    let (_server, _dir, js) = start().await;
    let mut store = js
        .create_object_store(object_store::Config {
            bucket: "DOCS".into(),
            ..Default::default()
        })
        .await
        .expect("bucket");
    let other = js
        .create_object_store(object_store::Config {
            bucket: "OTHER".into(),
            ..Default::default()
        })
        .await
        .expect("bucket");
    let mut watch = store.watch().await.expect("watch");
    store
        .put("a.txt", &mut b"first".as_slice())
        .await
        .expect("put");
    let seen = tokio::time::timeout(Duration::from_secs(2), watch.next())
        .await
        .expect("in time")
        .expect("the watch goes on")
        .expect("info");
    assert_eq!(seen.name, "a.txt");

    // Links to an object and to a bucket.
    let a = store.info("a.txt").await.expect("info");
    let link = other.add_link("to-a", &a).await.expect("link");
    assert!(link.options.and_then(|o| o.link).is_some(), "a link");
    let got = read_all(&other, "to-a").await;
    assert_eq!(got, b"first");
    other
        .add_bucket_link("docs", "DOCS")
        .await
        .expect("bucket link");

    // Metadata updates, a rename among them.
    store
        .update_metadata(
            "a.txt",
            object_store::UpdateMetadata {
                name: "b.txt".into(),
                description: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    let b = store.info("b.txt").await.expect("info");
    assert_eq!(b.description.as_deref(), Some("renamed"));
    assert!(store.info("a.txt").await.is_err(), "the old name is gone");
    assert_eq!(read_all(&store, "b.txt").await, b"first");

    // Sealed: reads go on, writes are refused.
    store.seal().await.expect("seal");
    assert_eq!(read_all(&store, "b.txt").await, b"first");
    assert!(
        store.put("c.txt", &mut b"no".as_slice()).await.is_err(),
        "a sealed bucket takes no objects"
    );
}
