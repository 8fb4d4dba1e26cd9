//! The operator's deletions: a whole account, a whole organization, one user from one
//! organization; and the restore of an account inside its grace period. Each is one unit
//! of work, removing memberships through `removal`.

use ids::{MembershipId, OrganizationId, UserId};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use serde_json::json;

use super::removal::{self, Removal};
use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::ContentDirectives;
use crate::domain::events::{Event, OrganizationDeletedData};
use crate::domain::removal::user_deleted;
use crate::store::audit::{Actor, actions};
use crate::store::{accounts, groups, memberships, organizations as orgs, tokens};

/// Members are removed in pages of this many: memory stays flat for any organization
/// size, and each statement stays well under the databases' bound-parameter limits.
pub const PAGE: u64 = 500;

/// What deleting a user everywhere did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserDeleted {
    pub memberships_removed: Vec<MembershipId>,
    pub sessions_revoked: u64,
    pub grace_period_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDirectives>,
}

/// `DELETE /admin/v1/users/{id}`: every membership removed, all sessions revoked, the
/// account deleted. Each organization hears `membership.deleted` and `user.deleted`.
pub async fn delete_user(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: &UserId,
    content: Option<ContentDirectives>,
    grace: Duration,
) -> Result<UserDeleted> {
    let mut work = Work::begin(db, actor).await?;
    let outcome = delete_user_in(&mut work, user_id, content, grace).await?;
    work.commit().await?;
    Ok(outcome)
}

/// [`delete_user`] inside the caller's unit of work (a batch job commits its progress in
/// the same transaction, so no user is deleted twice).
pub async fn delete_user_in(
    work: &mut Work<'_>,
    user_id: &UserId,
    content: Option<ContentDirectives>,
    grace: Duration,
) -> Result<UserDeleted> {
    let live = memberships::live_for_user(work.tx(), user_id).await?;
    match accounts::find(work.tx(), user_id).await? {
        Some(account) if account.deleted_at.is_none() => {}
        _ => return Err(Error::not_found("user", None)),
    }
    let mut sessions_revoked = 0;
    for m in &live {
        let removal = Removal::new(&m.organization_id, "user.deleted", grace)
            .without_cascade()
            .with_content(content);
        let removed = removal::remove_memberships(work, &removal, std::slice::from_ref(m)).await?;
        sessions_revoked += removed.sessions_revoked;
    }
    let member_ids: Vec<MembershipId> = live.iter().map(|m| m.id.clone()).collect();
    removal::delete_accounts(
        work.tx(),
        std::slice::from_ref(user_id),
        &member_ids,
        // Its removed memberships elsewhere may keep records (a grace period).
        std::slice::from_ref(user_id),
        grace,
        work.now,
    )
    .await?;
    if crate::domain::purge_after(work.now, grace).is_none() {
        if work.has_pending() {
            work.flush_events().await?;
        }
        crate::store::outbox::erase_personal(work.tx(), std::slice::from_ref(user_id), None)
            .await?;
    }
    // One `user.deleted` per organization, with the id its IdP gave the user.
    // (Without a grace period the records, the `externalId` included, are erased now.)
    let kept = crate::domain::purge_after(work.now, grace).is_some();
    let mut orgs_told: Vec<(&OrganizationId, Option<&str>)> = live
        .iter()
        .map(|m| {
            let external_id = m.external_id.as_deref().filter(|_| kept);
            (&m.organization_id, external_id)
        })
        .collect();
    orgs_told.sort_unstable();
    orgs_told.dedup_by_key(|(org, _)| *org);
    for (org, external_id) in orgs_told {
        work.emit(org, [user_deleted(org, user_id, external_id, content)]);
    }
    let outcome = UserDeleted {
        memberships_removed: member_ids,
        sessions_revoked,
        grace_period_secs: grace.as_secs(),
        content,
    };
    work.audit(
        Audit::new(
            actions::USER_DELETE,
            "user",
            user_id,
            serde_json::to_value(&outcome).unwrap_or_default(),
        )
        .listing_events(),
    );
    Ok(outcome)
}

