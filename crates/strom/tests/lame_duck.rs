//! Lame duck mode: a server going away tells its clients, stops accepting, and closes them
//! gradually so they reconnect elsewhere.

mod common;

use std::time::Duration;

use async_nats::{Event, ServerAddr};
use bytes::Bytes;
use common::{Raw, ServerProcess, CONNECT};
use futures::StreamExt;

const LDM_CONFIG: &str = "lame_duck_grace_period: \"200ms\"\nlame_duck_duration: \"30s\"\n";

#[tokio::test]
async fn clients_reconnect_elsewhere_when_a_server_enters_lame_duck_mode() {
    let mut leaving = ServerProcess::strom_with_config(LDM_CONFIG, &[]);
    let staying = ServerProcess::strom(&[]);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let addrs: Vec<ServerAddr> = vec![
        leaving.url().parse().expect("url"),
        staying.url().parse().expect("url"),
    ];
    let client = async_nats::ConnectOptions::new()
        .retain_servers_order()
        .event_callback(move |e| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(e);
            }
        })
        .connect(addrs)
        .await
        .expect("connect");
    let mut sub = client.subscribe("ldm.test").await.expect("sub");
    common::sync(&client).await;
    assert_eq!(
        client.server_info().port,
        leaving.port,
        "connected to the first server"
    );

    leaving.signal("USR2");
    leaving.wait_for_log("Entering lame duck mode", Duration::from_secs(5));
    let mut saw_ldm = false;
    let mut reconnected = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(saw_ldm && reconnected) {
        let e = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("events arrive in time")
            .expect("event channel open");
        match e {
            Event::LameDuckMode => saw_ldm = true,
            Event::Connected if saw_ldm => reconnected = true,
            _ => {}
        }
    }
    assert_eq!(
        client.server_info().port,
        staying.port,
        "moved to the other server"
    );
    // The subscription came along: a message published on the other server arrives.
    let publisher = async_nats::connect(staying.url()).await.expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        publisher
            .publish("ldm.test", Bytes::from_static(b"hi"))
            .await
            .expect("publish");
        common::sync(&publisher).await;
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            assert_eq!(&m.payload[..], b"hi");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "resubscribed on the new server"
        );
    }
}

#[test]
fn lame_duck_server_stops_accepting_and_announces_ldm() {
    let mut server = ServerProcess::strom_with_config(LDM_CONFIG, &[]);
    let mut raw = Raw::connect(&server.addr());
    raw.exchange(CONNECT);
    server.signal("USR2");
    server.wait_for_log("Entering lame duck mode", Duration::from_secs(5));
    let mut saw_ldm = false;
    loop {
        let line = raw.read_line();
        if line.is_empty() {
            break;
        }
        if line.starts_with("INFO ") && line.contains("\"ldm\":true") {
            saw_ldm = true;
        }
    }
    assert!(saw_ldm, "INFO with ldm before the close");
    assert!(
        std::net::TcpStream::connect(server.addr()).is_err(),
        "no longer accepting"
    );
}
