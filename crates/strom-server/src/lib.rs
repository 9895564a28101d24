//! The Strom server: client connections, subject routing, limits, shutdown and lame duck mode.
//!
//! [`Server::bind`] opens the listener, [`Server::run`] accepts clients until a [`Controller`]
//! asks it to stop. Each connection is served by [`client`]; messages are routed through the
//! [`sublist::Sublist`].

pub mod account;
pub mod auth;
mod auth_pool;
pub mod client;
pub mod config;
pub mod error;
pub mod identity;
pub mod jetstream;
pub mod links;
pub mod log;
pub mod monitor;
pub mod options;
pub mod permissions;
mod reload;
mod rng;
pub mod server;
pub mod sublist;
pub mod subscription;
pub mod system;
pub mod tls;
pub mod transform;

pub use error::ServerError;
pub use options::Options;
pub use server::{Controller, RunState, Server, Shared};
