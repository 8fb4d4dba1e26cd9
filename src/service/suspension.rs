//! Suspending an account in every organization and lifting it: sessions revoked, new
//! sessions refused while it holds, `user.suspended` / `user.unsuspended` to each of the
//! account's organizations. The purge ends suspensions whose `until` has passed.

use chrono::{DateTime, Utc};
use entity::suspensions as model;
use ids::UserId;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::membership::Membership;
use crate::domain::suspension::{Suspension, in_effect, suspended_event, unsuspended_event};
use crate::store::audit::{Actor, actions};
use crate::store::{accounts, memberships, sessions, suspensions};

/// Suspends the account (or changes its suspension's reason and end): every session in
/// every organization revoked. A deleted account is 409 `USER_DELETED`.
pub async fn suspend(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: &UserId,
    suspension: Suspension,
) -> Result<model::Model> {
    let mut work = Work::begin(db, actor).await?;
    // Lock order as everywhere: memberships (which also holds off a session being
    // registered meanwhile), then the account.
    let live = memberships::live_for_user(work.tx(), user_id).await?;
    let Some(account) = accounts::find(work.tx(), user_id).await? else {
        return Err(Error::not_found("user", None));
    };
    if account.deleted_at.is_some() {
        return Err(Error::conflict(
            "USER_DELETED",
            "The user is deleted; a deleted account cannot be suspended.",
        ));
    }
    accounts::lock_many(work.tx(), std::slice::from_ref(user_id)).await?;
    let now = work.now;
    let row =
        suspensions::put(work.tx(), user_id, suspension.reason, suspension.until, now).await?;
    let mut revoked = 0;
    for m in live.iter().map(memberships::to_domain) {
        let users = [user_id.clone()];
        let org = &m.organization_id;
        let n = sessions::revoke_for_users(work.tx(), org, &users, "user.suspended", now)
            .await?
            .get(user_id)
            .copied()
            .unwrap_or(0);
        revoked += n;
        work.emit(org, suspension_events(&m, row.until, n));
    }
    work.audit(
        Audit::new(
            actions::USER_SUSPEND,
            "user",
            user_id,
            json!({
                "until": row.until,
                "sessions_revoked": revoked,
                "organizations": live.len(),
            }),
        )
        .listing_events(),
    );
    work.commit().await?;
    Ok(row)
}

fn suspension_events(
    m: &Membership,
    until: Option<DateTime<Utc>>,
    revoked: u64,
) -> Vec<crate::domain::events::Event> {
    let mut events = vec![suspended_event(&m.organization_id, &m.user_id, until)];
    if revoked > 0 {
        events.push(crate::domain::membership::sessions_revoked_event(
            m, revoked,
        ));
    }
    events
}

/// Lifts the account's suspension; 409 `NOT_SUSPENDED` when it has none in effect.
pub async fn unsuspend(db: &DatabaseConnection, actor: &Actor, user_id: &UserId) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    if accounts::find(work.tx(), user_id).await?.is_none() {
        return Err(Error::not_found("user", None));
    }
    let now = work.now;
    let lifted = current(work.tx(), user_id, now).await?.is_some()
        && lift(&mut work, user_id, false).await?;
    if !lifted {
        return Err(Error::conflict(
            "NOT_SUSPENDED",
            "The user is not suspended.",
        ));
    }
    work.commit().await?;
    Ok(())
}

/// Removes the suspension and tells each of the account's organizations. Locks as
/// `suspend` does (memberships first), so the two never wait on each other in a circle.
/// `false` (and nothing done) when another request or process lifted it first.
async fn lift(work: &mut Work<'_>, user_id: &UserId, expired: bool) -> Result<bool> {
    let live = memberships::live_for_user(work.tx(), user_id).await?;
    if !suspensions::remove(work.tx(), user_id).await? {
        return Ok(false);
    }
    for m in &live {
        let org = &m.organization_id;
        work.emit(org, [unsuspended_event(org, user_id, expired)]);
    }
    let action = if expired {
        actions::USER_SUSPENSION_EXPIRE
    } else {
        actions::USER_UNSUSPEND
    };
    work.audit(
        Audit::new(
            action,
            "user",
            user_id,
            json!({"organizations": live.len()}),
        )
        .listing_events(),
    );
    Ok(true)
}

/// Ends the suspensions whose `until` is at or before `now` (the purge), a short unit of
/// work per account; returns how many ended.
pub async fn expire(db: &DatabaseConnection, actor: &Actor, now: DateTime<Utc>) -> Result<u64> {
    let mut ended = 0;
    loop {
        let due = suspensions::ended(db, now, 500).await?;
        if due.is_empty() {
            return Ok(ended);
        }
        for user_id in &due {
            let mut work = Work::begin_at(db, actor, now).await?;
            // Another process may have ended or changed it since it was listed.
            match suspensions::find(work.tx(), user_id).await? {
                Some(s) if !in_effect(s.until, now) => {}
                _ => continue,
            }
            if lift(&mut work, user_id, true).await? {
                work.commit().await?;
                ended += 1;
            }
        }
    }
}

/// The account's suspension, when one is in effect at `now`.
pub async fn current(
    db: &impl ConnectionTrait,
    user_id: &UserId,
    now: DateTime<Utc>,
) -> Result<Option<model::Model>> {
    Ok(suspensions::find(db, user_id)
        .await?
        .filter(|s| in_effect(s.until, now)))
}
