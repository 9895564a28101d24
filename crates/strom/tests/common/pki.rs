//! Certificates made in the test (rcgen): a CA, a server certificate and a client certificate.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use super::TempDir;

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files.
pub struct Pki {
    pub dir: TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("params")
            .signed_by(&server_key, &issuer)
            .expect("server cert");
        let client_key = KeyPair::generate().expect("key");
        let client = CertificateParams::new(vec!["client.example".into()])
            .expect("params")
            .signed_by(&client_key, &issuer)
            .expect("client cert");
        let write =
            |name: &str, text: String| std::fs::write(dir.0.join(name), text).expect("written");
        write("ca.pem", ca.pem());
        write("server.pem", server.pem());
        write("server-key.pem", server_key.serialize_pem());
        write("client.pem", client.pem());
        write("client-key.pem", client_key.serialize_pem());
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Client options that trust this PKI's CA and require TLS.
    pub fn client(&self) -> async_nats::ConnectOptions {
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(self.path("ca.pem"))
    }

    pub fn config(&self, extra: &str) -> String {
        format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  timeout: 1\n  {extra}\n}}\n",
            self.path("server.pem").display(),
            self.path("server-key.pem").display(),
            self.path("ca.pem").display()
        )
    }
}
