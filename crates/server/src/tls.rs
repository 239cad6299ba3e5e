//! The HTTP listener: HTTPS with rustls when `api.cert_file` and `api.key_file` are set, plain
//! HTTP otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// An error while reading the certificate or key, or building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read TLS file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid PEM in TLS certificate file {path}: {message}")]
    InvalidCertificate { path: PathBuf, message: String },
    #[error(
        "no certificate found in TLS certificate file {path}; expected a PEM \"CERTIFICATE\" block"
    )]
    NoCertificate { path: PathBuf },
    #[error("no private key found in TLS key file {path}: {message}")]
    InvalidKey { path: PathBuf, message: String },
    #[error("TLS certificate {cert_file} and key {key_file} do not form a usable pair: {source}")]
    Config {
        cert_file: PathBuf,
        key_file: PathBuf,
        source: rustls::Error,
    },
}

/// Installs ring as the process-wide rustls crypto provider.
///
/// Both ring and aws-lc-rs are compiled in (axum-server's `tls-rustls` feature enables
/// aws-lc-rs), so rustls cannot pick one by itself. Calling this more than once is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads a PEM certificate chain and private key and builds a rustls server configuration that
/// offers HTTP/2 and HTTP/1.1.
pub fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;

    let certificates = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::InvalidCertificate {
            path: cert_file.to_owned(),
            message: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_file.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| TlsError::InvalidKey {
        path: key_file.to_owned(),
        message: error.to_string(),
    })?;

    let config_error = |source| TlsError::Config {
        cert_file: cert_file.to_owned(),
        key_file: key_file.to_owned(),
        source,
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .map_err(config_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `handle` is shut down, over TLS when `tls` is given.
///
/// Handlers get the client address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<Arc<ServerConfig>>,
    handle: Handle,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(config) => {
            axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(config))
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(service)
                .await
        }
    }
}
