//! An API client that logs in once and then follows the one-use token chain: every response
//! carries the next token in `X_Reauthorization`, which the next request sends.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TestServer;

/// A logged-in API client of a test server.
pub struct ApiClient {
    base_url: String,
    client: reqwest::Client,
    token: String,
}

impl ApiClient {
    /// Logs in as the first administrator.
    pub async fn admin(server: &TestServer) -> Self {
        Self {
            base_url: server.base_url.clone(),
            client: server.client.clone(),
            token: server.login_admin().await,
        }
    }

    /// Logs in as `userid`.
    pub async fn login(server: &TestServer, userid: &str, password: &str) -> Self {
        Self {
            base_url: server.base_url.clone(),
            client: server.client.clone(),
            token: server.login(userid, password).await.unwrap(),
        }
    }

    /// Sends a request and returns the status and the JSON body (`Null` when empty).
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        if let Some(next) = response.headers().get("X_Reauthorization") {
            next.to_str().unwrap().clone_into(&mut self.token);
        }
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    /// Sends `body` as it is, with `content_type` when given, and returns the status, the
    /// `Content-Type` of the response and its JSON body (`Null` when empty).
    pub async fn request_raw(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (StatusCode, String, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(&self.token)
            .body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        if let Some(next) = response.headers().get("X_Reauthorization") {
            next.to_str().unwrap().clone_into(&mut self.token);
        }
        let status = response.status();
        let response_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, response_type, body)
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, None).await
    }

    /// GETs `path` and expects 200.
    pub async fn get_ok(&mut self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}
