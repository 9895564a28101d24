//! The NATS client protocol, without I/O.
//!
//! [`parser`] turns bytes read from a client into [`ClientOp`]s (or reports how many more bytes it
//! needs), [`encode`] writes the frames the server sends (`MSG`, `HMSG`, `INFO`, `-ERR`), [`subject`]
//! validates subjects exactly as nats-server does, and [`wire`] holds the JSON shapes of `INFO` and
//! `CONNECT`. Nothing here touches a socket, so every split of a byte stream can be tested and fuzzed.

pub mod encode;
pub mod error;
pub mod headers;
pub mod ops;
pub mod parser;
pub mod subject;
pub mod wire;

pub use error::{ErrText, ProtoError};
pub use ops::ClientOp;
pub use parser::{parse, Limits, Parsed};
