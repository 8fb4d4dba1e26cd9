//! Removing memberships and deleting accounts: the one path every removal takes (SCIM
//! DELETE, the admin API, organization deletion, the retention policy), so they all
//! revoke, cascade and report alike. Runs inside the caller's write transaction; the
//! caller appends the returned events to the outbox and writes the audit row.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::memberships;
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::domain::{AccountFate, MembershipStatus, account_fate_after_removal, purge_after};
use crate::store::{accounts, groups, memberships as store, sessions};
use crate::webhook::event::{EventType, NewEvent, membership_data};

/// How a batch of memberships of one organization is removed.
pub struct Removal<'a> {
    pub organization_id: &'a str,
    /// Recorded on the revoked sessions.
    pub reason: &'a str,
    /// Delete accounts left without a live membership (every removal but the admin's
    /// deletion of a whole account, which deletes the account itself).
    pub cascade: bool,
    pub grace: Duration,
    /// Where the application should move the user's resources; travels in the event.
    pub transfer_to: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct Removed {
    pub events: Vec<NewEvent>,
    pub sessions_revoked: u64,
    pub accounts_deleted: Vec<String>,
}

/// Removes live memberships of one organization (locked by the caller on PostgreSQL).
/// Order of locks, as everywhere: memberships, then accounts, then (when the caller
/// appends events) the organization's sequence.
pub async fn remove_memberships(
    db: &impl ConnectionTrait,
    removal: &Removal<'_>,
    members: &[memberships::Model],
    now: DateTime<Utc>,
) -> Result<Removed, DbErr> {
    let org = removal.organization_id;
    let user_ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
    let member_ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    accounts::lock_many(db, &user_ids).await?;
    let revoked = sessions::revoke_for_users(db, org, &user_ids, removal.reason, now).await?;
    // A removed member leaves the organization's groups.
    let scim_ids: Vec<String> = members.iter().map(|m| m.scim_id.clone()).collect();
    let mut left_groups: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (group, member) in groups::remove_from_all_groups(db, org, &scim_ids).await? {
        left_groups.entry(member).or_default().push(group);
    }
    store::mark_removed(db, &member_ids, now, purge_after(now, removal.grace)).await?;
    let to_delete: HashSet<String> = if removal.cascade {
        let still_member = store::users_with_live(db, &user_ids).await?;
        user_ids
            .iter()
            .filter(|u| {
                let others = u64::from(still_member.contains(*u));
                account_fate_after_removal(others) == AccountFate::Delete
            })
            .cloned()
            .collect()
    } else {
        HashSet::new()
    };
    let deleted: Vec<String> = user_ids
        .iter()
        .filter(|u| to_delete.contains(*u))
        .cloned()
        .collect();
    let removed_with: Vec<String> = members
        .iter()
        .filter(|m| to_delete.contains(&m.user_id))
        .map(|m| m.id.clone())
        .collect();
    delete_accounts(db, &deleted, &removed_with, removal.grace, now).await?;

    let mut out = Removed {
        accounts_deleted: deleted,
        ..Removed::default()
    };
    for m in members {
        let count = revoked.get(&m.user_id).copied().unwrap_or(0);
        out.sessions_revoked += count;
        let account_deleted = to_delete.contains(&m.user_id);
        for group in left_groups.get(&m.scim_id).into_iter().flatten() {
            out.events.push(NewEvent::new(
                EventType::GroupMemberRemoved,
                &m.user_id,
                crate::webhook::event::group_data(org, group, Some((&m.user_id, &m.scim_id))),
            ));
        }
        let mut data = membership_data(
            org,
            &m.user_id,
            m.into(),
            MembershipStatus::Inactive.as_str(),
            Some(&m.status),
        );
        data["sessions_revoked"] = json!(count);
        data["account_deleted"] = json!(account_deleted);
        if let Some(dept) = removal.transfer_to {
            data["transfer_resources_to_department_id"] = json!(dept);
        }
        out.events.push(NewEvent::new(
            EventType::MembershipDeleted,
            &m.user_id,
            data,
        ));
        if count > 0 {
            out.events
                .push(sessions_revoked_event(org, &m.user_id, count));
        }
        if account_deleted {
            out.events.push(user_deleted_event(org, &m.user_id));
        }
    }
    Ok(out)
}

/// Deletes accounts whose memberships (`removed_member_ids`) were just removed: at once
/// (personal data and every organization's record erased, tombstone kept) or, within a
/// grace period, made unusable and restorable until the purge.
pub async fn delete_accounts(
    db: &impl ConnectionTrait,
    user_ids: &[String],
    removed_member_ids: &[String],
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let purge_at = purge_after(now, grace);
    accounts::delete_many(db, user_ids, now, purge_at).await?;
    match purge_at {
        None => store::erase_all_for_users(db, user_ids, now).await,
        Some(_) => store::mark_removed_with_account(db, removed_member_ids).await,
    }
}

pub fn sessions_revoked_event(org: &str, user_id: &str, count: u64) -> NewEvent {
    NewEvent::new(
        EventType::SessionsRevoked,
        user_id,
        json!({"organization": {"id": org}, "user": {"id": user_id}, "count": count}),
    )
}

/// `user.deleted` carries ids only: the account's data is being erased.
pub fn user_deleted_event(org: &str, user_id: &str) -> NewEvent {
    NewEvent::new(
        EventType::UserDeleted,
        user_id,
        json!({"organization": {"id": org}, "user": {"id": user_id}}),
    )
}
