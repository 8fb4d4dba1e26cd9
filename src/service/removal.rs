//! Carries out removals decided by `domain::removal`: revokes the members' sessions,
//! takes them out of the organization's groups, soft-deletes the memberships, deletes
//! the accounts left without one, and emits the events into the caller's unit of work.
//! Every removal (SCIM DELETE, the admin API, organization deletion, the retention
//! policy) comes through here.

use ids::{GroupId, MembershipId, OrganizationId, UserId};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::memberships;
use sea_orm::{ConnectionTrait, DbErr};

use super::Result;
use super::work::Work;
use crate::domain::removal::{Removed, accounts_left_behind};
use crate::domain::{ContentDirectives, purge_after};
use crate::store::{accounts, groups, memberships as store, outbox, sessions};

/// How a batch of memberships of one organization is removed.
pub struct Removal<'a> {
    pub organization_id: &'a OrganizationId,
    /// Recorded on the revoked sessions.
    pub reason: &'a str,
    /// Delete accounts left without a live membership (every removal but the admin's
    /// deletion of a whole account, which deletes the account itself).
    pub cascade: bool,
    pub grace: Duration,
    /// Where the application should move the user's resources; travels in the event.
    pub transfer_to: Option<&'a str>,
    /// What the application should do with the user's content; travels in the events.
    pub content: Option<ContentDirectives>,
}

impl<'a> Removal<'a> {
    /// A removal as a SCIM DELETE, a policy or an organization's deletion makes it:
    /// accounts left without a live membership are deleted, nothing travels in the events.
    pub fn new(organization_id: &'a OrganizationId, reason: &'a str, grace: Duration) -> Self {
        Removal {
            organization_id,
            reason,
            cascade: true,
            grace,
            transfer_to: None,
            content: None,
        }
    }

    /// The admin's deletion of a whole account deletes the account itself: no cascade.
    pub fn without_cascade(self) -> Self {
        Removal {
            cascade: false,
            ..self
        }
    }

    /// Where the application should move the user's resources (in the events).
    pub fn transferring_to(self, transfer_to: Option<&'a str>) -> Self {
        Removal {
            transfer_to,
            ..self
        }
    }

    /// What the application should do with the user's content (in the events).
    pub fn with_content(self, content: Option<ContentDirectives>) -> Self {
        Removal { content, ..self }
    }
}

/// What a removal did, for the caller's answer and audit row.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sessions_revoked: u64,
    pub accounts_deleted: HashSet<UserId>,
}

/// Removes live memberships of one organization (locked by the caller on PostgreSQL)
/// and emits their events. Order of locks, as everywhere: memberships, then accounts,
/// then (at commit) the organization's sequence.
pub async fn remove_memberships(
    work: &mut Work<'_>,
    removal: &Removal<'_>,
    members: &[memberships::Model],
) -> Result<Outcome> {
    let (db, now) = (work.tx(), work.now);
    let org = removal.organization_id;
    // Those that held roles lose them (after their `membership.deleted`).
    let had_roles: Vec<memberships::Model> = members
        .iter()
        .filter(|m| !crate::domain::roles::stored_roles(m.granted_roles.as_ref()).is_empty())
        .map(|m| memberships::Model {
            removed_at: Some(now),
            ..m.clone()
        })
        .collect();
    let user_ids: Vec<UserId> = members.iter().map(|m| m.user_id.clone()).collect();
    let member_ids: Vec<MembershipId> = members.iter().map(|m| m.id.clone()).collect();
    accounts::lock_many(db, &user_ids).await?;
    let revoked = sessions::revoke_for_users(db, org, &user_ids, removal.reason, now).await?;
    // A removed member leaves the organization's groups.
    let scim_ids: Vec<String> = members.iter().map(|m| m.scim_id.clone()).collect();
    let mut left_groups: HashMap<String, Vec<GroupId>> = HashMap::new();
    for (group, member) in groups::remove_from_all_groups(db, org, &scim_ids).await? {
        left_groups.entry(member).or_default().push(group);
    }
    store::mark_removed(db, &member_ids, now, purge_after(now, removal.grace)).await?;
    let erased_now = purge_after(now, removal.grace).is_none();
    let mut members: Vec<_> = members.iter().map(store::to_domain).collect();
    if erased_now {
        // The records (the IdP's `externalId` included) are erased in this transaction:
        // the events say no more than what is kept.
        for m in &mut members {
            m.external_id = None;
        }
    }
    let others = if removal.cascade {
        store::others_of(db, &user_ids, &member_ids).await?
    } else {
        store::Others::default()
    };
    let to_delete = accounts_left_behind(&members, &others.live, removal.cascade);
    // The accounts deleted with their last membership, and those that live on elsewhere.
    let (deleted, kept): (Vec<UserId>, Vec<UserId>) = user_ids
        .iter()
        .cloned()
        .partition(|u| to_delete.contains(u));
    let removed_with: Vec<MembershipId> = members
        .iter()
        .filter(|m| to_delete.contains(&m.user_id))
        .map(|m| m.id.clone())
        .collect();
    // Only those with other memberships have other records to erase.
    let with_others: Vec<UserId> = deleted
        .iter()
        .filter(|u| others.any.contains(*u))
        .cloned()
        .collect();
    delete_accounts(
        db,
        &deleted,
        &removed_with,
        &with_others,
        removal.grace,
        now,
    )
    .await?;
    if erased_now {
        // The records are erased now: so is what the stored events say of them (events
        // this unit has not appended yet are appended first, to be erased too).
        if work.has_pending() {
            work.flush_events().await?;
        }
        // A kept account's events are erased in this organization; a deleted one's in
        // every organization, this one included (one statement, not two).
        outbox::erase_personal(work.tx(), &kept, Some(org)).await?;
        outbox::erase_personal(work.tx(), &deleted, None).await?;
    }

    let mut outcome = Outcome::default();
    for m in &members {
        let count = revoked.get(&m.user_id).copied().unwrap_or(0);
        outcome.sessions_revoked += count;
        let removed = Removed {
            membership: m,
            sessions_revoked: count,
            account_deleted: to_delete.contains(&m.user_id),
            groups_left: left_groups.get(&m.scim_id).map_or(&[], Vec::as_slice),
            transfer_to: removal.transfer_to,
            content: removal.content,
        };
        work.emit(org, removed.events());
    }
    super::roles::recompute_with(
        work,
        org,
        &crate::domain::roles::RoleMapping::default(),
        &had_roles,
        super::roles::Cause::Removed,
    )
    .await?;
    outcome.accounts_deleted = to_delete;
    Ok(outcome)
}

/// Deletes accounts whose memberships (`removed_member_ids`) were just removed: at once
/// (personal data and every organization's record erased, tombstone kept) or, within a
/// grace period, made unusable and restorable until the purge. `with_others`: those of
/// `user_ids` that may have other memberships (their records are erased too).
pub async fn delete_accounts(
    db: &impl ConnectionTrait,
    user_ids: &[UserId],
    removed_member_ids: &[MembershipId],
    with_others: &[UserId],
    grace: Duration,
    now: DateTime<Utc>,
) -> std::result::Result<(), DbErr> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let purge_at = purge_after(now, grace);
    accounts::delete_many(db, user_ids, now, purge_at).await?;
    match purge_at {
        None => {
            crate::store::suspensions::remove_for_users(db, user_ids).await?;
            store::erase_all_for_users(db, with_others, removed_member_ids, now).await
        }
        Some(_) => store::mark_removed_with_account(db, removed_member_ids).await,
    }
}
