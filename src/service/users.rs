//! SCIM /Users use cases for one organization.

use chrono::{DateTime, Utc};
use entity::memberships;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::removal::{self, Removal};
use super::{Error, Result};
use crate::db;
use crate::domain::IfMatch;
use crate::domain::{AccountLink, EmailIdentity, account_link};
use crate::domain::{MembershipStatus, status_change};
use crate::scim::error::ScimError;
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{Document, canonicalize};
use crate::scim::schema::USER;
use crate::scim::user::{UserInput, UserView, etag};
use crate::store::audit::actions as act;
use crate::store::audit::{self, Actor, Entry};
use crate::store::memberships::NewMembership;
use crate::store::{accounts, domains, memberships as store, outbox, sessions};
use crate::webhook::event::{EventType, NewEvent, membership_data};

/// The organization and the caller a request acts for.
#[derive(Debug, Clone)]
pub struct Scope {
    pub organization_id: String,
    pub actor: Actor,
    /// `…/scim/v2`, for `meta.location`.
    pub base_url: String,
    /// How long a deleted account stays restorable (`OFFBOARD_DELETION_GRACE`).
    pub deletion_grace: std::time::Duration,
}

/// A User resource ready to render, with its ETag.
pub struct UserResource {
    pub body: Value,
    pub etag: String,
}

fn record_of(m: &memberships::Model) -> Document {
    match &m.scim {
        Some(Value::Object(o)) => o.clone(),
        _ => Document::new(),
    }
}

fn render(scope: &Scope, m: &memberships::Model) -> UserResource {
    let record = record_of(m);
    let body = UserView {
        id: &m.scim_id,
        record: &record,
        active: MembershipStatus::from_stored(&m.status).is_active(),
        created: m.created_at,
        last_modified: m.updated_at,
        version: m.version,
        location: format!("{}/Users/{}", scope.base_url, m.scim_id),
    }
    .render();
    UserResource {
        body,
        etag: etag(m.version),
    }
}

fn check_if_match(m: &memberships::Model, if_match: &IfMatch) -> Result<()> {
    super::check_if_match(m.version, if_match)
}

fn user_name_taken() -> Error {
    Error::conflict(
        "UNIQUENESS",
        "a user with this userName already exists in this organization",
    )
}

fn map_unique(e: sea_orm::DbErr) -> Error {
    Error::from(e).on_conflict(user_name_taken)
}

fn roles_of(record: &Document) -> Value {
    record.get("roles").cloned().unwrap_or_else(|| json!([]))
}

/// A create or replace body as a valid `UserInput` (the route runs this off the async
/// workers for large bodies).
pub fn parse_input(body: &Value) -> std::result::Result<UserInput, ScimError> {
    UserInput::from_document(canonicalize(&USER, body)?)
}

#[tracing::instrument(skip_all, fields(organization_id = %scope.organization_id))]
pub async fn create(
    db: &DatabaseConnection,
    scope: &Scope,
    input: UserInput,
) -> Result<UserResource> {
    let key = input.user_name.key();
    let org = scope.organization_id.as_str();
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    if store::find_live_by_user_name(&txn, org, &key)
        .await?
        .is_some()
    {
        return Err(user_name_taken());
    }
    let identity = EmailIdentity::of(&key);
    let verified = match &identity {
        Some(id) => domains::is_verified(&txn, org, &id.domain).await?,
        None => false,
    };
    let (account, created) = match account_link(identity, verified) {
        AccountLink::Verified(id) => {
            let (account, created) = accounts::find_or_create(
                &txn,
                &id.key,
                input.primary_email(),
                input.display_name(),
                now,
            )
            .await?;
            // The organization renamed another member to something else and now sends
            // this email again: that account is already its member.
            if !created
                && store::find_live(&txn, org, &account.id, true)
                    .await?
                    .is_some()
            {
                return Err(Error::conflict(
                    "UNIQUENESS",
                    "this account already has a membership in this organization",
                ));
            }
            (account, created)
        }
        AccountLink::Private => (
            accounts::create_private(&txn, input.primary_email(), input.display_name(), now)
                .await?,
            true,
        ),
    };
    let status = match input.active {
        Some(false) => MembershipStatus::Inactive,
        _ => MembershipStatus::Active,
    };
    let m = store::insert(
        &txn,
        NewMembership {
            organization_id: org,
            user_id: &account.id,
            status: status.as_str(),
            external_id: input.external_id.clone(),
            user_name: input.user_name.as_str(),
            user_name_key: key,
            roles: roles_of(&input.record),
            record: Value::Object(input.record.clone()),
        },
        now,
    )
    .await
    .map_err(map_unique)?;
    let mut events = Vec::new();
    if created {
        events.push(NewEvent::new(
            EventType::UserCreated,
            &account.id,
            json!({"organization": {"id": org}, "user": {"id": account.id}}),
        ));
    }
    events.push(NewEvent::new(
        EventType::MembershipCreated,
        &account.id,
        membership_data(org, &account.id, (&m).into(), &m.status, None),
    ));
    let event_ids = outbox::append(&txn, org, events, now).await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action: act::SCIM_USER_CREATE,
            target_type: "user",
            target_id: &account.id,
            details: json!({"membership_id": m.id, "account_created": created, "events": event_ids}),
        },
        now,
    )
    .await?;
    txn.commit().await.map_err(map_unique)?;
    Ok(render(scope, &m))
}

