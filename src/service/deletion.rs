//! The operator's deletions: a whole account, a whole organization, one user from one
//! organization; and the restore of an account inside its grace period. Each runs in one
//! write transaction with its outbox and audit rows, through `removal`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::removal::{self, Removal};
use super::{Error, Result};
use crate::db;
use crate::store::audit::{self, Actor, Entry, actions};
use crate::store::{accounts, groups, memberships, organizations as orgs, outbox, tokens};
use crate::webhook::event::{EventType, NewEvent, membership_data};

/// Members are removed in pages of this many: memory stays flat for any organization
/// size, and each statement stays well under the databases' bound-parameter limits.
pub const PAGE: u64 = 500;

/// `DELETE /admin/v1/users/{id}`: every membership removed, all sessions revoked, the
/// account deleted. Each organization hears `membership.deleted` and `user.deleted`.
pub async fn delete_user(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: &str,
    grace: Duration,
) -> Result<Value> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let live = memberships::live_for_user(&txn, user_id).await?;
    let Some(account) = accounts::find(&txn, user_id).await? else {
        return Err(Error::not_found("user", None));
    };
    if account.deleted_at.is_some() {
        return Err(Error::not_found("user", None));
    }
    let mut per_org: BTreeMap<String, Vec<NewEvent>> = BTreeMap::new();
    let mut sessions_revoked = 0;
    for m in &live {
        let removal = Removal {
            organization_id: &m.organization_id,
            reason: "user.deleted",
            cascade: false,
            grace,
            transfer_to: None,
        };
        let removed =
            removal::remove_memberships(&txn, &removal, std::slice::from_ref(m), now).await?;
        sessions_revoked += removed.sessions_revoked;
        per_org
            .entry(m.organization_id.clone())
            .or_default()
            .extend(removed.events);
    }
    let member_ids: Vec<String> = live.iter().map(|m| m.id.clone()).collect();
    removal::delete_accounts(&txn, &[user_id.to_string()], &member_ids, grace, now).await?;
    let mut event_ids = Vec::new();
    for (org, mut events) in per_org {
        events.push(removal::user_deleted_event(&org, user_id));
        event_ids.extend(outbox::append(&txn, &org, events, now).await?);
    }
    let details = json!({
        "memberships_removed": member_ids,
        "sessions_revoked": sessions_revoked,
        "grace_period_secs": grace.as_secs(),
        "events": event_ids,
    });
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: None,
            action: actions::USER_DELETE,
            target_type: "user",
            target_id: user_id,
            details: details.clone(),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(details)
}

