//! Refusing endpoints on internal addresses (SSRF): a URL whose host resolves to a
//! loopback, private, link-local, unspecified or otherwise non-public address is refused
//! unless `OFFBOARD_WEBHOOK_ALLOW_PRIVATE` is set. Checked when an endpoint is added and
//! again before every attempt (DNS may change in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the URL is not valid: {0}")]
    Invalid(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("the URL must not carry credentials")]
    Credentials,
    #[error("the host does not resolve")]
    Unresolvable,
    #[error("the host resolves to a loopback, private or link-local address")]
    Private,
}

/// Parses an endpoint URL: absolute, http(s), with a host, without user info.
pub fn parse(raw: &str) -> Result<url::Url, UrlError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(UrlError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::Invalid("no host".into()));
    }
    Ok(url)
}

pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        // 100.64.0.0/10, carrier-grade NAT
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // 192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}

/// Resolves the URL's host and refuses it when any address is not public (unless
/// private targets are allowed).
pub async fn check(url: &url::Url, allow_private: bool) -> Result<(), UrlError> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().ok_or(UrlError::Unresolvable)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| UrlError::Unresolvable)?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable);
    }
    if addrs.into_iter().all(is_public) {
        Ok(())
    } else {
        Err(UrlError::Private)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        assert!(parse("https://hooks.example.com/offboard").is_ok());
        assert_eq!(parse("ftp://example.com/x").unwrap_err(), UrlError::Scheme);
        assert_eq!(
            parse("https://user:pw@example.com/").unwrap_err(),
            UrlError::Credentials
        );
        assert!(matches!(parse("not a url"), Err(UrlError::Invalid(_))));
    }

    #[tokio::test]
    async fn loopback_literals_are_refused_unless_allowed() {
        let url = parse("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(check(&url, false).await, Err(UrlError::Private));
        assert_eq!(check(&url, true).await, Ok(()));
        let url = parse("http://[::1]:9/hook").unwrap();
        assert_eq!(check(&url, false).await, Err(UrlError::Private));
        let url = parse("http://localhost:9/hook").unwrap();
        assert_eq!(check(&url, false).await, Err(UrlError::Private));
    }
}