/// `DELETE /admin/v1/organizations/{id}`: in one transaction, so readers see the
/// organization whole or gone, every member is removed page by page (sessions revoked,
/// accounts without another membership deleted), its SCIM tokens are deleted and the
/// organization becomes a tombstone.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn delete_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    grace: Duration,
) -> Result<OrganizationDeletedData> {
    let mut work = Work::begin(db, actor)
        .await?
        .source("organization_deletion");
    if orgs::find(work.tx(), organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    memberships::lock_all_live(work.tx(), organization_id).await?;
    let mut summary = OrganizationDeletedData::new(organization_id);
    let mut after: Option<MembershipId> = None;
    loop {
        let removed = remove_member_page(
            &mut work,
            organization_id,
            after.as_ref(),
            grace,
            &mut summary,
        )
        .await?;
        let Some(last) = removed else { break };
        after = Some(last);
        work.flush_events().await?;
    }
    let tokens_deleted = tokens::delete_for_organization(work.tx(), organization_id).await?;
    finish_organization(&mut work, organization_id, &mut summary, tokens_deleted).await?;
    work.commit().await?;
    Ok(summary)
}

/// Removes one page of the organization's live members after `after` (sessions revoked,
/// accounts without another membership deleted), adding to `summary`; the last id
/// removed, or `None` when none was left.
pub async fn remove_member_page(
    work: &mut Work<'_>,
    organization_id: &OrganizationId,
    after: Option<&MembershipId>,
    grace: Duration,
    summary: &mut OrganizationDeletedData,
) -> Result<Option<MembershipId>> {
    let page = memberships::live_page(work.tx(), organization_id, after, PAGE).await?;
    let Some(last) = page.last().map(|m| m.id.clone()) else {
        return Ok(None);
    };
    let removal = Removal::new(organization_id, "organization.deleted", grace);
    let removed = removal::remove_memberships(work, &removal, &page).await?;
    summary.memberships_removed += page.len() as u64;
    summary.accounts_deleted += removed.accounts_deleted.len() as u64;
    summary.sessions_revoked += removed.sessions_revoked;
    Ok(Some(last))
}

/// The end of an organization's deletion, once it has no live member: its domains and
/// groups go, `organization.deleted` takes its last sequence number, and it becomes a
/// tombstone.
pub async fn finish_organization(
    work: &mut Work<'_>,
    organization_id: &OrganizationId,
    summary: &mut OrganizationDeletedData,
    tokens_deleted: u64,
) -> Result<()> {
    let tx = work.tx();
    // Its verified domains go: nothing links to the organization any more.
    crate::store::domains::delete_for_organization(tx, organization_id).await?;
    // Nothing is left for the guard to hold.
    crate::store::guard::delete_for_organization(tx, organization_id).await?;
    // What its IdP sent goes with it.
    crate::store::requests::delete_for_organization(tx, organization_id).await?;
    summary.groups_deleted = groups::delete_for_organization(tx, organization_id).await?;
    // The last event takes the last sequence number before the organization becomes a
    // tombstone.
    work.publish(
        organization_id,
        [Event::OrganizationDeleted(summary.clone())],
    )
    .await?;
    orgs::mark_deleted(work.tx(), organization_id, work.now).await?;
    work.audit(
        Audit::new(
            actions::ORGANIZATION_DELETE,
            "organization",
            organization_id,
            json!({
                "memberships_removed": summary.memberships_removed,
                "accounts_deleted": summary.accounts_deleted,
                "sessions_revoked": summary.sessions_revoked,
                "scim_tokens_deleted": tokens_deleted,
            }),
        )
        .in_organization(organization_id)
        .listing_events(),
    );
    Ok(())
}

/// `DELETE /admin/v1/organizations/{org}/users/{user}`: removes one membership exactly as
/// a SCIM DELETE does, with an optional department to transfer the user's resources to.
pub async fn remove_from_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    user_id: &UserId,
    transfer_to: Option<&str>,
    content: Option<ContentDirectives>,
    grace: Duration,
) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    if orgs::find(work.tx(), organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let Some(m) = memberships::find_live(work.tx(), organization_id, user_id, true).await? else {
        return Err(Error::not_found("membership", None));
    };
    let removal = Removal::new(organization_id, "membership.deleted", grace)
        .transferring_to(transfer_to)
        .with_content(content);
    let removed =
        removal::remove_memberships(&mut work, &removal, std::slice::from_ref(&m)).await?;
    work.audit(
        Audit::new(
            actions::MEMBERSHIP_DELETE,
            "user",
            user_id,
            json!({
                "membership_id": m.id,
                "previous_status": m.status,
                "sessions_revoked": removed.sessions_revoked,
                "account_deleted": !removed.accounts_deleted.is_empty(),
                "transfer_resources_to_department_id": transfer_to,
                "content": content,
            }),
        )
        .in_organization(organization_id)
        .listing_events(),
    );
    work.commit().await?;
    Ok(())
}

/// `POST /admin/v1/users/{id}/restore`: inside the grace period, the account takes its
/// identity back and the memberships its deletion removed come back `INACTIVE` (the
/// IdP reactivates them); each organization hears `membership.created` with
/// `"restored": true`.
pub async fn restore_user(db: &DatabaseConnection, actor: &Actor, user_id: &UserId) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    let (tx, now) = (work.tx(), work.now);
    let Some(account) = accounts::find(tx, user_id).await? else {
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
    accounts::restore(tx, &account, now)
        .await
        .map_err(|e| Error::from(e).on_conflict(identity_taken))?;
    let mut restored = Vec::new();
    for m in memberships::restorable_for_user(tx, user_id).await? {
        if orgs::find(tx, &m.organization_id).await?.is_none() {
            continue;
        }
        let back = memberships::restore(tx, &m, now)
            .await
            .map_err(|e| Error::from(e).on_conflict(identity_taken))?;
        restored.push(back);
    }
    for back in &restored {
        work.emit(
            &back.organization_id,
            [super::status::with_view(back, Vec::new()).restored_event()],
        );
    }
    let ids: Vec<&str> = restored.iter().map(|m| m.id.as_str()).collect();
    work.audit(
        Audit::new(
            actions::USER_RESTORE,
            "user",
            user_id,
            json!({"memberships_restored": ids}),
        )
        .listing_events(),
    );
    work.commit().await?;
    Ok(())
}