/// `scim_id` is the id the organization's IdP knows the user by.
pub async fn get(db: &DatabaseConnection, scope: &Scope, scim_id: &str) -> Result<UserResource> {
    let m = store::find_live_by_scim_id(db, &scope.organization_id, scim_id, false)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    with_groups(db, scope, render(scope, &m)).await
}

/// The user's `groups` (read-only, RFC 7643 §4.1.2): the organization's groups it is in.
async fn with_groups(
    db: &impl sea_orm::ConnectionTrait,
    scope: &Scope,
    mut r: UserResource,
) -> Result<UserResource> {
    let Some(id) = r.body["id"].as_str().map(str::to_string) else {
        return Ok(r);
    };
    let mut by_user = crate::store::groups::groups_of_members(
        db,
        &scope.organization_id,
        std::slice::from_ref(&id),
    )
    .await?;
    if let Some(groups) = by_user.remove(&id) {
        r.body["groups"] = group_refs(scope, &groups);
    }
    Ok(r)
}

fn group_refs(scope: &Scope, groups: &[(String, String)]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|(gid, name)| {
                json!({
                    "value": gid,
                    "$ref": format!("{}/Groups/{gid}", scope.base_url),
                    "display": name,
                    "type": "direct",
                })
            })
            .collect(),
    )
}

fn not_found(user_id: &str) -> Error {
    Error::not_found("User", Some(user_id))
}

/// Rows read per round when a filter must be checked here row by row.
const SCAN_BATCH: u64 = 500;

/// Lists the organization's users. The filter and the sort run in SQL (see
/// `store::scim_query`), so only the requested page is loaded and rendered, whatever the
/// organization's size. A filter SQL cannot say exactly is narrowed there and checked
/// here, a batch at a time, so memory stays flat.
pub async fn list(
    db: &DatabaseConnection,
    scope: &Scope,
    query: &ListQuery,
) -> Result<(usize, Vec<Value>)> {
    use crate::store::scim_query::{self, Condition, Resource};
    let org = scope.organization_id.as_str();
    let backend = db.get_database_backend();
    let condition = match &query.filter {
        Some(f) => scim_query::compile(f, Resource::Users, backend)?,
        None => Condition::Exact(None),
    };
    let order = scim_query::order(
        query.sort_by.as_ref(),
        query.descending,
        Resource::Users,
        backend,
    )?;
    let offset = query.start_index.saturating_sub(1) as u64;
    let wanted = query.count as u64;
    let (total, rows) = match (&condition, &query.filter) {
        (Condition::Superset(_), Some(filter)) => {
            let needs_groups = filter.mentions("groups");
            let (mut matched, mut rows, mut at) = (0u64, Vec::new(), 0u64);
            loop {
                let batch =
                    store::filtered_page(db, org, condition.expr(), &order, at, SCAN_BATCH).await?;
                if batch.is_empty() {
                    break;
                }
                at += batch.len() as u64;
                let mut bodies: Vec<Value> = batch.iter().map(|m| render(scope, m).body).collect();
                if needs_groups {
                    attach_groups(db, scope, &mut bodies).await?;
                }
                for (m, body) in batch.into_iter().zip(&bodies) {
                    if filter.matches(body) {
                        if matched >= offset && (rows.len() as u64) < wanted {
                            rows.push(m);
                        }
                        matched += 1;
                    }
                }
            }
            (matched, rows)
        }
        _ => {
            let total = store::filtered_count(db, org, condition.expr()).await?;
            let rows = if wanted == 0 || offset >= total {
                Vec::new()
            } else {
                store::filtered_page(db, org, condition.expr(), &order, offset, wanted).await?
            };
            (total, rows)
        }
    };
    let mut page: Vec<Value> = rows.iter().map(|m| render(scope, m).body).collect();
    if query.projection.returns("groups") {
        attach_groups(db, scope, &mut page).await?;
    }
    let page = page
        .into_iter()
        .map(|u| query.projection.apply(u))
        .collect();
    Ok((usize::try_from(total).unwrap_or(usize::MAX), page))
}

