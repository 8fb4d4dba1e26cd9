//! What `offboard doctor` judges, as pure rules: each check's verdict from what was
//! read (configuration values, a token's use), so the same rule answers the same way in
//! the command and in tests. The reading itself is in `service::doctor`.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One line of the doctor's report. Messages never hold a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: String,
    pub status: Level,
    pub message: String,
}

impl Check {
    pub fn new(check: impl Into<String>, status: Level, message: impl Into<String>) -> Self {
        Check {
            check: check.into(),
            status,
            message: message.into(),
        }
    }

    pub fn ok(check: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(check, Level::Ok, message)
    }

    pub fn warn(check: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(check, Level::Warn, message)
    }

    pub fn fail(check: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(check, Level::Fail, message)
    }
}

/// Distinct characters below which a secret looks made by hand (`aaaa…`, `changeme…`):
/// `openssl rand -hex 32` gives 16, base64 more.
const MIN_DISTINCT: usize = 12;

/// The admin credentials: a shared secret (whose length the configuration already
/// enforces) should also look random; without any, the admin API refuses everything.
pub fn admin_credentials(secret: Option<&str>, public_keys: bool) -> Check {
    const NAME: &str = "config.admin_credentials";
    match (secret, public_keys) {
        (None, false) => Check::warn(
            NAME,
            "neither OFFBOARD_ADMIN_JWT_SECRET nor OFFBOARD_ADMIN_JWT_PUBLIC_KEYS is set: the admin API and the console refuse every request",
        ),
        (None, true) => Check::ok(NAME, "admin JWTs are verified with public keys"),
        (Some(s), _) => {
            let mut distinct: Vec<u8> = s.bytes().collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() < MIN_DISTINCT {
                Check::warn(
                    NAME,
                    format!(
                        "OFFBOARD_ADMIN_JWT_SECRET ({} bytes) uses only {} distinct characters: generate one with `openssl rand -hex 32`",
                        s.len(),
                        distinct.len()
                    ),
                )
            } else {
                Check::ok(
                    NAME,
                    format!("OFFBOARD_ADMIN_JWT_SECRET is set ({} bytes)", s.len()),
                )
            }
        }
    }
}

/// The listen address: one the server can bind, and where it listens.
pub fn listen(addr: &str) -> Check {
    const NAME: &str = "config.listen";
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => Check::ok(
            NAME,
            format!("{a} (this machine only: put a TLS proxy in front for the IdPs)"),
        ),
        Ok(a) if a.ip().is_unspecified() => Check::ok(
            NAME,
            format!("{a} (every interface: expose it only through TLS)"),
        ),
        Ok(a) => Check::ok(NAME, a.to_string()),
        Err(_) => match addr.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(_))) if !host.is_empty() => Check::ok(NAME, addr.to_string()),
            _ => Check::fail(
                NAME,
                format!("OFFBOARD_LISTEN '{addr}' is not host:port (e.g. 127.0.0.1:8080)"),
            ),
        },
    }
}

/// How long before a certificate's end the doctor starts warning.
pub const CERTIFICATE_WARN_BEFORE: chrono::Duration = chrono::Duration::days(14);

/// The TLS certificate `serve` answers with (read and matched with its key by the caller).
pub fn tls_certificate(not_after: DateTime<Utc>, now: DateTime<Utc>) -> Check {
    const NAME: &str = "config.tls";
    let left = not_after - now;
    if left <= chrono::Duration::zero() {
        Check::fail(
            NAME,
            format!(
                "the certificate expired at {}: renew it (serve reloads it when the files change)",
                not_after.to_rfc3339()
            ),
        )
    } else if left < CERTIFICATE_WARN_BEFORE {
        Check::warn(
            NAME,
            format!(
                "the certificate expires in {} ({}): renew it now",
                crate::domain::text::human_duration(left.to_std().unwrap_or_default()),
                not_after.to_rfc3339()
            ),
        )
    } else {
        Check::ok(
            NAME,
            format!(
                "HTTPS; the certificate is valid until {}",
                not_after.to_rfc3339()
            ),
        )
    }
}

