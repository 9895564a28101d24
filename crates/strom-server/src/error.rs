//! Errors the server reports to whoever starts it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("error listening on port: {addr}, \"{source}\"")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("account imports: {0}")]
    Links(#[from] crate::links::LinkError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error("Can't start monitoring: {0}")]
    Monitor(String),
    #[error("could not write pid file {path}: {source}")]
    PidFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
