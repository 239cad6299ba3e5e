//! Formatting of stored Unix-millisecond times for API responses.

use chrono::{DateTime, SecondsFormat};

/// Formats Unix milliseconds as an RFC 3339 UTC string with millisecond precision, such as
/// `2026-12-04T10:15:30.123Z`. Returns `None` for a time outside chrono's range.
pub fn rfc3339(unix_ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(unix_ms)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Formats an optional time; `None` stays `None`.
pub fn rfc3339_opt(unix_ms: Option<i64>) -> Option<String> {
    unix_ms.and_then(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(
            rfc3339(1_765_000_000_123).as_deref(),
            Some("2025-12-06T05:46:40.123Z")
        );
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
    }
}
