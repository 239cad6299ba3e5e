//! A logged-in client of the server's REST API, for the benchmark's API measurements.
//!
//! Each token works for one request and the response carries the next one in the
//! `X_Reauthorization` header, so one client's requests are sequential. Run several clients for
//! parallel load.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::{ConfigError, loopback_ip};

/// Response header that carries the next token.
pub const REAUTHORIZATION_HEADER: &str = "X_Reauthorization";

/// A failed API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request to {path} failed: {source}")]
    Transport {
        path: String,
        source: reqwest::Error,
    },
    #[error("{method} {path} returned HTTP {status}: {body}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        body: String,
    },
    #[error("{path} returned no {REAUTHORIZATION_HEADER} token")]
    MissingToken { path: String },
    #[error("{path} returned invalid JSON: {source}")]
    InvalidJson {
        path: String,
        source: serde_json::Error,
    },
}

impl ApiError {
    /// Returns the error kind under which benchmarks count this error: `transport`,
    /// `http_STATUS`, `missing_token` or `invalid_json`.
    pub fn kind(&self) -> String {
        match self {
            Self::Transport { .. } => "transport".to_owned(),
            Self::Status { status, .. } => format!("http_{status}"),
            Self::MissingToken { .. } => "missing_token".to_owned(),
            Self::InvalidJson { .. } => "invalid_json".to_owned(),
        }
    }

    /// Returns whether the client lost its token, so it must log in again.
    pub fn lost_token(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. } | Self::MissingToken { .. } | Self::Status { status: 401, .. }
        )
    }
}

/// Checks that an API base URL is `http://` on a loopback address and returns it without a
/// trailing slash.
pub fn check_api_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: tokio_tungstenite::tungstenite::http::Uri =
        url.parse().map_err(|_| invalid("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid("expected an http:// URL"));
    }
    let host = uri.host().ok_or_else(|| invalid("missing host"))?;
    loopback_ip(host)?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// One logged-in API client.
#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    userid: String,
    password: String,
    token: String,
}

impl ApiClient {
    /// Logs in with `POST /login` and returns the client with its first token.
    pub async fn login(
        http: reqwest::Client,
        base_url: &str,
        userid: &str,
        password: &str,
    ) -> Result<Self, ApiError> {
        let token = login_token(&http, base_url, userid, password).await?;
        Ok(Self {
            http,
            base_url: base_url.to_owned(),
            userid: userid.to_owned(),
            password: password.to_owned(),
            token,
        })
    }

    /// Logs in again after the token chain broke.
    pub async fn relogin(&mut self) -> Result<(), ApiError> {
        self.token = login_token(&self.http, &self.base_url, &self.userid, &self.password).await?;
        Ok(())
    }

    /// Sends `GET path` and returns the JSON body and the time until the body was read.
    pub async fn get(&mut self, path: &str) -> Result<(Value, Duration), ApiError> {
        let request = self.http.get(format!("{}{path}", self.base_url));
        self.send("GET", path, request).await
    }

    /// Sends `POST path` with a JSON body and returns the JSON response and the time taken.
    pub async fn post(&mut self, path: &str, body: &Value) -> Result<(Value, Duration), ApiError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(body);
        self.send("POST", path, request).await
    }

    async fn send(
        &mut self,
        method: &'static str,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(Value, Duration), ApiError> {
        let transport = |source| ApiError::Transport {
            path: path.to_owned(),
            source,
        };
        let started = Instant::now();
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let next_token = response
            .headers()
            .get(REAUTHORIZATION_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport)?;
        let elapsed = started.elapsed();

        let had_token = next_token.is_some();
        if let Some(token) = next_token {
            self.token = token;
        }
        if !status.is_success() {
            return Err(ApiError::Status {
                method,
                path: path.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        if !had_token {
            return Err(ApiError::MissingToken {
                path: path.to_owned(),
            });
        }
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|source| ApiError::InvalidJson {
                path: path.to_owned(),
                source,
            })?
        };
        Ok((value, elapsed))
    }

    /// Returns `total` of a paginated list endpoint such as `/hosts?status=down&limit=1`.
    pub async fn count(&mut self, path: &str) -> Result<u64, ApiError> {
        let (body, _) = self.get(path).await?;
        Ok(body["total"].as_u64().unwrap_or_else(|| {
            body["items"]
                .as_array()
                .or_else(|| body.as_array())
                .map_or(0, |items| items.len() as u64)
        }))
    }

    /// Returns the ids of every item of a paginated list endpoint, reading pages of 500.
    pub async fn list_ids(&mut self, path: &str, max: usize) -> Result<Vec<i64>, ApiError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut ids = Vec::new();
        loop {
            let page = format!("{path}{separator}limit=500&offset={}", ids.len());
            let (body, _) = self.get(&page).await?;
            let items = body["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            ids.extend(items.iter().filter_map(|item| item["id"].as_i64()));
            if ids.len() >= max {
                ids.truncate(max);
                break;
            }
        }
        Ok(ids)
    }
}

async fn login_token(
    http: &reqwest::Client,
    base_url: &str,
    userid: &str,
    password: &str,
) -> Result<String, ApiError> {
    let path = "/login";
    let response = http
        .post(format!("{base_url}{path}"))
        .json(&serde_json::json!({ "userid": userid, "password": password }))
        .send()
        .await
        .map_err(|source| ApiError::Transport {
            path: path.to_owned(),
            source,
        })?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|source| ApiError::Transport {
            path: path.to_owned(),
            source,
        })?;
    if !status.is_success() {
        return Err(ApiError::Status {
            method: "POST",
            path: path.to_owned(),
            status: status.as_u16(),
            body: body.chars().take(300).collect(),
        });
    }
    let value: Value = serde_json::from_str(&body).map_err(|source| ApiError::InvalidJson {
        path: path.to_owned(),
        source,
    })?;
    value[REAUTHORIZATION_HEADER]
        .as_str()
        .map(str::to_owned)
        .ok_or(ApiError::MissingToken {
            path: path.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_must_be_loopback_http() {
        assert_eq!(
            check_api_url("http://127.0.0.1:8000/").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert!(check_api_url("http://[::1]:8000").is_ok());
        assert!(matches!(
            check_api_url("http://10.1.2.3:8000"),
            Err(ConfigError::NotLoopback { .. })
        ));
        assert!(check_api_url("https://127.0.0.1:8443").is_err());
        assert!(check_api_url("ws://127.0.0.1:8000").is_err());
    }

    #[test]
    fn error_kinds_name_status() {
        let error = ApiError::Status {
            method: "GET",
            path: "/hosts".to_owned(),
            status: 503,
            body: String::new(),
        };
        assert_eq!(error.kind(), "http_503");
        assert!(!error.lost_token());
        let unauthorized = ApiError::Status {
            method: "GET",
            path: "/hosts".to_owned(),
            status: 401,
            body: String::new(),
        };
        assert!(unauthorized.lost_token());
    }
}
