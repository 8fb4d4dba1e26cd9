//! An organization's settings as an operator gives them, parsed once: the admin API and
//! the CLI accept and refuse exactly the same values.

use std::time::Duration;

/// A setting refused, with a message that names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(String);

impl InvalidSetting {
    pub fn new(message: impl Into<String>) -> Self {
        InvalidSetting(message.into())
    }
}

/// 1 to 200 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

pub const MAX_NAME_CHARS: usize = 200;

impl OrganizationName {
    pub fn parse(raw: &str) -> Result<Self, InvalidSetting> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidSetting(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        Ok(OrganizationName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// How long deactivated memberships are kept (`30d`, `12h`), in seconds.
pub fn retention_secs(raw: &str) -> Result<i64, InvalidSetting> {
    let d: Duration = humantime::parse_duration(raw.trim()).map_err(|_| {
        InvalidSetting(format!(
            "deactivated_retention: '{raw}' is not a duration (e.g. 30s, 5m, 2h, 30d)"
        ))
    })?;
    i64::try_from(d.as_secs())
        .map_err(|_| InvalidSetting("deactivated_retention is too large".into()))
}

/// The most a rate or a burst may be set to (a typo must not disable the limit).
pub const MAX_RATE: i32 = 100_000;

/// An organization's own SCIM request rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: i32,
    pub burst: i32,
}

impl RateLimit {
    pub fn new(per_second: i32, burst: i32) -> Result<Self, InvalidSetting> {
        if !(1..=MAX_RATE).contains(&per_second) || !(1..=MAX_RATE).contains(&burst) {
            return Err(InvalidSetting(format!(
                "rate_limit.per_second and rate_limit.burst must be between 1 and {MAX_RATE}"
            )));
        }
        Ok(RateLimit { per_second, burst })
    }
}

/// The longest an operator may keep full request bodies for one organization.
pub const MAX_FULL_BODY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Until when the request inspector keeps full bodies for an organization: a time
/// (`2026-11-27T09:00:00Z`) or a span from now (`2h`), in the future and at most 24
/// hours away.
pub fn full_bodies_until(
    raw: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, InvalidSetting> {
    let raw = raw.trim();
    let until = match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => {
            let span = humantime::parse_duration(raw)
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .ok_or_else(|| {
                    InvalidSetting(format!(
                        "inspect_full_bodies_until: '{raw}' is neither a time (RFC 3339) nor a span (e.g. 2h)"
                    ))
                })?;
            now.checked_add_signed(span)
                .ok_or_else(|| InvalidSetting("inspect_full_bodies_until is too far away".into()))?
        }
    };
    if until <= now {
        return Err(InvalidSetting(
            "inspect_full_bodies_until must be in the future (null turns full bodies off)".into(),
        ));
    }
    if until - now > MAX_FULL_BODY_WINDOW {
        return Err(InvalidSetting(
            "inspect_full_bodies_until may be at most 24 hours away".into(),
        ));
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_body_window_is_in_the_future_and_at_most_a_day_long() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            full_bodies_until("2h", now).unwrap(),
            now + chrono::Duration::hours(2)
        );
        assert_eq!(
            full_bodies_until("2026-11-27T12:00:00Z", now).unwrap(),
            now + chrono::Duration::hours(24)
        );
        assert!(full_bodies_until("2026-11-27T12:00:01Z", now).is_err());
        assert!(full_bodies_until("25h", now).is_err());
        assert!(full_bodies_until("2026-11-26T11:59:59Z", now).is_err());
        assert!(full_bodies_until("0s", now).is_err());
        assert!(full_bodies_until("soon", now).is_err());
        assert!(full_bodies_until("99999999999999d", now).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(OrganizationName::parse("  Acme ").unwrap().as_str(), "Acme");
        assert_eq!(
            OrganizationName::parse(" Acme").unwrap().into_string(),
            "Acme"
        );
        assert!(OrganizationName::parse("   ").is_err());
        assert!(OrganizationName::parse(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(OrganizationName::parse(&"é".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn retention_is_a_duration_in_seconds() {
        assert_eq!(retention_secs("30d"), Ok(30 * 86_400));
        assert_eq!(retention_secs(" 90s "), Ok(90));
        assert!(retention_secs("soon").is_err());
        assert!(retention_secs("").is_err());
    }

    #[test]
    fn rates_stay_between_one_and_the_cap() {
        assert!(RateLimit::new(1, 1).is_ok());
        assert!(RateLimit::new(MAX_RATE, MAX_RATE).is_ok());
        assert!(RateLimit::new(0, 10).is_err());
        assert!(RateLimit::new(10, 0).is_err());
        assert!(RateLimit::new(MAX_RATE + 1, 10).is_err());
        assert!(RateLimit::new(10, MAX_RATE + 1).is_err());
    }
}
