//! Suspension: a ban without data loss. A suspended account keeps its data and every
//! organization's membership (SCIM `active` stays what each IdP set, so no IdP sees drift
//! and fights it), but its sessions end and no new one starts until the operator lifts
//! the suspension or its `until` passes.

use chrono::{DateTime, Utc};
use ids::{OrganizationId, UserId};

use super::events::{Event, Id, SuspensionData};

/// The longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A valid suspension request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub reason: Option<String>,
    /// `None`: until lifted.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuspensionError {
    #[error("until must be in the future")]
    UntilNotInFuture,
    #[error("reason may hold at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("reason must not contain control characters")]
    ReasonControl,
}

impl Suspension {
    /// A blank reason is no reason; `until` must lie after `now`.
    pub fn new(
        reason: Option<&str>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, SuspensionError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            if r.chars().count() > MAX_REASON_CHARS {
                return Err(SuspensionError::ReasonTooLong);
            }
            if r.chars().any(char::is_control) {
                return Err(SuspensionError::ReasonControl);
            }
        }
        if until.is_some_and(|u| u <= now) {
            return Err(SuspensionError::UntilNotInFuture);
        }
        Ok(Suspension {
            reason: reason.map(str::to_string),
            until,
        })
    }
}

/// Whether a suspension ending at `until` still holds at `now`.
pub fn in_effect(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    until.is_none_or(|u| u > now)
}

/// `user.suspended` for one of the account's organizations (the reason stays out: it may
/// name the person, and events outlive the account's data).
pub fn suspended_event(
    organization_id: &OrganizationId,
    user_id: &UserId,
    until: Option<DateTime<Utc>>,
) -> Event {
    Event::UserSuspended(SuspensionData {
        organization: Id::of(organization_id),
        user: Id::of(user_id),
        until,
        expired: None,
    })
}

/// `user.unsuspended` for one of the account's organizations; `expired` when its time
/// ran out rather than the operator lifting it.
pub fn unsuspended_event(
    organization_id: &OrganizationId,
    user_id: &UserId,
    expired: bool,
) -> Event {
    Event::UserUnsuspended(SuspensionData {
        organization: Id::of(organization_id),
        user: Id::of(user_id),
        until: None,
        expired: Some(expired),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn reasons_are_trimmed_bounded_and_printable() {
        let now = Utc::now();
        let s = Suspension::new(Some("  spam  "), None, now).unwrap();
        assert_eq!(s.reason.as_deref(), Some("spam"));
        assert_eq!(
            Suspension::new(Some("   "), None, now).unwrap().reason,
            None
        );
        let longest = "é".repeat(MAX_REASON_CHARS);
        assert!(Suspension::new(Some(&longest), None, now).is_ok());
        let over = "é".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            Suspension::new(Some(&over), None, now),
            Err(SuspensionError::ReasonTooLong)
        );
        assert_eq!(
            Suspension::new(Some("a\u{0}b"), None, now),
            Err(SuspensionError::ReasonControl)
        );
    }

    #[test]
    fn until_must_be_after_now_and_ends_the_suspension_at_that_instant() {
        let now = Utc::now();
        assert_eq!(
            Suspension::new(None, Some(now), now),
            Err(SuspensionError::UntilNotInFuture)
        );
        let later = now + Duration::seconds(1);
        assert_eq!(
            Suspension::new(None, Some(later), now).unwrap().until,
            Some(later)
        );
        assert!(in_effect(None, now));
        assert!(in_effect(Some(later), now));
        assert!(!in_effect(Some(later), later), "ends at until");
        assert!(!in_effect(Some(now), later));
    }

    #[test]
    fn events_carry_the_end_but_never_the_reason() {
        let until = Utc::now() + Duration::days(1);
        let e = suspended_event(
            &OrganizationId::from_stored("org_1"),
            &UserId::from_stored("usr_1"),
            Some(until),
        );
        assert_eq!(e.event_type().as_str(), "user.suspended");
        assert_eq!(e.user_id(), Some("usr_1"));
        let data = e.data();
        assert_eq!(data["organization"]["id"], "org_1");
        assert!(data["until"].is_string());
        assert!(data.get("reason").is_none() && data.get("expired").is_none());
        let e = unsuspended_event(
            &OrganizationId::from_stored("org_1"),
            &UserId::from_stored("usr_1"),
            true,
        );
        assert_eq!(e.event_type().as_str(), "user.unsuspended");
        assert_eq!(e.data()["expired"], true);
        assert!(e.data().get("until").is_none());
    }
}