/// The address IdPs call: `OFFBOARD_PUBLIC_URL`, or what `serve` answers at. IdPs call
/// only HTTPS; once an organization has a SCIM token they are expected to.
pub fn public_url(public_url: Option<&str>, listen: &str, tls: bool, idps_expected: bool) -> Check {
    const NAME: &str = "config.public_url";
    let url = match public_url {
        Some(u) => u.to_string(),
        None => format!("{}://{listen}", if tls { "https" } else { "http" }),
    };
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let local = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.starts_with("https://") {
        Check::ok(NAME, format!("{url}/scim/v2"))
    } else if !idps_expected {
        Check::ok(
            NAME,
            format!("{url}/scim/v2 (no SCIM token yet; IdPs will need an https:// address)"),
        )
    } else if local {
        Check::warn(
            NAME,
            format!(
                "{url}/scim/v2 is this machine's, over HTTP: enough to try offboard, but IdPs call only HTTPS addresses they can reach (set OFFBOARD_PUBLIC_URL behind a TLS proxy, or OFFBOARD_TLS_CERT and OFFBOARD_TLS_KEY)"
            ),
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "{url}/scim/v2 is not HTTPS, and SCIM tokens exist: Okta, Entra ID and JumpCloud call only https:// (set OFFBOARD_PUBLIC_URL to the proxy's https:// address, or OFFBOARD_TLS_CERT and OFFBOARD_TLS_KEY)"
            ),
        )
    }
}

/// How long deleted accounts' personal data stays restorable.
pub fn deletion_grace(grace: Duration, purge_interval: Duration) -> Check {
    const NAME: &str = "config.deletion_grace";
    const LONG: Duration = Duration::from_secs(90 * 24 * 3600);
    if grace.is_zero() {
        Check::ok(NAME, "0: personal data is erased at deletion")
    } else if grace > LONG {
        Check::warn(
            NAME,
            format!(
                "{}: deleted accounts' personal data stays more than 90 days; is that what your erasure promise says?",
                crate::domain::text::human_duration(grace)
            ),
        )
    } else if purge_interval > grace {
        Check::warn(
            NAME,
            format!(
                "{} but the purge runs every {} (OFFBOARD_PURGE_INTERVAL): erasure comes late",
                crate::domain::text::human_duration(grace),
                crate::domain::text::human_duration(purge_interval)
            ),
        )
    } else {
        Check::ok(
            NAME,
            format!(
                "{}: deleted accounts can be restored until then",
                crate::domain::text::human_duration(grace)
            ),
        )
    }
}

/// How long delivered events are kept.
pub fn event_retention(retention: Duration) -> Check {
    const NAME: &str = "config.event_retention";
    const LONG: Duration = Duration::from_secs(365 * 24 * 3600);
    if retention > LONG {
        Check::warn(
            NAME,
            format!(
                "{}: events (which name users) are kept more than a year after delivery",
                crate::domain::text::human_duration(retention)
            ),
        )
    } else {
        Check::ok(
            NAME,
            format!(
                "{} after every delivery is final",
                crate::domain::text::human_duration(retention)
            ),
        )
    }
}

/// How long since a SCIM token was used before the doctor mentions it.
pub const UNUSED_AFTER: chrono::Duration = chrono::Duration::days(30);
/// A token made this recently and never used is not worth a warning yet.
const NEW_TOKEN: chrono::Duration = chrono::Duration::days(1);

