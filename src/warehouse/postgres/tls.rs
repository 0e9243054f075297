//! TLS for the warehouse connection: rustls, the server's certificate verified against the
//! system's root certificates plus an optional CA file, and its host name checked. Managed
//! PostgreSQL services sign their certificates with their own CA (Amazon RDS / Aurora: the
//! RDS CA bundle), which is what `ca_file` is for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::warehouse::WarehouseError;

/// How the connection to PostgreSQL is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP: loopback, a private network, or a TLS-terminating proxy.
    Disable,
    /// TLS required; the server certificate must chain to a system root or to a certificate in
    /// `ca_file` (PEM), and name the host connected to.
    Require { ca_file: Option<PathBuf> },
}

impl TlsMode {
    pub fn describe(&self) -> &'static str {
        match self {
            TlsMode::Disable => "no TLS",
            TlsMode::Require { .. } => "TLS",
        }
    }
}

/// A rustls connector trusting the system roots and the certificates in `ca_file`.
pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, WarehouseError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (system_roots, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    if roots.is_empty() {
        return Err(tls_error(format!(
            "no trusted CA certificates: the system store is empty ({system_roots} loaded, errors: {:?}); \
             install the ca-certificates package or set the warehouse's CA file",
            native.errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), WarehouseError> {
    let file_error = |what: String| tls_error(format!("CA file {}: {what}", path.display()));
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(format!("not a PEM certificate file ({e})")))?;
    if certificates.is_empty() {
        return Err(file_error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    for certificate in certificates {
        roots.add(certificate).map_err(|e| file_error(format!("unusable certificate: {e}")))?;
    }
    Ok(())
}

fn tls_error(message: String) -> WarehouseError {
    WarehouseError::Connection(format!("postgres TLS: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_the_system_roots() {
        assert!(connector(None).is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("rds-ca.pem");
        let err = connector(Some(&missing)).err().unwrap().to_string();
        assert!(err.contains("rds-ca.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = connector(Some(&empty)).err().unwrap().to_string();
        assert!(err.contains("empty.pem: holds no PEM certificate"), "{err}");
    }
}