/// Adds each rendered user's read-only `groups`.
async fn attach_groups(
    db: &impl sea_orm::ConnectionTrait,
    scope: &Scope,
    users: &mut [Value],
) -> Result<()> {
    let ids: Vec<String> = users
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_string))
        .collect();
    let mut by_user =
        crate::store::groups::groups_of_members(db, &scope.organization_id, &ids).await?;
    for u in users {
        if let Some(groups) = u["id"].as_str().and_then(|id| by_user.remove(id)) {
            u["groups"] = group_refs(scope, &groups);
        }
    }
    Ok(())
}

/// The next state of a membership after a replace or patch, and what it means.
struct Update {
    next: memberships::Model,
    record_changed: bool,
}

fn plan_update(current: &memberships::Model, input: UserInput, now: DateTime<Utc>) -> Update {
    let old_record = record_of(current);
    let record_changed = old_record != input.record;
    let mut next = current.clone();
    next.user_name = Some(input.user_name.as_str().to_string());
    next.user_name_key = Some(input.user_name.key());
    next.external_id = input.external_id.clone();
    next.roles = roles_of(&input.record);
    next.scim = Some(Value::Object(input.record));
    next.updated_at = now;
    Update {
        next,
        record_changed,
    }
}

/// PUT: the body replaces the organization's record; `active: false` deprovisions exactly
/// as PATCH does.
#[tracing::instrument(skip_all, fields(organization_id = %scope.organization_id))]
pub async fn replace(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    input: UserInput,
    if_match: &IfMatch,
) -> Result<UserResource> {
    modify(
        db,
        scope,
        scim_id,
        if_match,
        act::SCIM_USER_REPLACE,
        Change::Replace(input),
    )
    .await
}

/// A parsed User PATCH and the size of the body it came from (how much work applying it
/// may be).
pub struct UserPatch {
    pub request: std::sync::Arc<PatchRequest>,
    pub weight: usize,
}

/// Parses a User PATCH body; refuses removing `active`, which is the membership's status:
/// it can be set, never unset.
pub fn parse_patch(body: &Value, weight: usize) -> std::result::Result<UserPatch, ScimError> {
    let request = PatchRequest::parse(body, &USER)?;
    if request.operations.iter().any(|op| {
        op.kind == crate::scim::patch::OpKind::Remove
            && op
                .path
                .as_ref()
                .and_then(|p| p.attr)
                .is_some_and(|a| a.name == "active")
    }) {
        return Err(ScimError::invalid_value(
            "active cannot be removed; replace it with false to deactivate",
        ));
    }
    Ok(UserPatch {
        request: std::sync::Arc::new(request),
        weight,
    })
}

#[tracing::instrument(skip_all, fields(organization_id = %scope.organization_id))]
pub async fn patch(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    patch: UserPatch,
    if_match: &IfMatch,
) -> Result<UserResource> {
    modify(
        db,
        scope,
        scim_id,
        if_match,
        act::SCIM_USER_PATCH,
        Change::Patch(patch),
    )
    .await
}

/// What a PUT or PATCH asks for.
enum Change {
    Replace(UserInput),
    Patch(UserPatch),
}

/// The membership's record with the PATCH applied (on a copy: all or nothing).
fn patched_input(
    request: &PatchRequest,
    current: &memberships::Model,
) -> std::result::Result<UserInput, ScimError> {
    let mut doc = record_of(current);
    let active = MembershipStatus::from_stored(&current.status).is_active();
    doc.insert("active".into(), Value::Bool(active));
    let patched = request.apply(&USER, &doc)?;
    let mut input = UserInput::from_document(patched)?;
    // A PATCH that does not touch `active` leaves the status as it is.
    if input.active == Some(active) {
        input.active = None;
    }
    Ok(input)
}

/// Applies a large PATCH before the write lock is taken, to the membership as it is now,
/// off the async workers; the result is used if the membership has not changed by the
/// time the lock is held. `None` for small patches, applied under the lock (cheaper than
/// an extra read).
async fn prepare(
    db: &DatabaseConnection,
    org: &str,
    scim_id: &str,
    change: &Change,
) -> Result<Option<(i64, UserInput)>> {
    let Change::Patch(p) = change else {
        return Ok(None);
    };
    if p.weight <= crate::cpu::INLINE_BYTES {
        return Ok(None);
    }
    let Some(current) = store::find_live_by_scim_id(db, org, scim_id, false).await? else {
        return Ok(None);
    };
    let version = current.version;
    let request = p.request.clone();
    let weight = p.weight + current.scim.as_ref().map_or(0, |v| v.to_string().len());
    let input = crate::cpu::run(weight, move || patched_input(&request, &current))
        .await
        .map_err(|_| Error::Unexpected(anyhow::anyhow!("applying a large PATCH was aborted")))??;
    Ok(Some((version, input)))
}

