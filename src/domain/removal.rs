//! Removing memberships: which accounts go with them, and the events that report it.
//! Every removal takes this path (SCIM DELETE, the admin API, an organization's
//! deletion, the retention policy), so they all cascade and report alike.

use ids::{GroupId, OrganizationId, UserId};
use std::collections::HashSet;

use super::content::ContentDirectives;
use super::events::{Event, GroupData, UserData};
use super::membership::{Membership, MembershipStatus, sessions_revoked_event};

/// Accounts to delete after their memberships in `removed` went: with `cascade`, each
/// that has no live membership left (`still_member` holds those that do). Without it
/// (the operator deletes the account itself), none here.
pub fn accounts_left_behind(
    removed: &[Membership],
    still_member: &HashSet<UserId>,
    cascade: bool,
) -> HashSet<UserId> {
    if !cascade {
        return HashSet::new();
    }
    removed
        .iter()
        .map(|m| &m.user_id)
        .filter(|u| !still_member.contains(*u))
        .cloned()
        .collect()
}

/// One membership's removal, as it was carried out.
pub struct Removed<'a> {
    pub membership: &'a Membership,
    pub sessions_revoked: u64,
    pub account_deleted: bool,
    /// The organization's groups the member left.
    pub groups_left: &'a [GroupId],
    /// Where the application should move the user's resources.
    pub transfer_to: Option<&'a str>,
    /// What the application should do with the user's content.
    pub content: Option<ContentDirectives>,
}

impl Removed<'_> {
    /// `group.member_removed` for each group left, `membership.deleted`,
    /// `sessions.revoked` when sessions ended, and `user.deleted` when the account went.
    pub fn events(&self) -> Vec<Event> {
        let m = self.membership;
        let org = &m.organization_id;
        let mut events: Vec<Event> = self
            .groups_left
            .iter()
            .map(|g| Event::GroupMemberRemoved(GroupData::member(org, g, &m.user_id, &m.scim_id)))
            .collect();
        let mut data = super::events::MembershipData::new(
            org,
            &m.user_id,
            m.info(MembershipStatus::Inactive, Some(m.status)),
        );
        // Ids only: the record is being erased.
        data.user.external_id = m.external_id.clone();
        data.sessions_revoked = Some(self.sessions_revoked);
        data.account_deleted = Some(self.account_deleted);
        data.transfer_resources_to_department_id = self.transfer_to.map(str::to_string);
        data.content = self.content;
        events.push(Event::MembershipDeleted(data));
        if self.sessions_revoked > 0 {
            events.push(sessions_revoked_event(m, self.sessions_revoked));
        }
        if self.account_deleted {
            events.push(user_deleted(
                org,
                &m.user_id,
                m.external_id.as_deref(),
                self.content,
            ));
        }
        events
    }
}

/// `user.deleted` for one organization: ids only (the account's data is being erased),
/// and the operator's content directives when there were any.
pub fn user_deleted(
    organization_id: &OrganizationId,
    user_id: &UserId,
    external_id: Option<&str>,
    content: Option<ContentDirectives>,
) -> Event {
    let mut data = UserData::new(organization_id, user_id);
    data.user.external_id = external_id.map(str::to_string);
    data.content = content;
    Event::UserDeleted(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ids::MembershipId;

    fn member(user: &str, status: MembershipStatus) -> Membership {
        Membership {
            id: MembershipId::from_stored(format!("mem_{user}")),
            scim_id: format!("mem_{user}"),
            organization_id: OrganizationId::from_stored("org_1"),
            user_id: UserId::from_stored(user),
            status,
            external_id: None,
            view: None,
        }
    }

    #[test]
    fn the_last_membership_takes_the_account_with_it() {
        let removed = [
            member("usr_a", MembershipStatus::Active),
            member("usr_b", MembershipStatus::Inactive),
        ];
        let still: HashSet<UserId> = [UserId::from_stored("usr_b")].into();
        let gone = accounts_left_behind(&removed, &still, true);
        assert_eq!(gone, [UserId::from_stored("usr_a")].into());
        assert!(accounts_left_behind(&removed, &HashSet::new(), false).is_empty());
    }

    #[test]
    fn a_removal_reports_groups_membership_sessions_and_account_in_that_order() {
        let m = member("usr_a", MembershipStatus::Active);
        let groups = [GroupId::from_stored("grp_1"), GroupId::from_stored("grp_2")];
        let r = Removed {
            membership: &m,
            sessions_revoked: 3,
            account_deleted: true,
            groups_left: &groups,
            transfer_to: Some("dept_1"),
            content: Some(ContentDirectives {
                hard_delete_posts: true,
                ..Default::default()
            }),
        };
        let events = r.events();
        let types: Vec<_> = events.iter().map(|e| e.event_type().as_str()).collect();
        assert_eq!(
            types,
            [
                "group.member_removed",
                "group.member_removed",
                "membership.deleted",
                "sessions.revoked",
                "user.deleted"
            ]
        );
        let deleted = events[2].data();
        assert_eq!(deleted["membership"]["status"], "INACTIVE");
        assert_eq!(deleted["membership"]["previous_status"], "ACTIVE");
        assert_eq!(deleted["sessions_revoked"], 3);
        assert_eq!(deleted["account_deleted"], true);
        assert_eq!(deleted["transfer_resources_to_department_id"], "dept_1");
        // The directives travel in both the membership's and the account's event.
        for e in [&events[2], &events[4]] {
            let content = &e.data()["content"];
            assert_eq!(content["hard_delete_posts"], true, "{}", e.data());
            assert_eq!(content["delete_all"], false);
        }
    }

    #[test]
    fn a_quiet_removal_reports_only_the_membership() {
        let m = member("usr_a", MembershipStatus::Inactive);
        let r = Removed {
            membership: &m,
            sessions_revoked: 0,
            account_deleted: false,
            groups_left: &[],
            transfer_to: None,
            content: None,
        };
        let events = r.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data()["account_deleted"], false);
        assert!(
            events[0]
                .data()
                .get("transfer_resources_to_department_id")
                .is_none()
        );
        assert!(
            events[0].data().get("content").is_none(),
            "no directives, no content"
        );
    }
}
