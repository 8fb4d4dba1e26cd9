//! The export before erasure: everything offboard holds about one person, for an access
//! request (GDPR articles 15 and 20) or to keep before a deletion. Available while the
//! account's data exists (a deleted account within its grace period included); once the
//! data is erased there is nothing left to export, and the answer is "not found".

use ids::{GroupId, MembershipId, UserId};
use std::collections::HashMap;

use entity::users as account_model;
use entity::{audit_log, events, memberships as membership_model, sessions, suspensions};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::store::audit::{Actor, actions};
use crate::store::{accounts, audit, groups, memberships, outbox, suspensions as held};

/// The most rows of each list an export holds; a list that reached it says so
/// (`truncated`), and the admin API's paged lists give the rest.
pub const MAX_ROWS: u64 = 10_000;

/// What offboard holds about one person.
pub struct Export {
    pub account: account_model::Model,
    pub suspension: Option<suspensions::Model>,
    /// Every membership, removed ones included (the history), oldest first.
    pub memberships: Vec<membership_model::Model>,
    /// Membership id -> the organization's groups it is in, as (id, display name).
    pub groups: HashMap<MembershipId, Vec<(GroupId, String)>>,
    pub sessions: Vec<sessions::Model>,
    pub audit: Vec<audit_log::Model>,
    pub events: Vec<events::Model>,
    /// Lists cut at [`MAX_ROWS`], by name.
    pub truncated: Vec<&'static str>,
}

/// Gathers the export and records that it was taken (who, and how much).
pub async fn export(db: &DatabaseConnection, actor: &Actor, user_id: &UserId) -> Result<Export> {
    let Some(account) = accounts::find(db, user_id).await? else {
        return Err(Error::not_found("user", None));
    };
    // Deleted and past its grace period: the personal data is gone (a tombstone is all).
    if account.deleted_at.is_some() && account.purge_after.is_none() {
        return Err(Error::not_found("user", None));
    }
    let suspension = held::find(db, user_id).await?;
    let memberships = memberships::list_for_user(db, user_id).await?;
    let mut groups_of = HashMap::new();
    for m in memberships.iter().filter(|m| m.removed_at.is_none()) {
        let scim_ids = [m.scim_id.clone()];
        let mut found = groups::groups_of_members(db, &m.organization_id, &scim_ids).await?;
        if let Some(gs) = found.remove(&m.scim_id) {
            groups_of.insert(m.id.clone(), gs);
        }
    }
    let sessions = crate::store::sessions::for_user(db, user_id, MAX_ROWS).await?;
    let audit_rows = audit::about(db, user_id, MAX_ROWS).await?;
    let events = outbox::for_user(db, user_id, MAX_ROWS).await?;
    let full = |n: usize| n as u64 >= MAX_ROWS;
    let truncated = [
        ("sessions", full(sessions.len())),
        ("audit", full(audit_rows.len())),
        ("events", full(events.len())),
    ]
    .into_iter()
    .filter_map(|(name, cut)| cut.then_some(name))
    .collect();

    let mut work = Work::begin(db, actor).await?;
    work.audit(Audit::new(
        actions::USER_EXPORT,
        "user",
        user_id,
        json!({
            "memberships": memberships.len(),
            "sessions": sessions.len(),
            "audit_rows": audit_rows.len(),
            "events": events.len(),
        }),
    ));
    work.commit().await?;
    Ok(Export {
        account,
        suspension,
        memberships,
        groups: groups_of,
        sessions,
        audit: audit_rows,
        events,
        truncated,
    })
}
