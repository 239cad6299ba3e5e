//! The client address of an HTTP request: the TCP peer, or the address that trusted reverse
//! proxies report in `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is honoured only when the TCP peer is in `api.trusted_proxies`, because any
//! client can send the header. Each proxy appends the address it received the request from, so
//! the entries are read from the right, skipping trusted proxies: the first address that is not
//! a trusted proxy is the client. Entries further left were written by that client and are
//! never read.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ApiError;
use crate::state::AppState;

/// Name of the header that reverse proxies append the client address to.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

/// One entry of `api.trusted_proxies`: an IP address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    /// Returns whether `address` lies in this range.
    #[must_use]
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&address.to_canonical())
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    /// Parses `192.0.2.10`, `2001:db8::1`, `10.0.0.0/8` or `fd00::/8`. A range with host bits
    /// set, such as `10.1.2.3/8`, means its network (`10.0.0.0/8`).
    fn from_str(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        if let Ok(address) = trimmed.parse::<IpAddr>() {
            return Ok(Self(IpNet::from(address.to_canonical())));
        }
        trimmed
            .parse::<IpNet>()
            .map(|network| Self(network.trunc()))
            .map_err(|_| {
                format!(
                    "{value:?} is not an IP address or CIDR range; write an address such as \
                     192.0.2.10 or a range such as 10.0.0.0/8"
                )
            })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpNet::V4(network) if network.prefix_len() == 32 => write!(f, "{}", network.addr()),
            IpNet::V6(network) if network.prefix_len() == 128 => write!(f, "{}", network.addr()),
            network => write!(f, "{network}"),
        }
    }
}

impl Serialize for TrustedProxy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a comma-separated list of trusted proxies, as in `SYSMANAGE_API_TRUSTED_PROXIES`. An
/// empty or blank value is an empty list.
pub fn parse_list(value: &str) -> Result<Vec<TrustedProxy>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value.split(',').map(|entry| entry.trim().parse()).collect()
}

/// Returns the address of the client of a request that came from the TCP peer `peer`.
///
/// Without a trusted peer, or without a readable `X-Forwarded-For`, that is `peer` itself.
/// When every listed address is a trusted proxy, it is the left-most one. When an entry does not
/// parse, it is the trusted proxy right of that entry, because that proxy received the request
/// from the sender of the entry.
#[must_use]
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    // Several headers count as one list joined in order (RFC 9110, section 5.3).
    let entries: Vec<&str> = headers
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("\u{0}").split(','))
        .collect();
    for entry in entries.into_iter().rev() {
        let Some(address) = parse_entry(entry) else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

/// Parses one `X-Forwarded-For` entry: an address, or an address with a port as some proxies
/// write it (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

/// Extractor of the client address of a request, from the TCP peer and, behind a trusted proxy,
/// from `X-Forwarded-For`. Needs the router to be served with `ConnectInfo<SocketAddr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    /// The address that rate limits count and logs show.
    pub client: IpAddr,
    /// The TCP peer, which is the proxy when the request came through one.
    pub peer: IpAddr,
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "the TCP peer address is missing: serve the router with \
                     into_make_service_with_connect_info::<SocketAddr>()"
                ))
            })?;
        let peer = peer.ip().to_canonical();
        let client = client_address(peer, &parts.headers, &state.config.api.trusted_proxies);
        Ok(Self { client, peer })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(list: &str) -> Vec<TrustedProxy> {
        parse_list(list).unwrap()
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR_HEADER, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn parse_accepts_addresses_and_ranges() {
        let list = proxies("192.0.2.10, 10.0.0.0/8,fd00::/8 , ::ffff:198.51.100.7, 172.16.5.4/12");
        let formatted: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            formatted,
            [
                "192.0.2.10",
                "10.0.0.0/8",
                "fd00::/8",
                "198.51.100.7",
                "172.16.0.0/12"
            ]
        );
        assert!(proxies("").is_empty());
        assert!(proxies("  ").is_empty());
    }

    #[test]
    fn parse_names_bad_value() {
        for bad in [
            "10.0.0.0/33",
            "proxy.example.org",
            "10.0.0",
            "",
            "192.0.2.1/",
        ] {
            let error = bad.parse::<TrustedProxy>().unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
            assert!(error.contains("10.0.0.0/8"), "{error}");
        }
        let error = parse_list("10.0.0.1, nonsense").unwrap_err();
        assert!(error.contains("\"nonsense\""), "{error}");
    }

    #[test]
    fn header_ignored_from_untrusted_peer() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(address("192.0.2.1"), &headers, &[]),
            address("192.0.2.1")
        );
        assert_eq!(
            client_address(address("192.0.2.1"), &headers, &proxies("10.0.0.0/8")),
            address("192.0.2.1")
        );
    }

    #[test]
    fn rightmost_untrusted_entry_is_client() {
        let trusted = proxies("10.0.0.0/8");
        let peer = address("10.0.0.2");
        let cases: &[(&[&str], &str)] = &[
            (&["203.0.113.9"], "203.0.113.9"),
            (&["198.51.100.1, 203.0.113.9"], "203.0.113.9"),
            (&["198.51.100.1, 203.0.113.9, 10.0.0.3"], "203.0.113.9"),
            (&["198.51.100.1", "203.0.113.9, 10.0.0.3"], "203.0.113.9"),
            (&["203.0.113.9:4711"], "203.0.113.9"),
            (&["[2001:db8::7]:4711"], "2001:db8::7"),
            (&["::ffff:203.0.113.9"], "203.0.113.9"),
            (&["10.0.0.5, 10.0.0.3"], "10.0.0.5"),
            (&["203.0.113.9, unknown, 10.0.0.3"], "10.0.0.3"),
            (&["garbage"], "10.0.0.2"),
            (&[], "10.0.0.2"),
        ];
        for (values, expected) in cases {
            assert_eq!(
                client_address(peer, &forwarded(values), &trusted),
                address(expected),
                "{values:?}"
            );
        }
    }

    #[test]
    fn mapped_peer_matches_ipv4_range() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(address("::ffff:127.0.0.1"), &headers, &proxies("127.0.0.1")),
            address("203.0.113.9")
        );
    }
}
