//! The purge: erases what the grace period kept once it is over, and applies each
//! organization's retention policy to memberships that stayed INACTIVE too long.
//! Idempotent (each step selects only what is still due) and done in short batches, so
//! a backlog never holds a long write lock; `offboard purge` and a task in `serve` run it.

use ids::{OrganizationId, UserId};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::json;

use super::Result;
use super::removal::{self, Removal};
use super::work::{Audit, Work};
use crate::db;
use crate::domain::retention_cutoff;
use crate::store::audit::{Actor, actions};
use crate::store::{accounts, memberships, organizations as orgs, suspensions};

const BATCH: u64 = 500;

/// What the purge erases and when (configuration).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How long a deleted account's data stays restorable (`OFFBOARD_DELETION_GRACE`).
    pub grace: Duration,
    /// How long an event stays after all its deliveries are final
    /// (`OFFBOARD_EVENT_RETENTION`).
    pub event_retention: Duration,
}

impl Policy {
    pub fn from_settings(s: &crate::configuration::Settings) -> Self {
        Policy {
            grace: s.deletion_grace,
            event_retention: s.webhook.event_retention,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Deleted accounts whose personal data was erased.
    pub accounts_erased: u64,
    /// Removed memberships whose organization record was erased.
    pub records_erased: u64,
    /// Memberships removed by a retention policy.
    pub memberships_expired: u64,
    /// Events past their retention whose deliveries were all final, pruned with their
    /// deliveries and attempts.
    pub events_pruned: u64,
    /// Suspensions whose `until` had passed, ended.
    pub suspensions_ended: u64,
    /// SCIM tokens whose expiry had passed, announced (`scim_token.expired`).
    pub tokens_expired: u64,
}

pub fn policy_actor() -> Actor {
    Actor {
        kind: crate::store::audit::ActorKind::Policy,
        id: "policy".into(),
        request_id: None,
        client_address: None,
    }
}

/// Runs every purge step until nothing is due at `now`.
pub async fn run(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<PurgeReport> {
    let grace = policy.grace;
    // Retention first: with no grace period its removals are erased at once; with one,
    // they are erased by a later run.
    let mut report = PurgeReport {
        memberships_expired: apply_retention(db, now, grace).await?,
        ..PurgeReport::default()
    };
    let actor = policy_actor();
    report.suspensions_ended = super::suspension::expire(db, &actor, now).await?;
    report.tokens_expired = super::scim_tokens::announce_expired(db, &actor, now).await?;
    loop {
        let mut work = Work::begin_at(db, &actor, now).await?;
        let ids = accounts::due_for_purge(work.tx(), now, BATCH).await?;
        if ids.is_empty() {
            break;
        }
        accounts::erase_many(work.tx(), &ids, now).await?;
        suspensions::remove_for_users(work.tx(), &ids).await?;
        memberships::erase_all_for_users(work.tx(), &ids, &[], now).await?;
        crate::store::outbox::erase_personal(work.tx(), &ids, None).await?;
        work.audit(Audit::new(
            actions::PURGE,
            "user",
            "*",
            json!({"accounts_erased": ids}),
        ));
        work.commit().await?;
        report.accounts_erased += ids.len() as u64;
    }
    loop {
        let txn = db::begin_write(db).await?;
        let erased = memberships::purge_due(&txn, now, BATCH).await?;
        let n = erased.len() as u64;
        let mut by_org: std::collections::BTreeMap<&OrganizationId, Vec<UserId>> =
            Default::default();
        for (org, user) in &erased {
            by_org.entry(org).or_default().push(user.clone());
        }
        for (org, users) in by_org {
            crate::store::outbox::erase_personal(&txn, &users, Some(org)).await?;
        }
        txn.commit().await?;
        report.records_erased += n;
        if n == 0 {
            break;
        }
    }
    report.events_pruned = prune_events(db, now, policy.event_retention).await?;
    db::scrub(db).await?;
    Ok(report)
}

/// Prunes the outbox: events older than `retention` whose deliveries are all final
/// (succeeded, dead or cancelled; an event still pending anywhere, or not yet fanned
/// out, stays), with their deliveries and attempt rows, a short transaction per batch.
async fn prune_events(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<u64> {
    let Some(cutoff) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|r| now.checked_sub_signed(r))
    else {
        return Ok(0);
    };
    let mut total = 0;
    loop {
        let txn = db::begin_write(db).await?;
        let n = crate::store::deliveries::prune_final_events(&txn, cutoff, BATCH).await?;
        txn.commit().await?;
        total += n;
        if n < BATCH {
            break;
        }
    }
    Ok(total)
}

/// Removes memberships INACTIVE for longer than their organization's
/// `deactivated_retention`, exactly as a SCIM DELETE would (cascade and events), with
/// the audit actor `policy`.
async fn apply_retention(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<u64> {
    let mut total = 0;
    let actor = policy_actor();
    for org in orgs::with_retention(db).await? {
        let Some(cutoff) = retention_cutoff(now, org.deactivated_retention_secs) else {
            continue;
        };
        loop {
            let mut work = Work::begin_at(db, &actor, now).await?;
            let page = memberships::inactive_since(work.tx(), &org.id, cutoff, BATCH).await?;
            if page.is_empty() {
                break;
            }
            let removal = Removal::new(&org.id, "policy", grace);
            let removed = removal::remove_memberships(&mut work, &removal, &page).await?;
            for m in &page {
                work.audit(
                    Audit::new(
                        actions::POLICY_MEMBERSHIP_REMOVE,
                        "user",
                        &m.user_id,
                        json!({
                            "membership_id": m.id,
                            "inactive_since": crate::scim::user::format_time(m.status_changed_at),
                            "retention_secs": org.deactivated_retention_secs,
                            "account_deleted": removed.accounts_deleted.contains(&m.user_id),
                        }),
                    )
                    .in_organization(&org.id),
                );
            }
            let events = work.commit().await?;
            tracing::info!(organization_id = %org.id, removed = page.len(), events = events.len(), "retention policy removed inactive memberships");
            total += page.len() as u64;
        }
    }
    Ok(total)
}