/// A SCIM token never used (a connector set up and forgotten, or never configured in the
/// IdP) or unused for 30 days (an IdP that stopped pushing); `None` when it is in use.
pub fn token_use(
    token_id: &str,
    organization_id: &str,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Check> {
    let name = format!("scim_token.{token_id}");
    match last_used_at {
        None if now - created_at > NEW_TOKEN => Some(Check::warn(
            name,
            format!(
                "organization {organization_id}: never used since it was made on {}; revoke it if no IdP will use it",
                created_at.format("%Y-%m-%d")
            ),
        )),
        Some(at) if now - at > UNUSED_AFTER => Some(Check::warn(
            name,
            format!(
                "organization {organization_id}: unused since {}; is its IdP still pushing?",
                at.format("%Y-%m-%d")
            ),
        )),
        _ => None,
    }
}

/// A token that expired or expires within 14 days.
pub fn token_expiry(
    token_id: &str,
    organization_id: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Check> {
    use super::token::Lifetime;
    let at = expires_at?;
    let name = format!("scim_token.{token_id}.expiry");
    match Lifetime::of(Some(at), now) {
        Lifetime::Live => None,
        Lifetime::ExpiresSoon => Some(Check::warn(
            name,
            format!(
                "organization {organization_id}: expires on {} (in {} days); rotate it (offboard token rotate) and give the IdP the new one",
                at.format("%Y-%m-%d %H:%M UTC"),
                (at - now).num_days()
            ),
        )),
        Lifetime::Expired => Some(Check::warn(
            name,
            format!(
                "organization {organization_id}: expired on {}; its IdP is refused: make a new token, or revoke this one",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
        )),
    }
}

/// The exit status a report means: failing when any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Level::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_secret_is_flagged_and_a_random_one_is_not() {
        assert_eq!(
            admin_credentials(Some(&"a".repeat(40)), false).status,
            Level::Warn
        );
        assert_eq!(
            admin_credentials(Some("changemechangemechangemechangeme"), false).status,
            Level::Warn
        );
        let random = "3f9a1c0e7b2d4f6a8c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a";
        let c = admin_credentials(Some(random), false);
        assert_eq!(c.status, Level::Ok);
        assert!(!c.message.contains(random), "never the secret");
        assert_eq!(admin_credentials(None, false).status, Level::Warn);
        assert_eq!(admin_credentials(None, true).status, Level::Ok);
    }

    #[test]
    fn listen_addresses_must_be_host_and_port() {
        assert_eq!(listen("127.0.0.1:8080").status, Level::Ok);
        assert_eq!(listen("0.0.0.0:8080").status, Level::Ok);
        assert_eq!(listen("localhost:8080").status, Level::Ok);
        assert_eq!(listen("8080").status, Level::Fail);
        assert_eq!(listen("127.0.0.1:http").status, Level::Fail);
    }

    #[test]
    fn a_long_or_late_erasure_is_flagged() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(deletion_grace(Duration::ZERO, day).status, Level::Ok);
        assert_eq!(deletion_grace(30 * day, day).status, Level::Ok);
        assert_eq!(deletion_grace(100 * day, day).status, Level::Warn);
        assert_eq!(deletion_grace(day, 2 * day).status, Level::Warn);
        assert_eq!(event_retention(30 * day).status, Level::Ok);
        assert_eq!(event_retention(400 * day).status, Level::Warn);
    }

    #[test]
    fn certificates_are_flagged_before_they_expire() {
        let now = Utc::now();
        let days = chrono::Duration::days;
        assert_eq!(tls_certificate(now + days(90), now).status, Level::Ok);
        assert_eq!(tls_certificate(now + days(13), now).status, Level::Warn);
        assert!(
            tls_certificate(now + days(13), now)
                .message
                .contains("expires in 13 days")
        );
        assert_eq!(tls_certificate(now - days(1), now).status, Level::Fail);
        assert_eq!(tls_certificate(now, now).status, Level::Fail);
    }

    #[test]
    fn idps_need_an_https_address_once_they_have_tokens() {
        let listen = "0.0.0.0:8080";
        assert_eq!(
            public_url(Some("https://scim.example.com"), listen, false, true).status,
            Level::Ok
        );
        assert_eq!(public_url(None, listen, true, true).status, Level::Ok);
        assert_eq!(
            public_url(Some("http://scim.example.com"), listen, false, true).status,
            Level::Fail
        );
        assert_eq!(public_url(None, listen, false, true).status, Level::Fail);
        assert_eq!(
            public_url(None, "127.0.0.1:8080", false, true).status,
            Level::Warn,
            "this machine only: a trial"
        );
        assert_eq!(
            public_url(Some("http://localhost:8080"), listen, false, true).status,
            Level::Warn
        );
        assert_eq!(public_url(None, listen, false, false).status, Level::Ok);
    }

    #[test]
    fn durations_are_written_for_people() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(
            event_retention(30 * day).message,
            "30 days after every delivery is final"
        );
        assert_eq!(
            deletion_grace(day, Duration::from_secs(3600)).message,
            "1 day: deleted accounts can be restored until then"
        );
    }

    #[test]
    fn tokens_never_or_long_unused_are_flagged() {
        let now = Utc::now();
        let old = now - chrono::Duration::days(40);
        assert!(token_use("tok_1", "org_1", old, None, now).is_some());
        assert!(
            token_use(
                "tok_1",
                "org_1",
                now - chrono::Duration::hours(2),
                None,
                now
            )
            .is_none()
        );
        assert!(token_use("tok_1", "org_1", old, Some(old), now).is_some());
        assert!(token_use("tok_1", "org_1", old, Some(now), now).is_none());
    }

    #[test]
    fn a_token_is_warned_fourteen_days_before_it_expires_and_after() {
        let now = Utc::now();
        assert_eq!(token_expiry("tok_1", "org_1", None, now), None);
        let far = now + chrono::Duration::days(30);
        assert_eq!(token_expiry("tok_1", "org_1", Some(far), now), None);
        let soon = token_expiry("tok_1", "org_1", Some(now + chrono::Duration::days(3)), now);
        assert!(soon.is_some_and(|c| c.status == Level::Warn && c.message.contains("rotate")));
        let past = token_expiry("tok_1", "org_1", Some(now - chrono::Duration::days(1)), now);
        assert!(past.is_some_and(|c| c.message.contains("expired on")));
    }
}
