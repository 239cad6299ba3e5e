//! Errors that stop the whole run: server responses that every agent would get again on every
//! retry, so that backing off would only hide them.

use sysmanage_protocol::CONNECT_PATH;
use tokio_tungstenite::tungstenite::http::StatusCode;

/// An error after which the load generator stops every agent and exits non-zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FatalError {
    #[error(
        "the server at {url} responded to the WebSocket upgrade with HTTP {status}, which a \
         retry cannot change; {hint}"
    )]
    UpgradeRejected {
        url: String,
        status: StatusCode,
        hint: String,
    },
}

impl FatalError {
    /// Returns the error for an upgrade of `url` that got `status` instead of 101, or
    /// `None` when a later attempt may succeed: 408 Request Timeout, 429 Too Many Requests and
    /// every 5xx status. Any other response, such as 404, or 200 from a page that is not a
    /// WebSocket endpoint, comes back on every attempt.
    pub fn from_upgrade_status(url: &str, status: StatusCode) -> Option<Self> {
        let retryable = status.is_server_error()
            || matches!(
                status,
                StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
            );
        if retryable {
            return None;
        }
        let hint = match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => format!(
                "check that --server-url points at a SysManage server and that its path is the \
                 agent endpoint {CONNECT_PATH}, or leave the path out"
            ),
            _ if status.is_redirection() => {
                "the load generator does not follow redirects; check that --server-url names \
                 the SysManage server itself"
                    .to_owned()
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "check that --server-url reaches the SysManage server itself, not a proxy or \
                 another service that requires authentication"
                    .to_owned()
            }
            _ => format!(
                "check that --server-url points at the agent endpoint {CONNECT_PATH} of a \
                 SysManage server"
            ),
        };
        Some(Self::UpgradeRejected {
            url: url.to_owned(),
            status,
            hint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "ws://127.0.0.1:8000/wrong";

    #[test]
    fn non_transient_statuses_are_fatal() {
        for code in [200, 301, 302, 400, 401, 403, 404, 405, 426] {
            let status = StatusCode::from_u16(code).unwrap();
            let error = FatalError::from_upgrade_status(URL, status);
            assert!(error.is_some(), "{code}");
        }
    }

    #[test]
    fn transient_statuses_are_retried() {
        for code in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            let error = FatalError::from_upgrade_status(URL, status);
            assert_eq!(error, None, "{code}");
        }
    }

    #[test]
    fn not_found_message_names_url_status_and_path() {
        let error = FatalError::from_upgrade_status(URL, StatusCode::NOT_FOUND).unwrap();
        let message = error.to_string();
        assert!(message.contains(URL), "{message}");
        assert!(message.contains("HTTP 404 Not Found"), "{message}");
        assert!(message.contains("/agent/connect"), "{message}");
    }

    #[test]
    fn forbidden_message_mentions_authentication() {
        let error = FatalError::from_upgrade_status(URL, StatusCode::FORBIDDEN).unwrap();
        let message = error.to_string();
        assert!(message.contains("HTTP 403 Forbidden"), "{message}");
        assert!(message.contains("requires authentication"), "{message}");
    }
}
