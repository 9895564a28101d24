//! The nats-server configuration language, as nats-server 2.15 reads it.
//!
//! Two layers: [`parse_file`] / [`parse_str`] turn text into a [`Map`] of [`Value`]s, each
//! knowing its file, line and column; [`ServerConfig::from_map`] maps that tree onto typed
//! options and refuses what nats-server refuses, naming `file:line:col` and what to do.
//! No other Strom crate is used here.

mod auth;
mod blocks;
mod duration;
mod error;
mod fields;
mod jetstream;
mod lexer;
mod options;
mod parser;
mod suggest;
mod value;

pub use auth::{Authorization, User};
pub use duration::parse_duration;
pub use error::{ConfError, ConfWarning};
pub use fields::HostPort;
pub use jetstream::{Cipher, JetStream, SyncInterval};
pub use options::{
    LogFormat, ServerConfig, DEFAULT_LAME_DUCK_DURATION, DEFAULT_MAX_PENDING,
    MIN_LAME_DUCK_DURATION,
};
pub use parser::{parse_file, parse_file_with_env, parse_str, parse_str_with_env, process_env};
pub use value::{Entry, Map, Position, Value, ValueKind};
