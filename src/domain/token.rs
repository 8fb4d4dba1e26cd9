//! A SCIM token's own rules: when it expires, the networks it may be used from, and how
//! long a rotated token keeps working beside its successor. Parsed once, so the admin
//! API and the CLI accept and refuse the same values; decided here, so the request path
//! only asks.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::organization::InvalidSetting;

/// Networks a token may list (each one checked per request).
pub const MAX_NETWORKS: usize = 100;
/// How far ahead an expiry is warned (console, doctor, setup page).
pub const WARN_AHEAD: chrono::Duration = chrono::Duration::days(14);
/// How long the old token keeps working after a rotation when the operator does not say.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// The longest an old token may keep working after a rotation.
pub const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// The networks a token may be used from; empty: from anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<ipnet::IpNet>);

impl Networks {
    /// CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses, at most
    /// [`MAX_NETWORKS`]; each is kept as the network it names (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn parse(items: &[String]) -> Result<Networks, InvalidSetting> {
        if items.len() > MAX_NETWORKS {
            return Err(InvalidSetting::new(format!(
                "allowed_networks: at most {MAX_NETWORKS} networks"
            )));
        }
        let mut nets: Vec<ipnet::IpNet> = Vec::with_capacity(items.len());
        for item in items {
            let raw = item.trim();
            let net = ipnet::IpNet::from_str(raw)
                .or_else(|_| IpAddr::from_str(raw).map(ipnet::IpNet::from))
                .map_err(|_| {
                    let shown: String = raw.chars().take(64).collect();
                    InvalidSetting::new(format!(
                        "allowed_networks: '{shown}' is not a CIDR (e.g. 203.0.113.0/24) or an address"
                    ))
                })?
                .trunc();
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(Networks(nets))
    }

    /// As stored (a JSON array of CIDRs); what cannot be read is left out, never widened
    /// to "anywhere": a stored list that reads empty allows nothing.
    pub fn from_stored(raw: Option<&str>) -> Networks {
        let Some(raw) = raw else {
            return Networks::default();
        };
        let items: Vec<String> = serde_json::from_str(raw).unwrap_or_default();
        let nets: Vec<ipnet::IpNet> = items
            .iter()
            .filter_map(|i| ipnet::IpNet::from_str(i).ok())
            .collect();
        if nets.is_empty() {
            // A list was set: keep the token closed rather than open it to everyone.
            return Networks(vec![ipnet::IpNet::from(IpAddr::from([0, 0, 0, 0])).trunc()]);
        }
        Networks(nets)
    }

    /// For storage: `None` when the token may be used from anywhere.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::json!(self.as_strings()).to_string())
    }

    pub fn as_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `client` may use the token (an unknown client only when
    /// no list is set).
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = client.map(crate::forwarded::canonical) else {
            return false;
        };
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// What a new token is bound by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub expires_at: Option<DateTime<Utc>>,
    pub networks: Networks,
}

/// Why a known, unrevoked token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired { at: DateTime<Utc> },
    OutsideNetworks,
}

impl Refusal {
    /// What the IdP's admin reads in the `401`'s SCIM error (never the allowed networks).
    pub fn message(self) -> String {
        match self {
            Refusal::Expired { at } => format!(
                "the bearer token expired at {}; ask the application's operator for a new one",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Refusal::OutsideNetworks => {
                "the bearer token may not be used from this network address".to_string()
            }
        }
    }

    /// The reason as connection health counts it.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Expired { .. } => "expired",
            Refusal::OutsideNetworks => "network",
        }
    }
}

/// Whether a token with these rules may be used by `client` at `now`. The network is
/// checked first: a request from elsewhere learns nothing about the token's expiry.
pub fn admit(
    expires_at: Option<DateTime<Utc>>,
    networks: &Networks,
    client: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if !networks.allows(client) {
        return Err(Refusal::OutsideNetworks);
    }
    match expires_at {
        Some(at) if at <= now => Err(Refusal::Expired { at }),
        _ => Ok(()),
    }
}

/// Where a token stands in its life at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// No expiry, or one more than [`WARN_AHEAD`] away.
    Live,
    /// Expires within [`WARN_AHEAD`]: warned.
    ExpiresSoon,
    Expired,
}

impl Lifetime {
    pub fn of(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Lifetime {
        match expires_at {
            Some(at) if at <= now => Lifetime::Expired,
            Some(at) if at - now <= WARN_AHEAD => Lifetime::ExpiresSoon,
            _ => Lifetime::Live,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lifetime::Live => "live",
            Lifetime::ExpiresSoon => "expires_soon",
            Lifetime::Expired => "expired",
        }
    }
}

/// A new token's expiry: an instant (`expires_at`) or a lifetime (`ttl`, e.g. `90d`), not
/// both; in the future either way. `None`: it never expires.
pub fn expiry(
    expires_at: Option<DateTime<Utc>>,
    ttl: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, InvalidSetting> {
    let at = match (expires_at, ttl) {
        (Some(_), Some(_)) => {
            return Err(InvalidSetting::new("give expires_at or ttl, not both"));
        }
        (Some(at), None) => at,
        (None, Some(raw)) => {
            let ttl = humantime::parse_duration(raw.trim()).map_err(|_| {
                let shown: String = raw.chars().take(64).collect();
                InvalidSetting::new(format!("ttl: '{shown}' is not a duration (e.g. 90d)"))
            })?;
            chrono::Duration::from_std(ttl)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .ok_or_else(|| InvalidSetting::new("ttl is too long"))?
        }
        (None, None) => return Ok(None),
    };
    if at <= now {
        return Err(InvalidSetting::new("the expiry must be in the future"));
    }
    Ok(Some(at))
}

/// How long the old token keeps working after a rotation: `24h` unless told, `0s` (at
/// once) to 30 days.
pub fn overlap(raw: Option<&str>) -> Result<Duration, InvalidSetting> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_OVERLAP);
    };
    let d = humantime::parse_duration(raw.trim()).map_err(|_| {
        let shown: String = raw.chars().take(64).collect();
        InvalidSetting::new(format!("overlap: '{shown}' is not a duration (e.g. 24h)"))
    })?;
    if d > MAX_OVERLAP {
        return Err(InvalidSetting::new("overlap must be at most 30d"));
    }
    Ok(d)
}

