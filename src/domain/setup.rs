//! Setup links, as an operator asks for them: which identity provider the IT admin is
//! guided through, and how long the link lives. Parsed once: the admin API and the CLI
//! accept and refuse the same values.

use std::time::Duration;

use super::organization::InvalidSetting;

/// How long a link lives when the operator does not say.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest a link may live: it is a credential handed to someone outside.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Live links an organization may have at once (a loop creating links stops here).
pub const MAX_LIVE_LINKS: u64 = 100;

/// The identity providers the setup page has a guide for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idp {
    Okta,
    Entra,
    JumpCloud,
    OneLogin,
    Google,
    Other,
}

impl Idp {
    pub const ALL: [Idp; 6] = [
        Idp::Okta,
        Idp::Entra,
        Idp::JumpCloud,
        Idp::OneLogin,
        Idp::Google,
        Idp::Other,
    ];

    /// The name the API, the CLI and the page's addresses use.
    pub fn name(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::JumpCloud => "jumpcloud",
            Idp::OneLogin => "onelogin",
            Idp::Google => "google",
            Idp::Other => "other",
        }
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Idp::Okta => "Okta",
            Idp::Entra => "Microsoft Entra ID",
            Idp::JumpCloud => "JumpCloud",
            Idp::OneLogin => "OneLogin",
            Idp::Google => "Google Workspace",
            Idp::Other => "another SCIM 2.0 client",
        }
    }

    pub fn parse(raw: &str) -> Result<Idp, InvalidSetting> {
        Idp::ALL
            .into_iter()
            .find(|i| i.name() == raw.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Idp::ALL.iter().map(|i| i.name()).collect();
                InvalidSetting::new(format!("idp must be one of {}", known.join(", ")))
            })
    }
}

/// A link's lifetime: `7d` by default, at most 30 days, at least a minute.
pub fn link_ttl(raw: Option<&str>) -> Result<Duration, InvalidSetting> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_TTL);
    };
    let ttl = humantime::parse_duration(raw.trim()).map_err(|_| {
        InvalidSetting::new(format!("ttl: '{raw}' is not a duration (e.g. 12h, 7d)"))
    })?;
    if ttl < Duration::from_secs(60) || ttl > MAX_TTL {
        return Err(InvalidSetting::new("ttl must be between 1m and 30d"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_lives_seven_days_unless_told_and_thirty_at_most() {
        assert_eq!(link_ttl(None), Ok(DEFAULT_TTL));
        assert_eq!(link_ttl(Some("12h")), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(link_ttl(Some("30d")), Ok(MAX_TTL));
        assert!(link_ttl(Some("31d")).is_err());
        assert!(link_ttl(Some("30s")).is_err());
        assert!(link_ttl(Some("soon")).is_err());
    }

    #[test]
    fn idps_parse_by_their_names_only() {
        for i in Idp::ALL {
            assert_eq!(Idp::parse(i.name()), Ok(i));
        }
        assert!(Idp::parse("ping").is_err());
        assert!(Idp::parse("Okta").is_err());
    }
}
