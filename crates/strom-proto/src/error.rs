//! Parser errors and the `-ERR` texts a client can see.
//!
//! Every text here was captured from nats-server 2.15.1 (see `tests/reference_texts.rs` and the
//! differential tests in the `strom` crate); clients match on some of them, so they must not drift.

use thiserror::Error;

/// A protocol error that ends the client's connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    /// The operation name is not one the client protocol knows, or a frame is malformed in a way
    /// nats-server's parser reports as an unknown operation (for example a payload not followed by
    /// CRLF).
    #[error("unknown protocol operation")]
    UnknownOp,
    /// No line end within `max_control_line` bytes.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// A PUB or HPUB announced more bytes than `max_payload`.
    #[error("maximum payload violation: {size} > {max}")]
    MaxPayload { size: usize, max: usize },
    /// The arguments of an operation could not be parsed. nats-server closes the connection
    /// without sending `-ERR` in this case; so do we.
    #[error("invalid arguments for {op}")]
    BadArgs { op: &'static str },
    /// The client sent `-ERR`: nats-server treats that as the end of the conversation.
    #[error("client sent -ERR")]
    ClientErr,
}

impl ProtoError {
    /// The `-ERR` text nats-server sends before closing, if it sends one.
    pub fn err_text(&self) -> Option<ErrText> {
        match self {
            ProtoError::UnknownOp => Some(ErrText::UnknownOp),
            ProtoError::MaxControlLine => Some(ErrText::MaxControlLine),
            ProtoError::MaxPayload { .. } => Some(ErrText::MaxPayload),
            ProtoError::BadArgs { .. } | ProtoError::ClientErr => None,
        }
    }
}

/// The `-ERR '…'` texts of nats-server, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrText {
    UnknownOp,
    MaxControlLine,
    MaxPayload,
    InvalidSubject,
    InvalidPublishSubject,
    MaxConnections,
    AuthorizationViolation,
    AuthenticationTimeout,
    SlowConsumer,
    StaleConnection,
    NoRespondersRequiresHeaders,
}

impl ErrText {
    /// The quoted text, without `-ERR ` and the line end.
    pub const fn text(self) -> &'static str {
        match self {
            ErrText::UnknownOp => "Unknown Protocol Operation",
            ErrText::MaxControlLine => "maximum control line exceeded",
            ErrText::MaxPayload => "Maximum Payload Violation",
            ErrText::InvalidSubject => "Invalid Subject",
            ErrText::InvalidPublishSubject => "Invalid Publish Subject",
            ErrText::MaxConnections => "maximum connections exceeded",
            ErrText::AuthorizationViolation => "Authorization Violation",
            ErrText::AuthenticationTimeout => "Authentication Timeout",
            ErrText::SlowConsumer => "Slow Consumer",
            ErrText::StaleConnection => "Stale Connection",
            ErrText::NoRespondersRequiresHeaders => "no responders requires headers support",
        }
    }

    /// Whether nats-server closes the connection after sending this error.
    pub const fn closes(self) -> bool {
        !matches!(
            self,
            ErrText::InvalidSubject | ErrText::InvalidPublishSubject
        )
    }

    /// The whole line: `-ERR '<text>'\r\n`.
    pub fn line(self) -> Vec<u8> {
        format!("-ERR '{}'\r\n", self.text()).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_nats_server_bytes() {
        assert_eq!(
            ErrText::UnknownOp.line(),
            b"-ERR 'Unknown Protocol Operation'\r\n"
        );
        assert_eq!(
            ErrText::MaxControlLine.line(),
            b"-ERR 'maximum control line exceeded'\r\n"
        );
        assert_eq!(
            ErrText::MaxPayload.line(),
            b"-ERR 'Maximum Payload Violation'\r\n"
        );
        assert_eq!(
            ErrText::MaxConnections.line(),
            b"-ERR 'maximum connections exceeded'\r\n"
        );
        assert_eq!(
            ErrText::StaleConnection.line(),
            b"-ERR 'Stale Connection'\r\n"
        );
        assert_eq!(
            ErrText::AuthorizationViolation.line(),
            b"-ERR 'Authorization Violation'\r\n"
        );
        assert!(!ErrText::InvalidSubject.closes());
        assert!(ErrText::SlowConsumer.closes());
    }
}