async fn modify(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    if_match: &IfMatch,
    action: &str,
    change: Change,
) -> Result<UserResource> {
    let org = scope.organization_id.as_str();
    let prepared = prepare(db, org, scim_id, &change).await?;
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let current = store::find_live_by_scim_id(&txn, org, scim_id, true)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    check_if_match(&current, if_match)?;
    let input = match (prepared, change) {
        (Some((version, input)), _) if version == current.version => input,
        // Changed meanwhile (or small): applied now, to what is locked.
        (_, Change::Patch(p)) => patched_input(&p.request, &current)?,
        (_, Change::Replace(input)) => input,
    };
    let user_id = current.user_id.as_str();
    let desired_active = input.active;
    let key = input.user_name.key();
    if current.user_name_key.as_deref() != Some(key.as_str())
        && let Some(other) = store::find_live_by_user_name(&txn, org, &key).await?
        && other.id != current.id
    {
        return Err(user_name_taken());
    }
    let Update {
        mut next,
        record_changed,
    } = plan_update(&current, input, now);
    let from = MembershipStatus::from_stored(&current.status);
    let change = status_change(from, desired_active);
    if change.is_none() && !record_changed {
        // Idempotent: nothing changes, nothing is written or emitted.
        txn.rollback().await?;
        return with_groups(db, scope, render(scope, &current)).await;
    }
    let mut events = Vec::new();
    let mut sessions_revoked = 0;
    if let Some(c) = change {
        next.status = c.to.as_str().to_string();
        next.status_changed_at = now;
        if c.revoke_sessions {
            sessions_revoked =
                sessions::revoke_for_membership(&txn, org, user_id, c.event.as_str(), now).await?;
        }
        let mut data = membership_data(
            org,
            user_id,
            (&current).into(),
            c.to.as_str(),
            Some(c.from.as_str()),
        );
        data["sessions_revoked"] = json!(sessions_revoked);
        events.push(NewEvent::new(c.event, user_id, data));
        if sessions_revoked > 0 {
            events.push(removal::sessions_revoked_event(
                org,
                user_id,
                sessions_revoked,
            ));
        }
    }
    if record_changed {
        events.push(NewEvent::new(
            EventType::MembershipUpdated,
            user_id,
            membership_data(
                org,
                user_id,
                (&current).into(),
                &next.status,
                Some(&current.status),
            ),
        ));
    }
    let saved = store::save(&txn, &current, next)
        .await
        .map_err(map_unique)?;
    let event_ids = outbox::append(&txn, org, events, now).await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action,
            target_type: "user",
            target_id: user_id,
            details: json!({
                "membership_id": current.id,
                "status": saved.status,
                "previous_status": current.status,
                "sessions_revoked": sessions_revoked,
                "events": event_ids,
            }),
        },
        now,
    )
    .await?;
    txn.commit().await.map_err(map_unique)?;
    with_groups(db, scope, render(scope, &saved)).await
}

/// DELETE: the membership is soft-deleted (its record erased), the user's sessions in the
/// organization revoked, and the account deleted if that was its last membership.
#[tracing::instrument(skip_all, fields(organization_id = %scope.organization_id))]
pub async fn delete(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    if_match: &IfMatch,
) -> Result<()> {
    let org = scope.organization_id.as_str();
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let current = store::find_live_by_scim_id(&txn, org, scim_id, true)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    let user_id = current.user_id.as_str();
    check_if_match(&current, if_match)?;
    let removal = Removal {
        organization_id: org,
        reason: "membership.deleted",
        cascade: true,
        grace: scope.deletion_grace,
        transfer_to: None,
    };
    let removed =
        removal::remove_memberships(&txn, &removal, std::slice::from_ref(&current), now).await?;
    let account_deleted = !removed.accounts_deleted.is_empty();
    let sessions_revoked = removed.sessions_revoked;
    let events = removed.events;
    let event_ids = outbox::append(&txn, org, events, now).await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action: act::SCIM_USER_DELETE,
            target_type: "user",
            target_id: user_id,
            details: json!({
                "membership_id": current.id,
                "previous_status": current.status,
                "sessions_revoked": sessions_revoked,
                "account_deleted": account_deleted,
                "events": event_ids,
            }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
