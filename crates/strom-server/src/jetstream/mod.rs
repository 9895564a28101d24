//! JetStream, first pieces: the stream configuration with nats-server's defaults and checks,
//! and the table of API errors. Streams are not served yet (issue #5); these types are what the
//! API layer will speak, pinned against nats-server's JSON now.

pub mod errors;
pub mod stream_config;
