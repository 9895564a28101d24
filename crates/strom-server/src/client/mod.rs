//! One client connection: its shared handle (outbound buffer, subscriptions), the reader that
//! parses and dispatches what the client sends, and the writer that drains the outbound buffer.
//!
//! Lock order: a client's `subs` map, then the account's sublist, then any client's outbound
//! state. No lock is held across an `.await`.

mod close;
mod closed;
mod connect;
mod deliver;
mod handle;
mod outbound;
mod reader;
mod responses;
mod socket;
mod trace;
mod writer;

pub use close::CloseReason;
pub use closed::{ClosedConn, ClosedRing, SubSnapshot};
pub(crate) use deliver::{publish_from_server, Frame, ServerBatch};
pub use handle::ClientHandle;
pub use outbound::{Outbound, Push};
pub(crate) use reader::serve;
pub use socket::Socket;
