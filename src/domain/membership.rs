//! Membership states and transitions.

use crate::webhook::event::EventType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipStatus {
    Active,
    Inactive,
    PendingInvite,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "ACTIVE",
            MembershipStatus::Inactive => "INACTIVE",
            MembershipStatus::PendingInvite => "PENDING_INVITE",
        }
    }

    /// Reads a stored status. An unknown value is treated as inactive: the safe side for a
    /// service whose job is to end access.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "ACTIVE" => MembershipStatus::Active,
            "PENDING_INVITE" => MembershipStatus::PendingInvite,
            _ => MembershipStatus::Inactive,
        }
    }

    /// SCIM `active` is `status == ACTIVE`.
    pub fn is_active(self) -> bool {
        self == MembershipStatus::Active
    }
}

/// What an `active` value asks of a membership in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub from: MembershipStatus,
    pub to: MembershipStatus,
    pub event: EventType,
    /// Deactivation ends access at once: the organization's sessions go with it.
    pub revoke_sessions: bool,
}

/// `None` when nothing changes (already in that state, or `active` absent): repeated
/// calls are then no-ops that emit nothing.
pub fn status_change(
    current: MembershipStatus,
    desired_active: Option<bool>,
) -> Option<StatusChange> {
    match (current, desired_active?) {
        (MembershipStatus::Active, false) | (MembershipStatus::PendingInvite, false) => {
            Some(StatusChange {
                from: current,
                to: MembershipStatus::Inactive,
                event: EventType::MembershipDeactivated,
                revoke_sessions: true,
            })
        }
        (MembershipStatus::Inactive, true) | (MembershipStatus::PendingInvite, true) => {
            Some(StatusChange {
                from: current,
                to: MembershipStatus::Active,
                event: EventType::MembershipReactivated,
                revoke_sessions: false,
            })
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFate {
    /// The user still belongs to another organization: the account stays.
    Keep,
    /// That was the last membership: the account is deleted (PII erased, tombstone kept).
    Delete,
}

pub fn account_fate_after_removal(other_live_memberships: u64) -> AccountFate {
    if other_live_memberships == 0 {
        AccountFate::Delete
    } else {
        AccountFate::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MembershipStatus::*;

    #[test]
    fn deactivation_ends_access_and_revokes_sessions() {
        let c = status_change(Active, Some(false)).expect("change");
        assert_eq!(
            (c.to, c.event, c.revoke_sessions),
            (Inactive, EventType::MembershipDeactivated, true)
        );
    }

    #[test]
    fn reactivation_reverses_deactivation() {
        let c = status_change(Inactive, Some(true)).expect("change");
        assert_eq!(
            (c.to, c.event, c.revoke_sessions),
            (Active, EventType::MembershipReactivated, false)
        );
    }

    #[test]
    fn repeating_a_state_is_not_a_change() {
        assert_eq!(status_change(Inactive, Some(false)), None);
        assert_eq!(status_change(Active, Some(true)), None);
        assert_eq!(status_change(Active, None), None);
    }

    #[test]
    fn stored_statuses_read_back_as_written_and_unknown_ones_end_access() {
        for (status, stored) in [
            (Active, "ACTIVE"),
            (Inactive, "INACTIVE"),
            (PendingInvite, "PENDING_INVITE"),
        ] {
            assert_eq!(status.as_str(), stored);
            assert_eq!(MembershipStatus::from_stored(stored), status);
        }
        assert_eq!(MembershipStatus::from_stored("SUSPENDED"), Inactive);
        assert_eq!(MembershipStatus::from_stored("active"), Inactive);
    }

    #[test]
    fn only_an_active_membership_is_scim_active() {
        assert!(Active.is_active());
        assert!(!Inactive.is_active());
        assert!(!PendingInvite.is_active());
    }

    #[test]
    fn a_pending_invite_follows_the_idp_either_way() {
        let c = status_change(PendingInvite, Some(false)).expect("change");
        assert_eq!(
            (c.from, c.to, c.revoke_sessions),
            (PendingInvite, Inactive, true)
        );
        let c = status_change(PendingInvite, Some(true)).expect("change");
        assert_eq!(
            (c.from, c.to, c.revoke_sessions),
            (PendingInvite, Active, false)
        );
    }

    #[test]
    fn the_last_membership_takes_the_account_with_it() {
        assert_eq!(account_fate_after_removal(0), AccountFate::Delete);
        assert_eq!(account_fate_after_removal(1), AccountFate::Keep);
    }
}
