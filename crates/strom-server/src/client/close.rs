//! Why a connection ends, and whether what is queued for it is still sent first.

use strom_proto::ErrText;

/// Why the server closed (or is closing) a connection; nats-server's `ClosedState` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    /// A protocol error; the `-ERR` line (if any) is already queued.
    ProtocolViolation,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    AuthenticationViolation,
    AuthenticationTimeout,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    MaxConnectionsExceeded,
    WriteError,
    ReadError,
    ServerShutdown,
    LameDuckMode,
}

impl CloseReason {
    /// Why a connection closes after this `-ERR`, in nats-server's terms.
    pub fn for_err(err: ErrText) -> CloseReason {
        match err {
            ErrText::MaxPayload => CloseReason::MaxPayloadExceeded,
            ErrText::MaxControlLine => CloseReason::MaxControlLineExceeded,
            ErrText::AuthorizationViolation => CloseReason::AuthenticationViolation,
            ErrText::AuthenticationTimeout => CloseReason::AuthenticationTimeout,
            ErrText::StaleConnection => CloseReason::StaleConnection,
            ErrText::MaxConnections => CloseReason::MaxConnectionsExceeded,
            _ => CloseReason::ProtocolViolation,
        }
    }

    /// Whether the bytes already queued are written before the socket closes. A slow consumer's
    /// backlog is dropped: writing it is what it could not keep up with.
    pub fn flushes(self) -> bool {
        !matches!(
            self,
            CloseReason::SlowConsumerPendingBytes
                | CloseReason::SlowConsumerWriteDeadline
                | CloseReason::WriteError
        )
    }

    /// The `-ERR` nats-server sends for this reason, if it sends one at close time.
    pub fn err_text(self) -> Option<ErrText> {
        match self {
            CloseReason::AuthenticationViolation => Some(ErrText::AuthorizationViolation),
            CloseReason::AuthenticationTimeout => Some(ErrText::AuthenticationTimeout),
            CloseReason::StaleConnection => Some(ErrText::StaleConnection),
            CloseReason::MaxConnectionsExceeded => Some(ErrText::MaxConnections),
            _ => None,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::LameDuckMode => "Lame Duck Mode",
        };
        f.write_str(s)
    }
}
