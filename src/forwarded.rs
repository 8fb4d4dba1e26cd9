//! Who is calling, behind proxies: the client address, scheme and host of a request, read
//! from `Forwarded` (RFC 7239) or `X-Forwarded-For` / `-Proto` / `-Host` only when the peer
//! that sent them is one of `OFFBOARD_TRUSTED_PROXIES`. From any other peer those headers
//! change nothing, so no client can claim another's address (to slip past the per-address
//! limit, or to put someone else's address in the audit log) or a host (into `meta.location`).
//!
//! The client is the first address, walking the chain from the right (the peer, then what
//! each proxy appended), that is not a trusted proxy: every hop to its right vouched for the
//! one before it, and nothing to its left can be believed. Pure: headers in, answer out.

use std::net::IpAddr;
use std::str::FromStr;

/// The proxies whose forwarded headers are believed: addresses and CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// `10.0.0.0/8, 192.168.1.7, ::1`: comma- or space-separated addresses and CIDRs.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in raw
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let net = match ipnet::IpNet::from_str(item) {
                Ok(net) => net,
                Err(_) => match IpAddr::from_str(item) {
                    Ok(ip) => ipnet::IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "'{item}' is neither an address nor a CIDR (e.g. 10.0.0.0/8, 127.0.0.1)"
                        ));
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, how a dual-stack socket reports
/// an IPv4 peer) is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarding headers of one request, as received (each may be repeated).
#[derive(Debug, Default, Clone)]
pub struct Headers<'a> {
    pub forwarded: Vec<&'a str>,
    pub x_forwarded_for: Vec<&'a str>,
    pub x_forwarded_proto: Vec<&'a str>,
    pub x_forwarded_host: Vec<&'a str>,
}

/// Where a request came from, as far as it can be believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client's address: the peer's, unless trusted proxies forwarded another.
    pub client: IpAddr,
    /// `http` or `https` as the client used it, when a trusted proxy said so.
    pub scheme: Option<String>,
    /// The host the client addressed, when a trusted proxy said so.
    pub host: Option<String>,
}

/// Reads the origin of a request that arrived from `peer`.
pub fn origin(peer: IpAddr, headers: &Headers<'_>, trusted: &TrustedProxies) -> Origin {
    let peer = canonical(peer);
    let untouched = Origin {
        client: peer,
        scheme: None,
        host: None,
    };
    if !trusted.contains(peer) {
        return untouched;
    }
    let forwarded = parse_forwarded(&headers.forwarded);
    // `Forwarded` is the standard and wins when present; otherwise the X- headers.
    let (chain, scheme, host) = if !forwarded.is_empty() {
        (
            forwarded
                .iter()
                .map(|e| e.r#for.clone())
                .collect::<Vec<_>>(),
            forwarded.iter().find_map(|e| e.proto.clone()),
            forwarded.iter().find_map(|e| e.host.clone()),
        )
    } else {
        (
            list(&headers.x_forwarded_for)
                .map(|s| Some(s.to_string()))
                .collect(),
            list(&headers.x_forwarded_proto).next().map(str::to_string),
            list(&headers.x_forwarded_host).next().map(str::to_string),
        )
    };
    // From the right: the peer vouched for the last entry, each trusted hop for the one
    // before it. The first untrusted address is the client; an entry that is no address
    // (`unknown`, an obfuscated name) ends the walk at the proxy that wrote it.
    let mut client = peer;
    for entry in chain.iter().rev() {
        match entry.as_deref().and_then(parse_node) {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    Origin {
        client,
        scheme: scheme
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s == "http" || s == "https"),
        host: host.filter(|h| valid_host(h)),
    }
}

/// Comma-separated values across repeated headers.
fn list<'a>(values: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[derive(Debug, Default)]
struct Element {
    r#for: Option<String>,
    proto: Option<String>,
    host: Option<String>,
}

/// RFC 7239: elements separated by `,`, pairs by `;`, values possibly quoted.
fn parse_forwarded(values: &[&str]) -> Vec<Element> {
    let mut out = Vec::new();
    for element in list(values) {
        let mut e = Element::default();
        for pair in element.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "for" => e.r#for = Some(value),
                "proto" => e.proto = Some(value),
                "host" => e.host = Some(value),
                _ => {}
            }
        }
        out.push(e);
    }
    out
}

/// A node as proxies write it: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return IpAddr::from_str(ip).ok().map(canonical);
    }
    let (ip, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    std::net::Ipv4Addr::from_str(ip).ok().map(IpAddr::V4)
}

