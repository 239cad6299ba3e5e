//! TLS verification of `wss://` connections against a TLS WebSocket server on loopback: a CA from
//! `server.ca_file`, a pinned certificate fingerprint, and the rejections of both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use sysmanage_agent::connection::{self, Endpoint, tls};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

struct TestServer {
    port: u16,
    ca_pem: String,
    leaf_der: CertificateDer<'static>,
}

/// Starts a TLS WebSocket server that sends one text frame, "hello", on every connection.
async fn start_server() -> TestServer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let provider = tls::crypto_provider();
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls_stream) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut socket) = tokio_tungstenite::accept_async(tls_stream).await else {
                    return;
                };
                let _ = socket.send(Message::text("hello")).await;
                let _ = socket.next().await;
            });
        }
    });
    TestServer {
        port,
        ca_pem: ca_cert.pem(),
        leaf_der: leaf.der().clone(),
    }
}

async fn first_frame(
    server: &TestServer,
    config: Arc<rustls::ClientConfig>,
) -> Result<String, String> {
    let endpoint = Endpoint {
        url: format!("wss://127.0.0.1:{}/agent/connect", server.port),
        tls: Some(config),
    };
    let mut socket = connection::connect(&endpoint).await?;
    let frame = socket.next().await.unwrap().unwrap();
    Ok(frame.into_text().unwrap().to_string())
}

#[tokio::test]
async fn ca_file_trusts_server() {
    let server = start_server().await;
    let directory = tempfile::tempdir().unwrap();
    let ca_file = directory.path().join("ca.pem");
    std::fs::write(&ca_file, &server.ca_pem).unwrap();

    let config = tls::client_config(Some(&ca_file), None).unwrap();
    assert_eq!(first_frame(&server, config).await.unwrap(), "hello");
}

#[tokio::test]
async fn unknown_ca_rejected() {
    let server = start_server().await;
    // The system roots cannot know the test CA. Without any system root the config fails to
    // build, which is a rejection too.
    let Ok(config) = tls::client_config(None, None) else {
        return;
    };
    let error = first_frame(&server, config).await.unwrap_err();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test]
async fn pinned_fingerprint_accepted() {
    let server = start_server().await;
    let fingerprint: [u8; 32] = Sha256::digest(server.leaf_der.as_ref()).into();
    let config = tls::client_config(None, Some(fingerprint)).unwrap();
    assert_eq!(first_frame(&server, config).await.unwrap(), "hello");
}

#[tokio::test]
async fn wrong_fingerprint_rejected() {
    let server = start_server().await;
    let config = tls::client_config(None, Some([0xab; 32])).unwrap();
    let error = first_frame(&server, config).await.unwrap_err();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}
