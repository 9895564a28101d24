//! TLS for client connections, with rustls: the server certificate and key, optional client
//! certificate verification against a CA (mTLS), and the handshake timeout.
//!
//! As nats-server does, the server sends its INFO in plain text (announcing `tls_required`) and
//! the client then starts the handshake; with `handshake_first` the handshake comes before
//! anything else. A client that does not start TLS is closed when the handshake fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// The `tls {}` block (or `--tls*` flags).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// CA bundle for verifying client certificates.
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// How long a handshake may take (nats-server's default is 2 s).
    pub timeout: Duration,
    /// Handshake before the server sends INFO.
    pub handshake_first: bool,
    /// `verify_and_map`: the verified client certificate names the user.
    pub map_users: bool,
}

impl TlsOptions {
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> Self {
        TlsOptions {
            cert_file,
            key_file,
            ca_file: None,
            verify: false,
            timeout: Duration::from_secs(2),
            handshake_first: false,
            map_users: false,
        }
    }
}

/// Why a TLS setup could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("error parsing X509 certificate/key pair: {path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("no certificate found in {0}")]
    NoCertificate(PathBuf),
    #[error("tls: verify requires ca_file with the certificates that sign client certificates")]
    VerifyWithoutCa,
    #[error("invalid TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("invalid client certificate authorities: {0}")]
    Verifier(String),
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// Builds the rustls configuration, reading the files now so that a bad path or key is reported
/// at start-up.
///
/// # Errors
/// A [`TlsError`] naming the file that could not be used.
pub fn server_config(o: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&o.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&o.key_file).map_err(|e| TlsError::Pem {
        path: o.key_file.clone(),
        reason: e.to_string(),
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if o.verify {
        let ca = o.ca_file.as_ref().ok_or(TlsError::VerifyWithoutCa)?;
        let mut roots = RootCertStore::empty();
        for c in certs(ca)? {
            roots.add(c)?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(builder.with_single_cert(chain, key)?))
}

/// The HTTPS monitoring port's configuration: the client port's certificate, never asking
/// for a client certificate (nats-server's monitoring port does not either).
///
/// # Errors
/// As [`server_config`].
pub fn monitoring_config(o: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let mut o = o.clone();
    o.verify = false;
    let config = server_config(&o)?;
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS version and cipher suite a connection negotiated, named as Go's `crypto/tls`
/// names them (`1.3`, `TLS_AES_128_GCM_SHA256`), which is what nats-server's `/connz` shows.
pub fn negotiated(conn: &rustls::ServerConnection) -> Option<(String, String)> {
    let version = match conn.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => "1.3",
        rustls::ProtocolVersion::TLSv1_2 => "1.2",
        _ => "unknown",
    };
    let suite = conn.negotiated_cipher_suite()?.suite();
    let name = suite.as_str().unwrap_or("unknown");
    // rustls prefixes TLS 1.3 suites with TLS13_; Go names them TLS_.
    let name = name
        .strip_prefix("TLS13_")
        .map_or_else(|| name.to_string(), |rest| format!("TLS_{rest}"));
    Some((version.to_string(), name))
}

/// The names a client certificate offers for `verify_and_map`, in nats-server's order: email
/// SANs, DNS SANs, then the subject as an RFC 2253 string (`CN=…,O=…`, most specific first).
pub fn certificate_identities(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut emails = Vec::new();
    let mut dns = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::RFC822Name(e) => emails.push((*e).to_string()),
                GeneralName::DNSName(d) => dns.push((*d).to_string()),
                _ => {}
            }
        }
    }
    let mut rdns: Vec<String> = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(
                attr.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_string)
            .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().unwrap_or_default();
            rdns.push(format!("{key}={value}"));
        }
    }
    rdns.reverse();
    let mut out = emails;
    out.extend(dns);
    if !rdns.is_empty() {
        out.push(rdns.join(","));
    }
    out
}