/// A host as it may appear in a URL: a name or address with an optional port, nothing
/// that could end the authority (`/`, `?`, `#`, `@`, spaces).
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap()
    }

    fn xff(v: &str) -> Headers<'_> {
        Headers {
            x_forwarded_for: vec![v],
            ..Headers::default()
        }
    }

    #[test]
    fn proxies_are_addresses_and_cidrs() {
        let p = proxies("10.0.0.0/8, 192.168.1.7 ::1");
        assert!(p.contains(ip("10.1.2.3")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(p.contains(ip("::1")));
        assert!(
            p.contains(ip("::ffff:10.0.0.9")),
            "a v4-mapped peer is its v4 address"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn an_untrusted_peer_changes_nothing() {
        let o = origin(
            ip("203.0.113.9"),
            &Headers {
                x_forwarded_for: vec!["198.51.100.1"],
                x_forwarded_proto: vec!["https"],
                x_forwarded_host: vec!["evil.example"],
                forwarded: vec!["for=198.51.100.2"],
            },
            &proxies("10.0.0.0/8"),
        );
        assert_eq!(
            o,
            Origin {
                client: ip("203.0.113.9"),
                scheme: None,
                host: None
            }
        );
        // With no proxy configured, nobody is believed.
        assert_eq!(
            origin(
                ip("10.0.0.1"),
                &xff("198.51.100.1"),
                &TrustedProxies::default()
            )
            .client,
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let p = proxies("10.0.0.0/8");
        // A client that sends its own X-Forwarded-For: the proxy appends the real peer.
        let o = origin(ip("10.0.0.2"), &xff("1.2.3.4, 198.51.100.7, 10.0.0.5"), &p);
        assert_eq!(o.client, ip("198.51.100.7"));
        let o = origin(ip("10.0.0.2"), &xff("198.51.100.7"), &p);
        assert_eq!(o.client, ip("198.51.100.7"));
        // Every hop trusted: the leftmost.
        let o = origin(ip("10.0.0.2"), &xff("10.9.9.9"), &p);
        assert_eq!(o.client, ip("10.9.9.9"));
        // Nothing forwarded: the proxy itself.
        let o = origin(ip("10.0.0.2"), &Headers::default(), &p);
        assert_eq!(o.client, ip("10.0.0.2"));
        // An entry that is no address stops the walk at the proxy that wrote it.
        let o = origin(ip("10.0.0.2"), &xff("198.51.100.7, unknown"), &p);
        assert_eq!(o.client, ip("10.0.0.2"));
        // Repeated headers are one list.
        let h = Headers {
            x_forwarded_for: vec!["198.51.100.7", "10.0.0.5"],
            ..Headers::default()
        };
        assert_eq!(origin(ip("10.0.0.2"), &h, &p).client, ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_is_read_with_ports_quotes_and_ipv6() {
        let p = proxies("10.0.0.0/8");
        let h = Headers {
            forwarded: vec![
                r#"for="[2001:db8:cafe::17]:4711";proto=HTTPS;host=scim.example.com, for=10.0.0.5:80"#,
            ],
            x_forwarded_for: vec!["198.51.100.99"],
            ..Headers::default()
        };
        let o = origin(ip("10.0.0.2"), &h, &p);
        assert_eq!(
            o.client,
            ip("2001:db8:cafe::17"),
            "Forwarded wins over X-Forwarded-For"
        );
        assert_eq!(o.scheme.as_deref(), Some("https"));
        assert_eq!(o.host.as_deref(), Some("scim.example.com"));
        assert_eq!(parse_node("192.0.2.60:4711"), Some(ip("192.0.2.60")));
        assert_eq!(parse_node("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("_hidden"), None);
    }

    #[test]
    fn only_sane_schemes_and_hosts_are_taken() {
        let p = proxies("127.0.0.1");
        let h = Headers {
            x_forwarded_proto: vec!["javascript"],
            x_forwarded_host: vec!["evil.example/path?x"],
            ..Headers::default()
        };
        let o = origin(ip("127.0.0.1"), &h, &p);
        assert_eq!((o.scheme, o.host), (None, None));
        let h = Headers {
            x_forwarded_proto: vec!["https, http"],
            x_forwarded_host: vec!["scim.example.com:8443"],
            ..Headers::default()
        };
        let o = origin(ip("127.0.0.1"), &h, &p);
        assert_eq!(o.scheme.as_deref(), Some("https"));
        assert_eq!(o.host.as_deref(), Some("scim.example.com:8443"));
    }
}
