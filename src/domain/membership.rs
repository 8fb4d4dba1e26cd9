//! Membership states and transitions.

use super::events::{
    Event, Id, MembershipData, MembershipInfo, SessionsRevokedData, UserData, UserRef, UserView,
    previous_attributes,
};
use ids::{MembershipId, OrganizationId, UserId};

pub use super::status::MembershipStatus;

/// A membership as the rules see it: whose, where, and in which state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: MembershipId,
    /// The id the organization's IdP knows the user by.
    pub scim_id: String,
    pub organization_id: OrganizationId,
    /// The account.
    pub user_id: UserId,
    pub status: MembershipStatus,
    /// The id the organization's IdP gave the user.
    pub external_id: Option<String>,
    /// The organization's view of the user, for the events that describe the user
    /// (filled in by the use cases that emit them).
    pub view: Option<UserView>,
}

impl Membership {
    /// How events name the membership, moving from `previous` to `status`.
    pub fn info(
        &self,
        status: MembershipStatus,
        previous: Option<MembershipStatus>,
    ) -> MembershipInfo {
        MembershipInfo {
            id: self.id.to_string(),
            scim_id: self.scim_id.clone(),
            status,
            previous_status: previous,
        }
    }

    /// How events name the user: with the view when there is one (the user as the change
    /// left it).
    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.user_id.to_string(),
            external_id: self.external_id.clone(),
            view: self.view.clone(),
        }
    }

    fn data(&self, status: MembershipStatus, previous: Option<MembershipStatus>) -> MembershipData {
        let mut data = MembershipData::new(
            &self.organization_id,
            &self.user_id,
            self.info(status, previous),
        );
        data.user = self.user_ref();
        data
    }

    /// `membership.created` (and `user.created` before it when the account is new).
    pub fn created_events(&self, account_created: bool) -> Vec<Event> {
        let mut events = Vec::new();
        if account_created {
            let mut data = UserData::new(&self.organization_id, &self.user_id);
            data.user = self.user_ref();
            events.push(Event::UserCreated(data));
        }
        events.push(Event::MembershipCreated(self.data(self.status, None)));
        events
    }

    /// `membership.created` for a membership a restore brought back.
    pub fn restored_event(&self) -> Event {
        let mut data = self.data(self.status, None);
        data.restored = Some(true);
        Event::MembershipCreated(data)
    }
}

/// What an `active` value asks of a membership in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub from: MembershipStatus,
    pub to: MembershipStatus,
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
                revoke_sessions: true,
            })
        }
        (MembershipStatus::Inactive, true) | (MembershipStatus::PendingInvite, true) => {
            Some(StatusChange {
                from: current,
                to: MembershipStatus::Active,
                revoke_sessions: false,
            })
        }
        _ => None,
    }
}

/// A replace or patch of a user, decided: the status change (if any) and whether the
/// organization's record changes. `None` from `plan_update` means nothing changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserUpdate {
    pub status: Option<StatusChange>,
    pub record_changed: bool,
}

pub fn plan_update(
    current: MembershipStatus,
    desired_active: Option<bool>,
    record_changed: bool,
) -> Option<UserUpdate> {
    let status = status_change(current, desired_active);
    (status.is_some() || record_changed).then_some(UserUpdate {
        status,
        record_changed,
    })
}

impl UserUpdate {
    /// The status the membership ends in.
    pub fn next_status(&self, current: MembershipStatus) -> MembershipStatus {
        self.status.map_or(current, |c| c.to)
    }

    /// Whether the update ends the user's access (what the deprovisioning guard counts).
    pub fn deprovisions(&self) -> bool {
        self.status
            .is_some_and(|c| c.to == MembershipStatus::Inactive)
    }

    /// The events reporting the update of `m` (the membership, with the user as the
    /// change left it) from `before` (the user as it was), once the sessions it revoked
    /// are counted: the status change (with `sessions.revoked` when any ended), then
    /// `membership.updated` when the record changed; each with `previous_attributes`.
    pub fn events(&self, m: &Membership, before: &UserRef, sessions_revoked: u64) -> Vec<Event> {
        let previous = previous_attributes(before, &m.user_ref());
        let data = |status, from| {
            let mut data = m.data(status, Some(from));
            data.previous_attributes = Some(previous.clone());
            data
        };
        let mut events = Vec::new();
        if let Some(c) = self.status {
            let mut data = data(c.to, c.from);
            data.sessions_revoked = Some(sessions_revoked);
            events.push(if c.to == MembershipStatus::Inactive {
                Event::MembershipDeactivated(data)
            } else {
                Event::MembershipReactivated(data)
            });
            if sessions_revoked > 0 {
                events.push(sessions_revoked_event(m, sessions_revoked));
            }
        }
        if self.record_changed {
            events.push(Event::MembershipUpdated(data(
                self.next_status(m.status),
                m.status,
            )));
        }
        events
    }
}

