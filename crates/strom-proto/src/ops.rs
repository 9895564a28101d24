//! The operations a client sends, borrowing from the read buffer.

/// One client operation. Slices borrow from the buffer given to [`crate::parse`], so a reader can
/// route a message without copying it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`: the raw JSON, parsed by the server with [`crate::wire::ConnectOptions`].
    Connect(&'a [u8]),
    /// `PUB` (headers empty) or `HPUB` (`headers` holds the header block including its final CRLF).
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        /// The header block, `NATS/1.0…\r\n\r\n`; `None` for a plain PUB.
        headers: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`.
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `INFO`, `+OK`: accepted and ignored, as nats-server does for clients.
    Ignored,
}

impl ClientOp<'_> {
    /// The protocol name, for trace logs.
    pub fn name(&self) -> &'static str {
        match self {
            ClientOp::Connect(_) => "CONNECT",
            ClientOp::Pub { headers: None, .. } => "PUB",
            ClientOp::Pub { .. } => "HPUB",
            ClientOp::Sub { .. } => "SUB",
            ClientOp::Unsub { .. } => "UNSUB",
            ClientOp::Ping => "PING",
            ClientOp::Pong => "PONG",
            ClientOp::Ignored => "IGNORED",
        }
    }
}
