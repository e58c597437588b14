//! TLS with rustls (TLS 1.2 and 1.3 only, ALPN h2 and http/1.1), for [`crate::serve`](mod@crate::serve).
//!
//! HSTS belongs with TLS: [`crate::Security::apply`] adds it only when the security hub was told
//! the service is served over TLS.
//!
//! # Examples
//!
//! ```no_run
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! let tls = rampart::tls::load_pem_files("cert.pem".as_ref(), "key.pem".as_ref()).await.ok();
//! let listener = std::net::TcpListener::bind("127.0.0.1:3443")?;
//! rampart::serve::Server::new(listener, app).tls(tls).run(std::future::pending()).await
//! # }
//! ```

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file is unreadable or holds no certificate.
    #[error("cannot read a PEM certificate chain from {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The key file is unreadable or holds no private key.
    #[error("cannot read a PEM private key from {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The key does not match the certificate, or rustls refuses them.
    #[error("the certificate and key cannot be used together: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Loads a certificate chain and private key from PEM files into a TLS 1.2+1.3 server config.
///
/// # Errors
///
/// [`TlsError`] naming the file at fault.
pub async fn load_pem_files(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate { path: cert.display().to_string(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate { path: cert.display().to_string(), reason: "no certificate".into() });
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key { path: key.display().to_string(), reason: e.to_string() })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