pub(crate) fn sessions_revoked_event(m: &Membership, count: u64) -> Event {
    Event::SessionsRevoked(SessionsRevokedData {
        organization: Id::of(&m.organization_id),
        user: Id::of(&m.user_id),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MembershipStatus::*;
    use ids::{MembershipId, OrganizationId, UserId};

    fn member(status: MembershipStatus) -> Membership {
        Membership {
            id: MembershipId::from_stored("mem_1"),
            scim_id: "mem_1".into(),
            organization_id: OrganizationId::from_stored("org_1"),
            user_id: UserId::from_stored("usr_1"),
            status,
            external_id: None,
            view: None,
        }
    }

    #[test]
    fn deactivation_ends_access_and_revokes_sessions() {
        let c = status_change(Active, Some(false)).expect("change");
        assert_eq!((c.to, c.revoke_sessions), (Inactive, true));
    }

    #[test]
    fn reactivation_reverses_deactivation() {
        let c = status_change(Inactive, Some(true)).expect("change");
        assert_eq!((c.to, c.revoke_sessions), (Active, false));
    }

    #[test]
    fn repeating_a_state_is_not_a_change() {
        assert_eq!(status_change(Inactive, Some(false)), None);
        assert_eq!(status_change(Active, Some(true)), None);
        assert_eq!(status_change(Active, None), None);
        assert_eq!(plan_update(Active, Some(true), false), None);
    }

    #[test]
    fn only_an_update_that_ends_access_deprovisions() {
        let deactivate = plan_update(Active, Some(false), false).expect("a change");
        assert!(deactivate.deprovisions());
        let deactivate_and_rename = plan_update(Active, Some(false), true).expect("a change");
        assert!(deactivate_and_rename.deprovisions());
        let reactivate = plan_update(Inactive, Some(true), false).expect("a change");
        assert!(!reactivate.deprovisions());
        let rename = plan_update(Inactive, Some(false), true).expect("a change");
        assert!(!rename.deprovisions(), "already inactive: nothing is ended");
        let pending = plan_update(PendingInvite, Some(false), false).expect("a change");
        assert!(pending.deprovisions());
    }

    #[test]
    fn statuses_have_their_scim_names() {
        for (status, stored) in [
            (Active, "ACTIVE"),
            (Inactive, "INACTIVE"),
            (PendingInvite, "PENDING_INVITE"),
        ] {
            assert_eq!(status.as_str(), stored);
            assert_eq!(serde_json::to_value(status).unwrap(), stored);
        }
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

    fn types(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.event_type().as_str()).collect()
    }

    #[test]
    fn a_deactivation_reports_the_sessions_it_ended() {
        let m = member(Active);
        let plan = plan_update(Active, Some(false), false).expect("plan");
        assert_eq!(plan.next_status(Active), Inactive);
        let events = plan.events(&m, &m.user_ref(), 2);
        assert_eq!(
            types(&events),
            ["membership.deactivated", "sessions.revoked"]
        );
        assert_eq!(events[0].data()["sessions_revoked"], 2);
        assert_eq!(events[0].data()["membership"]["previous_status"], "ACTIVE");
        assert_eq!(events[1].data()["count"], 2);
        assert_eq!(
            types(&plan.events(&m, &m.user_ref(), 0)),
            ["membership.deactivated"]
        );
    }

    #[test]
    fn a_record_change_is_reported_after_the_status_change() {
        let m = member(Inactive);
        let plan = plan_update(Inactive, Some(true), true).expect("plan");
        let events = plan.events(&m, &m.user_ref(), 0);
        assert_eq!(
            types(&events),
            ["membership.reactivated", "membership.updated"]
        );
        assert_eq!(events[1].data()["membership"]["status"], "ACTIVE");
        assert_eq!(
            events[1].data()["membership"]["previous_status"],
            "INACTIVE"
        );
        let only_record = plan_update(Active, None, true).expect("plan");
        assert_eq!(
            types(&only_record.events(&member(Active), &member(Active).user_ref(), 0)),
            ["membership.updated"]
        );
    }

    #[test]
    fn a_new_account_is_announced_before_its_membership() {
        let m = member(Active);
        assert_eq!(
            types(&m.created_events(true)),
            ["user.created", "membership.created"]
        );
        assert_eq!(types(&m.created_events(false)), ["membership.created"]);
        assert_eq!(m.restored_event().data()["restored"], true);
    }

    fn view(email: &str, status: MembershipStatus) -> UserView {
        UserView {
            user_name: Some("ada@example.com".into()),
            email: Some(email.into()),
            name: None,
            display_name: Some("Ada".into()),
            active: status == Active,
            status,
            groups: Vec::new(),
            enterprise: None,
            custom_attributes: Default::default(),
        }
    }

    #[test]
    fn previous_attributes_hold_what_the_change_altered_and_only_that() {
        let mut was = member(Active);
        was.view = Some(view("old@example.com", Active));
        let mut now = member(Active);
        now.view = Some(view("new@example.com", Inactive));
        now.external_id = Some("ext-2".into());
        let plan = plan_update(Active, Some(false), true).expect("plan");
        let events = plan.events(&now, &was.user_ref(), 0);
        let expected = serde_json::json!({
            "active": true,
            "status": "ACTIVE",
            "email": "old@example.com",
            "external_id": null,
        });
        assert_eq!(
            types(&events),
            ["membership.deactivated", "membership.updated"]
        );
        for e in &events {
            assert_eq!(e.data()["previous_attributes"], expected, "{e:?}");
            assert_eq!(e.data()["user"]["email"], "new@example.com");
        }
        // A change outside the view: present, empty.
        let same = plan_update(Active, None, true).expect("plan");
        let events = same.events(&was, &was.user_ref(), 0);
        assert_eq!(
            events[0].data()["previous_attributes"],
            serde_json::json!({})
        );
        // Creation has none.
        assert!(
            was.created_events(true)
                .iter()
                .all(|e| e.data().get("previous_attributes").is_none())
        );
    }
}
