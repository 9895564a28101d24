//! One module per scenario. Each connects, runs its load, checks that the server delivered what
//! it should, and prints a [`crate::report::Report`].

pub mod conns;
pub mod consume;
pub mod fanout;
pub mod jetstream;
pub mod kv;
pub mod loginflood;
pub mod mirror;
pub mod objclient;
pub mod publish;
pub mod pubsub;
pub mod queue;
pub mod reqrep;
pub mod throughput;
