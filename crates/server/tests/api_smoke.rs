#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{BACKENDS, TestServer};

#[tokio::test]
async fn health_on_both_backends() {
    for backend in BACKENDS {
        let server = TestServer::start(backend).await;
        let response = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
    }
}
