//! TLS client configuration for `wss://` servers.
//!
//! By default the server certificate must chain to a system root, or to a CA from
//! `server.ca_file`. With `server.cert_fingerprint` the end-entity certificate must instead have
//! exactly that SHA-256 digest; its name and validity dates are not checked, but the handshake
//! signature still is, so only the holder of the pinned certificate's key can pass.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

/// Error building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read CA file {path}: {source}")]
    ReadCaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {path} contains no PEM certificate")]
    EmptyCaFile { path: PathBuf },
    #[error("CA file {path} contains an invalid certificate: {reason}")]
    InvalidCaCertificate { path: PathBuf, reason: String },
    #[error(
        "no trusted root certificates: the system store is empty and server.ca_file is not set"
    )]
    NoRoots,
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Returns the ring crypto provider, installed as the process default if none is.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Another part of the process may have installed a provider already, which is fine.
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
    provider
}

/// Builds the client configuration from `server.ca_file` and `server.cert_fingerprint`.
pub fn client_config(
    ca_file: Option<&Path>,
    fingerprint: Option<[u8; 32]>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = crypto_provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let config = if let Some(fingerprint) = fingerprint {
        let verifier = FingerprintVerifier {
            expected: fingerprint,
            algorithms: provider.signature_verification_algorithms,
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store(ca_file)?)
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "could not load a system root certificate");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "loaded system root certificates");

    if let Some(path) = ca_file {
        for certificate in read_pem_certificates(path)? {
            roots
                .add(certificate)
                .map_err(|error| TlsError::InvalidCaCertificate {
                    path: path.to_path_buf(),
                    reason: error.to_string(),
                })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(roots)
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_error = |source| TlsError::ReadCaFile {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let certificates = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    if certificates.is_empty() {
        return Err(TlsError::EmptyCaFile {
            path: path.to_path_buf(),
        });
    }
    Ok(certificates)
}

/// Returns the SHA-256 of a DER certificate as lower-case hex pairs separated by colons.
pub fn certificate_fingerprint(certificate: &[u8]) -> String {
    Sha256::digest(certificate)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts only the server certificate with the pinned SHA-256 digest.
#[derive(Debug)]
struct FingerprintVerifier {
    expected: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if digest == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::error!(
                presented = %certificate_fingerprint(end_entity.as_ref()),
                "server certificate does not match server.cert_fingerprint"
            );
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ca_file_rejected() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = client_config(Some(&path), None).unwrap_err();
        assert!(matches!(error, TlsError::EmptyCaFile { .. }), "{error}");
    }

    #[test]
    fn missing_ca_file_named() {
        let error = client_config(Some(Path::new("/nonexistent/ca.pem")), None).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn fingerprint_format() {
        let text = certificate_fingerprint(b"abc");
        assert!(text.starts_with("ba:78:16:bf"), "{text}");
        assert_eq!(text.len(), 95);
    }
}
