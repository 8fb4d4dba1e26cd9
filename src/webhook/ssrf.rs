//! Refusing webhook targets on internal addresses (SSRF).
//!
//! Only global unicast addresses are reachable: loopback, private, link-local, shared,
//! documentation, reserved, and every IPv6 form that embeds or translates an IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) or is not global are refused,
//! unless `OFFBOARD_WEBHOOK_ALLOW_PRIVATE` is set (development).
//!
//! The check cannot be a step before the request: a name that resolves to a public
//! address when checked and to `127.0.0.1` when the HTTP client resolves it again (DNS
//! rebinding) would pass. So the dispatcher's HTTP client resolves through
//! [`PinnedResolver`], which drops every address that is not public and hands the
//! client only the addresses it checked; a URL whose host is an IP literal (which the
//! client does not resolve) is checked by [`check_literal`] before every attempt. The
//! client uses no proxy, which would resolve names itself.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

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
    #[error("the host resolves to a loopback, private or otherwise non-public address")]
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

/// Whether an address is global unicast: the only kind a webhook may reach.
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
        // 192.0.0.0/24 IETF protocol assignments, 192.88.99.0/24 6to4 relay,
        // 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 88 && o[2] == 99)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Global unicast is 2000::/3; everything else (::/96 IPv4-compatible, 64:ff9b::/96
    // and 64:ff9b:1::/48 NAT64, fc00::/7, fe80::/10, fec0::/10, multicast…) is not.
    if (s[0] & 0xe000) != 0x2000 {
        return false;
    }
    !(
        // 2001:db8::/32 documentation
        (s[0] == 0x2001 && s[1] == 0x0db8)
        // 2002::/16 6to4 (an IPv4 address inside)
        || s[0] == 0x2002
        // 2001::/32 Teredo (an IPv4 address inside)
        || (s[0] == 0x2001 && s[1] == 0)
        // 2001:2::/48 benchmarking, 2001:10::/28 and 2001:20::/28 ORCHID
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0)
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010)
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0020)
        // 3fff::/20 documentation
        || (s[0] & 0xfff0) == 0x3ff0
    )
}

/// The URL's host as an IP address, when it is a literal.
fn literal(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Refuses a URL whose host is a non-public IP literal (the HTTP client does not resolve
/// literals, so the resolver never sees them). Names are checked when resolved.
pub fn check_literal(url: &url::Url, allow_private: bool) -> Result<(), UrlError> {
    match literal(url) {
        Some(ip) if !allow_private && !is_public(ip) => Err(UrlError::Private),
        _ => Ok(()),
    }
}

/// Where names are looked up (the system resolver in production; tests put their own).
pub trait Lookup: Send + Sync {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The system's resolver (`getaddrinfo`, through tokio).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The addresses a name may be reached at: every public one, or everything when private
/// targets are allowed. An empty result is an error, so nothing is connected.
pub async fn resolve(
    lookup: &dyn Lookup,
    host: &str,
    allow_private: bool,
) -> Result<Vec<IpAddr>, UrlError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if allow_private || is_public(ip) {
            Ok(vec![ip])
        } else {
            Err(UrlError::Private)
        };
    }
    let all = lookup
        .lookup(host)
        .await
        .map_err(|_| UrlError::Unresolvable)?;
    if all.is_empty() {
        return Err(UrlError::Unresolvable);
    }
    let allowed: Vec<IpAddr> = all
        .into_iter()
        .filter(|ip| allow_private || is_public(*ip))
        .collect();
    if allowed.is_empty() {
        return Err(UrlError::Private);
    }
    Ok(allowed)
}

/// The HTTP client's resolver: resolves once per connection, keeps only the addresses
/// that pass [`is_public`], and the client connects only to those.
pub struct PinnedResolver {
    lookup: Arc<dyn Lookup>,
    allow_private: bool,
}

impl PinnedResolver {
    pub fn new(lookup: Arc<dyn Lookup>, allow_private: bool) -> Self {
        PinnedResolver {
            lookup,
            allow_private,
        }
    }
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(lookup.as_ref(), &host, allow_private)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            // Port 0: the client puts the URL's port in.
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The check made when an endpoint is added: the URL's host resolves to at least one
/// address the dispatcher would connect to.
pub async fn check(url: &url::Url, allow_private: bool) -> Result<(), UrlError> {
    check_with(&SystemLookup, url, allow_private).await
}

pub async fn check_with(
    lookup: &dyn Lookup,
    url: &url::Url,
    allow_private: bool,
) -> Result<(), UrlError> {
    check_literal(url, allow_private)?;
    if literal(url).is_some() {
        return Ok(());
    }
    let host = url.host_str().ok_or(UrlError::Unresolvable)?;
    resolve(lookup, host, allow_private).await.map(|_| ())
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
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::7f00:1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450:4001:81c::200e",
            "::ffff:8.8.8.8",
        ] {
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
        for raw in [
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
            "http://[::127.0.0.1]:9/hook",
            "http://[::ffff:127.0.0.1]:9/hook",
            "http://[64:ff9b::7f00:1]:9/hook",
            "http://[2002:7f00:1::1]:9/hook",
            "http://[fec0::1]:9/hook",
        ] {
            let url = parse(raw).unwrap();
            assert_eq!(check(&url, false).await, Err(UrlError::Private), "{raw}");
            assert_eq!(check_literal(&url, false), Err(UrlError::Private), "{raw}");
            assert_eq!(check(&url, true).await, Ok(()), "{raw}");
        }
        let url = parse("http://localhost:9/hook").unwrap();
        assert_eq!(check(&url, false).await, Err(UrlError::Private));
    }

    /// Answers alternately with a public address and loopback, as a rebinding DNS
    /// server would.
    struct Rebinding(std::sync::atomic::AtomicUsize);

    impl Lookup for Rebinding {
        fn lookup(
            &self,
            _host: &str,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                Ok(if n.is_multiple_of(2) {
                    vec!["93.184.216.34".parse().unwrap()]
                } else {
                    vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]
                })
            })
        }
    }

    #[tokio::test]
    async fn a_rebinding_answer_never_yields_a_loopback_address() {
        use reqwest::dns::Resolve;
        let r = PinnedResolver::new(
            Arc::new(Rebinding(std::sync::atomic::AtomicUsize::new(0))),
            false,
        );
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..10 {
            match r.resolve("rebind.example".parse().unwrap()).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    assert!(addrs.iter().all(|a| is_public(a.ip())), "{addrs:?}");
                    ok += 1;
                }
                Err(_) => refused += 1,
            }
        }
        assert_eq!((ok, refused), (5, 5));
    }

    #[tokio::test]
    async fn mixed_answers_keep_only_the_public_addresses() {
        struct Mixed;
        impl Lookup for Mixed {
            fn lookup(
                &self,
                _host: &str,
            ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>
            {
                Box::pin(async {
                    Ok(vec![
                        "127.0.0.1".parse().unwrap(),
                        "8.8.8.8".parse().unwrap(),
                        "64:ff9b::7f00:1".parse().unwrap(),
                    ])
                })
            }
        }
        assert_eq!(
            resolve(&Mixed, "x.example", false).await,
            Ok(vec!["8.8.8.8".parse().unwrap()])
        );
        assert_eq!(resolve(&Mixed, "x.example", true).await.unwrap().len(), 3);
    }
}