/// `DELETE /admin/v1/organizations/{id}`: in one transaction, so readers see the
/// organization whole or gone, every member is removed page by page (sessions revoked,
/// accounts without another membership deleted), its SCIM tokens are deleted and the
/// organization becomes a tombstone.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn delete_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &str,
    grace: Duration,
) -> Result<Value> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    if orgs::find(&txn, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    memberships::lock_all_live(&txn, organization_id).await?;
    let removal = Removal {
        organization_id,
        reason: "organization.deleted",
        cascade: true,
        grace,
        transfer_to: None,
    };
    let (mut members, mut accounts_deleted, mut sessions_revoked) = (0u64, 0u64, 0u64);
    let mut after: Option<String> = None;
    loop {
        let page = memberships::live_page(&txn, organization_id, after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let removed = removal::remove_memberships(&txn, &removal, &page, now).await?;
        members += page.len() as u64;
        accounts_deleted += removed.accounts_deleted.len() as u64;
        sessions_revoked += removed.sessions_revoked;
        outbox::append(&txn, organization_id, removed.events, now).await?;
    }
    let tokens_deleted = tokens::delete_for_organization(&txn, organization_id).await?;
    // Its verified domains go: nothing links to the organization any more.
    crate::store::domains::delete_for_organization(&txn, organization_id).await?;
    let groups_deleted = groups::delete_for_organization(&txn, organization_id).await?;
    let summary = json!({
        "organization": {"id": organization_id},
        "memberships_removed": members,
        "accounts_deleted": accounts_deleted,
        "sessions_revoked": sessions_revoked,
        "groups_deleted": groups_deleted,
    });
    let event_ids = outbox::append(
        &txn,
        organization_id,
        vec![NewEvent::organization(
            EventType::OrganizationDeleted,
            summary.clone(),
        )],
        now,
    )
    .await?;
    orgs::mark_deleted(&txn, organization_id, now).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::ORGANIZATION_DELETE,
            target_type: "organization",
            target_id: organization_id,
            details: json!({
                "memberships_removed": members,
                "accounts_deleted": accounts_deleted,
                "sessions_revoked": sessions_revoked,
                "scim_tokens_deleted": tokens_deleted,
                "events": event_ids,
            }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(summary)
}

/// `DELETE /admin/v1/organizations/{org}/users/{user}`: removes one membership exactly as
/// a SCIM DELETE does, with an optional department to transfer the user's resources to.
pub async fn remove_from_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &str,
    user_id: &str,
    transfer_to: Option<&str>,
    grace: Duration,
) -> Result<()> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    if orgs::find(&txn, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let Some(m) = memberships::find_live(&txn, organization_id, user_id, true).await? else {
        return Err(Error::not_found("membership", None));
    };
    let removal = Removal {
        organization_id,
        reason: "membership.deleted",
        cascade: true,
        grace,
        transfer_to,
    };
    let removed =
        removal::remove_memberships(&txn, &removal, std::slice::from_ref(&m), now).await?;
    let account_deleted = !removed.accounts_deleted.is_empty();
    let sessions_revoked = removed.sessions_revoked;
    let event_ids = outbox::append(&txn, organization_id, removed.events, now).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::MEMBERSHIP_DELETE,
            target_type: "user",
            target_id: user_id,
            details: json!({
                "membership_id": m.id,
                "previous_status": m.status,
                "sessions_revoked": sessions_revoked,
                "account_deleted": account_deleted,
                "transfer_resources_to_department_id": transfer_to,
                "events": event_ids,
            }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `POST /admin/v1/users/{id}/restore`: inside the grace period, the account takes its
/// identity back and the memberships its deletion removed come back `INACTIVE` (the
/// IdP reactivates them); each organization hears `membership.created` with
/// `"restored": true`.
pub async fn restore_user(db: &DatabaseConnection, actor: &Actor, user_id: &str) -> Result<()> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let Some(account) = accounts::find(&txn, user_id).await? else {
        return Err(Error::not_found("user", None));
    };
    if account.deleted_at.is_none() {
        return Err(Error::conflict("NOT_DELETED", "The user is not deleted."));
    }
    match account.purge_after {
        Some(at) if at > now => {}
        _ => {
            return Err(Error::conflict(
                "NOT_RESTORABLE",
                "The user's data has been purged; the deletion can no longer be undone.",
            ));
        }
    }
    let identity_taken = || {
        Error::conflict(
            "IDENTITY_TAKEN",
            "Another user now holds this identity; the deletion cannot be undone.",
        )
    };
    accounts::restore(&txn, &account, now)
        .await
        .map_err(|e| Error::from(e).on_conflict(identity_taken))?;
    let mut per_org: BTreeMap<String, Vec<NewEvent>> = BTreeMap::new();
    let mut restored = Vec::new();
    for m in memberships::restorable_for_user(&txn, user_id).await? {
        if orgs::find(&txn, &m.organization_id).await?.is_none() {
            continue;
        }
        let back = memberships::restore(&txn, &m, now)
            .await
            .map_err(|e| Error::from(e).on_conflict(identity_taken))?;
        let mut data = membership_data(
            &back.organization_id,
            user_id,
            (&back).into(),
            &back.status,
            None,
        );
        data["restored"] = json!(true);
        per_org
            .entry(back.organization_id.clone())
            .or_default()
            .push(NewEvent::new(EventType::MembershipCreated, user_id, data));
        restored.push(back.id);
    }
    let mut event_ids = Vec::new();
    for (org, events) in per_org {
        event_ids.extend(outbox::append(&txn, &org, events, now).await?);
    }
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: None,
            action: actions::USER_RESTORE,
            target_type: "user",
            target_id: user_id,
            details: json!({"memberships_restored": restored, "events": event_ids}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