/// When the old token of a rotation at `now` stops working: after the overlap, or at
/// its own expiry if that comes first.
pub fn overlap_end(
    current: Option<DateTime<Utc>>,
    overlap: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let end = chrono::Duration::from_std(overlap)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now);
    current.map_or(end, |c| c.min(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn nets(items: &[&str]) -> Networks {
        Networks::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn networks_are_cidrs_or_addresses_and_junk_is_refused() {
        let n = nets(&["203.0.113.9/24", "2001:db8::1", "203.0.113.0/24"]);
        assert_eq!(n.as_strings(), vec!["203.0.113.0/24", "2001:db8::1/128"]);
        assert!(Networks::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(Networks::parse(&["office".into()]).is_err());
        assert!(Networks::parse(&[String::new()]).is_err());
        let many: Vec<String> = (0..=MAX_NETWORKS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert!(Networks::parse(&many).is_err());
        assert!(Networks::parse(&many[..MAX_NETWORKS]).is_ok());
    }

    #[test]
    fn a_list_allows_only_its_networks_and_no_list_allows_all() {
        let n = nets(&["203.0.113.0/24"]);
        assert!(n.allows(Some("203.0.113.77".parse().unwrap())));
        assert!(n.allows(Some("::ffff:203.0.113.77".parse().unwrap())));
        assert!(!n.allows(Some("198.51.100.1".parse().unwrap())));
        assert!(!n.allows(None));
        assert!(Networks::default().allows(None));
        assert_eq!(Networks::from_stored(n.to_stored().as_deref()), n);
        assert_eq!(Networks::default().to_stored(), None);
        // A stored list that cannot be read closes the token, never opens it.
        let broken = Networks::from_stored(Some("[\"junk\"]"));
        assert!(!broken.allows(Some("198.51.100.1".parse().unwrap())));
    }

    #[test]
    fn the_network_is_checked_before_the_expiry() {
        let now = at("2026-12-07T00:00:00Z");
        let n = nets(&["203.0.113.0/24"]);
        let inside = Some("203.0.113.1".parse().unwrap());
        let outside = Some("198.51.100.1".parse().unwrap());
        let past = Some(now - chrono::Duration::seconds(1));
        assert_eq!(admit(None, &n, inside, now), Ok(()));
        assert_eq!(
            admit(Some(now), &n, inside, now),
            Err(Refusal::Expired { at: now })
        );
        assert_eq!(admit(past, &n, outside, now), Err(Refusal::OutsideNetworks));
        assert_eq!(
            admit(Some(now + chrono::Duration::seconds(1)), &n, inside, now),
            Ok(())
        );
        assert!(Refusal::Expired { at: now }.message().contains("expired"));
    }

    #[test]
    fn expiry_is_an_instant_or_a_lifetime_in_the_future() {
        let now = at("2026-12-07T00:00:00Z");
        assert_eq!(expiry(None, None, now), Ok(None));
        assert_eq!(
            expiry(None, Some("90d"), now),
            Ok(Some(at("2027-03-07T00:00:00Z")))
        );
        assert_eq!(
            expiry(Some(at("2027-01-01T00:00:00Z")), None, now),
            Ok(Some(at("2027-01-01T00:00:00Z")))
        );
        assert!(expiry(Some(now), None, now).is_err());
        assert!(expiry(Some(at("2027-01-01T00:00:00Z")), Some("1d"), now).is_err());
        assert!(expiry(None, Some("soon"), now).is_err());
        assert!(expiry(None, Some("0s"), now).is_err());
    }

    #[test]
    fn lifetimes_warn_fourteen_days_ahead() {
        let now = at("2026-12-07T00:00:00Z");
        assert_eq!(Lifetime::of(None, now), Lifetime::Live);
        assert_eq!(
            Lifetime::of(Some(now + chrono::Duration::days(15)), now),
            Lifetime::Live
        );
        assert_eq!(
            Lifetime::of(Some(now + chrono::Duration::days(14)), now),
            Lifetime::ExpiresSoon
        );
        assert_eq!(Lifetime::of(Some(now), now), Lifetime::Expired);
    }

    #[test]
    fn an_overlap_is_at_most_thirty_days_and_never_outlives_the_old_token() {
        let now = at("2026-12-07T00:00:00Z");
        assert_eq!(overlap(None), Ok(DEFAULT_OVERLAP));
        assert_eq!(overlap(Some("0s")), Ok(Duration::ZERO));
        assert!(overlap(Some("31d")).is_err());
        assert!(overlap(Some("a while")).is_err());
        let day = Duration::from_secs(86_400);
        assert_eq!(overlap_end(None, day, now), at("2026-12-08T00:00:00Z"));
        let sooner = at("2026-12-07T06:00:00Z");
        assert_eq!(overlap_end(Some(sooner), day, now), sooner);
    }
}
