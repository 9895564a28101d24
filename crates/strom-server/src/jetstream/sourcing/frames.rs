//! What a mirror or source reads from its origin's deliveries: the fields of the ack reply
//! subject, control messages (idle heartbeats, flow-control requests), and the header edits
//! made before a message is stored.

/// The fields of a delivery's ack reply,
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`
/// (or the longer form with domain and account hash that nats-server also sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReply<'a> {
    pub consumer: &'a str,
    /// How many times the origin delivered this message.
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    /// The message's time at the origin, nanoseconds since the epoch.
    pub ts: i64,
    pub pending: u64,
}

/// Parses an ack reply subject; `None` when it is not one.
pub fn ack_reply(reply: &[u8]) -> Option<AckReply<'_>> {
    let s = std::str::from_utf8(reply).ok()?;
    let t: Vec<&str> = s.split('.').collect();
    if t.len() < 9 || t[0] != "$JS" || t[1] != "ACK" {
        return None;
    }
    // nats-server's `ackReplyInfo`: the v2 form (11 or more tokens) has the domain and the
    // account hash before the stream.
    let off = if t.len() == 9 { 2 } else { 4 };
    if t.len() < off + 7 {
        return None;
    }
    Some(AckReply {
        consumer: t[off + 1],
        delivered: t[off + 2].parse().ok()?,
        stream_seq: t[off + 3].parse().ok()?,
        consumer_seq: t[off + 4].parse().ok()?,
        ts: t[off + 5].parse().ok()?,
        pending: t[off + 6].parse().ok()?,
    })
}

/// A control message from the origin's consumer: empty payload, a `NATS/1.0 100` status.
pub fn is_control(headers: Option<&[u8]>, payload: &[u8]) -> bool {
    payload.is_empty() && headers.is_some_and(|h| h.starts_with(b"NATS/1.0 100"))
}

/// The headers a sourced message keeps: every line but those named `Nats-Expected-…` and
/// `Nats-Batch-…` (they were the origin's conditions) and, for a source, earlier
/// `Nats-Stream-Source` lines (a message sourced twice names only its last origin). Matched
/// case-sensitively at the start of a line, as nats-server does. `None` when nothing but
/// the version line would be left and the block had no lines to begin with.
pub fn strip(headers: &[u8], drop_source: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len());
    for (i, line) in headers.split_inclusive(|&b| b == b'\n').enumerate() {
        if i > 0
            && (line.starts_with(b"Nats-Expected-")
                || line.starts_with(b"Nats-Batch-")
                || (drop_source && line.starts_with(b"Nats-Stream-Source:")))
        {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// `Nats-Stream-Source`'s value: `<origin> <origin seq> <filter> <destination> <subject>`
/// and the origin's identity when known; the middle parts come from the source's index name.
pub fn source_header(iname: &str, seq: u64, subject: &[u8], ident: &str) -> Vec<u8> {
    let mut parts = iname.split(' ');
    let name = parts.next().unwrap_or("");
    let src = parts.next().unwrap_or(">");
    let dest = parts.next().unwrap_or(">");
    let mut v = format!("{name} {seq} {src} {dest} ").into_bytes();
    v.extend_from_slice(subject);
    if !ident.is_empty() {
        v.push(b' ');
        v.extend_from_slice(ident.as_bytes());
    }
    v
}

/// Parses `Nats-Stream-Source`: the source's index name, the origin sequence and identity.
/// nats-server's `streamAndSeq` for the forms Strom writes (four or more fields).
pub fn parse_source_header(v: &[u8]) -> Option<(String, u64, String)> {
    let s = std::str::from_utf8(v).ok()?;
    let f: Vec<&str> = s.split(' ').collect();
    if f.len() < 4 {
        return None;
    }
    let seq = f[1].parse().ok()?;
    let iname = format!("{} {} {}", f[0], f[2], f[3]);
    let ident = f.get(5).map(|s| s.to_string()).unwrap_or_default();
    Some((iname, seq, ident))
}

/// The value of a heartbeat's header as a number.
pub fn header_u64(headers: &[u8], name: &[u8]) -> Option<u64> {
    std::str::from_utf8(strom_proto::headers::get(headers, name)?)
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_replies_of_both_forms() {
        let a = ack_reply(b"$JS.ACK.ORIGIN.JS_SRC_Jr5Dr9Zo-FzNfNSgw.1.3.2.1795468606819273468.1")
            .expect("v1");
        assert_eq!(a.consumer, "JS_SRC_Jr5Dr9Zo-FzNfNSgw");
        assert_eq!(
            (a.delivered, a.stream_seq, a.consumer_seq, a.pending),
            (1, 3, 2, 1)
        );
        assert_eq!(a.ts, 1_795_468_606_819_273_468);
        let b = ack_reply(b"$JS.ACK.hub.ACCHASH.ORIGIN.C.2.9.8.100.0.token").expect("v2");
        assert_eq!((b.consumer, b.delivered, b.stream_seq), ("C", 2, 9));
        assert!(ack_reply(b"$JS.ACK.ORIGIN.C.1.x.2.3.4").is_none());
        assert!(ack_reply(b"_INBOX.abc").is_none());
    }

    #[test]
    fn stripping_keeps_other_headers_in_order() {
        let h = b"NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Expected-Last-Sequence: 0\r\nFoo: bar\r\nNats-Stream-Source: X 1 > > a\r\nNats-Batch-Id: b\r\n\r\n";
        assert_eq!(
            strip(h, true),
            b"NATS/1.0\r\nNats-Msg-Id: m1\r\nFoo: bar\r\n\r\n".to_vec()
        );
        assert_eq!(
            strip(h, false),
            b"NATS/1.0\r\nNats-Msg-Id: m1\r\nFoo: bar\r\nNats-Stream-Source: X 1 > > a\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn source_headers_as_nats_server_writes_them() {
        assert_eq!(
            source_header("ORIGIN o.a.> >", 1, b"o.a.1", "o3a1sMPt"),
            b"ORIGIN 1 o.a.> > o.a.1 o3a1sMPt".to_vec()
        );
        assert_eq!(
            source_header("O2 > >", 4, b"o2.x", ""),
            b"O2 4 > > o2.x".to_vec()
        );
        assert_eq!(
            parse_source_header(b"TT 1 tt.a\x0ctt.b x.a\x0c> tt.a DXtD7g9C"),
            Some(("TT tt.a\x0ctt.b x.a\x0c>".into(), 1, "DXtD7g9C".into()))
        );
        assert_eq!(parse_source_header(b"A 1 >"), None);
    }
}
