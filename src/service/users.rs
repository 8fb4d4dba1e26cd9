//! SCIM /Users use cases for one organization: create, read, list, replace, patch and
//! delete the organization's membership of an account. Each write is one unit of work
//! (`work::Work`); the rules come from `domain`, the answer is a [`User`] that the route
//! renders.

use chrono::{DateTime, Utc};
use entity::memberships::{self, Status};
use ids::{GroupId, OrganizationId};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use super::guard::{self, Admission, Ask};
use super::listing::{self};
use super::removal::{self, Removal};
use super::status::{self, Applied, map_unique, user_name_taken, with_view};
use super::work::{Audit, Work};
use super::{Error, Result, Scope, check_if_match};
use crate::domain::plan_update;
use crate::domain::{AccountLink, EmailIdentity, IfMatch, MembershipStatus, account_link};
use crate::scim::error::ScimError;
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{Document, canonicalize};
use crate::scim::schema::USER;
use crate::scim::user::UserInput;
use crate::store::audit::actions as act;
use crate::store::guard::HeldKind;
use crate::store::memberships::NewMembership;
use crate::store::scim_query::Resource;
use crate::store::{accounts, domains, memberships as store};

/// A user as the organization sees it: its membership (record, status, version) and the
/// organization's groups it is in, as `(group id, display name)`.
#[derive(Debug, Clone)]
pub struct User {
    pub membership: memberships::Model,
    pub groups: Vec<(GroupId, String)>,
}

impl User {
    /// The organization's record of the user (the SCIM document without `active`).
    pub fn record(&self) -> Document {
        record_of(&self.membership)
    }

    pub fn active(&self) -> bool {
        self.membership.status == Status::Active
    }
}

fn record_of(m: &memberships::Model) -> Document {
    match &m.scim {
        Some(Value::Object(o)) => o.clone(),
        _ => Document::new(),
    }
}

fn not_found(scim_id: &str) -> Error {
    Error::not_found("User", Some(scim_id))
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
pub async fn create(db: &DatabaseConnection, scope: &Scope, input: UserInput) -> Result<User> {
    let key = input.user_name.key();
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor).await?.source("scim.post");
    let (tx, now) = (work.tx(), work.now);
    if store::find_live_by_user_name(tx, org, &key)
        .await?
        .is_some()
    {
        return Err(user_name_taken());
    }
    let identity = EmailIdentity::of(&key);
    let verified = match &identity {
        Some(id) => domains::is_verified(tx, org, &id.domain).await?,
        None => false,
    };
    let (account, created) = match account_link(identity, verified) {
        AccountLink::Verified(id) => {
            let (account, created) = accounts::find_or_create(
                tx,
                &id.key,
                input.primary_email(),
                input.display_name(),
                now,
            )
            .await?;
            // The organization renamed another member to something else and now sends
            // this email again: that account is already its member.
            if !created
                && store::find_live(tx, org, &account.id, true)
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
            accounts::create_private(tx, input.primary_email(), input.display_name(), now).await?,
            true,
        ),
    };
    let status = match input.active {
        Some(false) => MembershipStatus::Inactive,
        _ => MembershipStatus::Active,
    };
    let m = store::insert(
        tx,
        NewMembership {
            organization_id: org,
            user_id: &account.id,
            status,
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
    work.emit(org, with_view(&m, Vec::new()).created_events(created));
    super::roles::recompute_new(&mut work, org, &m).await?;
    let details = json!({"membership_id": m.id, "account_created": created});
    let audit = Audit::new(act::SCIM_USER_CREATE, "user", &account.id, details);
    commit(work, audit, m, Vec::new()).await
}

/// Commits a write of a user with its audit row (in the organization, naming the
/// events), and answers with the user as written: no second read.
async fn commit(
    mut work: Work<'_>,
    audit: Audit,
    membership: memberships::Model,
    groups: Vec<(GroupId, String)>,
) -> Result<User> {
    let org = membership.organization_id.clone();
    work.audit(audit.in_organization(&org).listing_events());
    work.commit()
        .await
        .map_err(|e| e.on_conflict(user_name_taken))?;
    Ok(User { membership, groups })
}

/// `scim_id` is the id the organization's IdP knows the user by.
pub async fn get(db: &DatabaseConnection, scope: &Scope, scim_id: &str) -> Result<User> {
    let m = store::find_live_by_scim_id(db, &scope.organization_id, scim_id, false)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    with_groups(db, scope, m).await
}

/// The user with its `groups` (read-only, RFC 7643 §4.1.2).
async fn with_groups(
    db: &impl ConnectionTrait,
    scope: &Scope,
    membership: memberships::Model,
) -> Result<User> {
    let mut users = vec![User {
        membership,
        groups: Vec::new(),
    }];
    attach_groups(db, scope, &mut users).await?;
    Ok(users
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("user vanished"))?)
}

/// Rows read per round when a filter must be checked here row by row.
const SCAN_BATCH: u64 = 500;

/// Lists the organization's users (see `listing`). A filter SQL cannot say exactly is
/// checked against each user's document as the route renders it (`as_document`).
pub async fn list(
    db: &DatabaseConnection,
    scope: &Scope,
    query: &ListQuery,
    as_document: &dyn Fn(&User) -> Value,
) -> Result<(usize, Vec<User>)> {
    let org = &scope.organization_id;
    let needs_groups = query.filter.as_ref().is_some_and(|f| f.mentions("groups"));
    let (total, mut page) = listing::list(
        db,
        query,
        Resource::Users,
        store::listed(org),
        SCAN_BATCH,
        |membership| User {
            membership,
            groups: Vec::new(),
        },
        async |batch: &mut [User]| {
            if needs_groups {
                attach_groups(db, scope, batch).await?;
            }
            Ok(())
        },
        as_document,
    )
    .await?;
    if query.projection.returns("groups") {
        attach_groups(db, scope, &mut page).await?;
    }
    Ok((total, page))
}

/// Fills in each user's read-only `groups`.
async fn attach_groups(db: &impl ConnectionTrait, scope: &Scope, users: &mut [User]) -> Result<()> {
    let ids: Vec<String> = users.iter().map(|u| u.membership.scim_id.clone()).collect();
    let mut by_user =
        crate::store::groups::groups_of_members(db, &scope.organization_id, &ids).await?;
    for u in users {
        if let Some(groups) = by_user.remove(&u.membership.scim_id) {
            u.groups = groups;
        }
    }
    Ok(())
}

/// The membership after a replace or patch (record, userName, externalId), before its
/// status is decided; and whether the record changed.
fn updated_record(
    current: &memberships::Model,
    input: UserInput,
    now: DateTime<Utc>,
) -> (memberships::Model, bool) {
    let record_changed = record_of(current) != input.record;
    let mut next = current.clone();
    next.user_name = Some(input.user_name.as_str().to_string());
    next.user_name_key = Some(input.user_name.key());
    next.external_id = input.external_id.clone();
    next.roles = roles_of(&input.record);
    next.scim = Some(Value::Object(input.record));
    next.updated_at = now;
    (next, record_changed)
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
) -> Result<User> {
    modify(db, scope, scim_id, if_match, Change::Replace(input)).await
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
) -> Result<User> {
    modify(db, scope, scim_id, if_match, Change::Patch(patch)).await
}

/// What a PUT or PATCH asks for.
enum Change {
    Replace(UserInput),
    Patch(UserPatch),
}

impl Change {
    /// The audit log's name for it.
    fn action(&self) -> &'static str {
        match self {
            Change::Replace(_) => act::SCIM_USER_REPLACE,
            Change::Patch(_) => act::SCIM_USER_PATCH,
        }
    }
}

/// The membership's record with the PATCH applied (on a copy: all or nothing).
fn patched_input(
    request: &PatchRequest,
    current: &memberships::Model,
) -> std::result::Result<UserInput, ScimError> {
    // The record holds no `active` (the status is the membership's): after the PATCH it
    // has one only when the PATCH set it, so `input.active` is what the IdP asked for.
    let patched = request.apply(&USER, &record_of(current))?;
    UserInput::from_document(patched)
}

/// Applies a large PATCH before the write lock is taken, to the membership as it is now,
/// off the async workers; the result is used if the membership has not changed by the
/// time the lock is held. `None` for small patches, applied under the lock (cheaper than
/// an extra read).
async fn prepare(
    db: &DatabaseConnection,
    org: &OrganizationId,
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

/// Where a SCIM deprovisioning asks the organization's guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GuardAt {
    /// After applying it, just before the commit: the guard's row stays locked only
    /// for the last statements (the common case: the guard lets it through).
    Last,
    /// Before applying it: when asked last the guard would hold it, the unit is rolled
    /// back and done again this way, which records the held deprovisioning.
    First,
}

async fn modify(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    if_match: &IfMatch,
    change: Change,
) -> Result<User> {
    let prepared = prepare(db, &scope.organization_id, scim_id, &change).await?;
    let once = |prepared, at| modify_once(db, scope, scim_id, if_match, &change, prepared, at);
    match once(prepared, GuardAt::Last).await? {
        Some(user) => Ok(user),
        None => once(None, GuardAt::First)
            .await?
            .ok_or_else(guard_asked_again),
    }
}

/// The guard asked first never asks again; this is the error if it ever did.
fn guard_asked_again() -> Error {
    Error::Unexpected(anyhow::anyhow!(
        "the deprovisioning guard asked for a retry twice"
    ))
}

/// Asks the guard before the deprovisioning is applied: the unit back, to apply it; when
/// the guard holds it, the unit (with the held action) is committed and the held error
/// returned.
async fn guard_first<'a>(mut work: Work<'a>, ask: Ask<'_>) -> Result<Work<'a>> {
    match guard::admit(&mut work, ask).await? {
        Admission::Go => Ok(work),
        Admission::Held(held) => {
            work.commit().await?;
            Err(held)
        }
        Admission::Again => Err(guard_asked_again()),
    }
}

/// Asks the guard after the deprovisioning was applied in `work`: whether it lets it
/// through. If not, the caller drops the unit (nothing is written) and asks first.
async fn guard_last(work: &mut Work<'_>, ask: Ask<'_>) -> Result<bool> {
    Ok(matches!(guard::admit(work, ask).await?, Admission::Go))
}

/// One attempt at a PUT or PATCH; `None` when the guard, asked last, would hold the
/// deprovisioning (nothing was written).
async fn modify_once(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    if_match: &IfMatch,
    change: &Change,
    prepared: Option<(i64, UserInput)>,
    guard_at: GuardAt,
) -> Result<Option<User>> {
    let action = change.action();
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor)
        .await?
        .source(super::scim_source(action));
    let (tx, now) = (work.tx(), work.now);
    let current = store::find_live_by_scim_id(tx, org, scim_id, true)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    check_if_match(current.version, if_match)?;
    let input = match (prepared, change) {
        (Some((version, input)), _) if version == current.version => input,
        // Changed meanwhile (or small): applied now, to what is locked.
        (_, Change::Patch(p)) => patched_input(&p.request, &current)?,
        (_, Change::Replace(input)) => input.clone(),
    };
    let key = input.user_name.key();
    if current.user_name_key.as_deref() != Some(key.as_str())
        && let Some(other) = store::find_live_by_user_name(tx, org, &key).await?
        && other.id != current.id
    {
        return Err(user_name_taken());
    }
    let status = store::status_of(current.status);
    let desired_active = input.active;
    // The IdP wants the user active: a deactivation of it the guard holds is withdrawn.
    let withdrawn = if desired_active == Some(true) {
        guard::withdraw(&mut work, &current).await?
    } else {
        false
    };
    let (next, record_changed) = updated_record(&current, input, now);
    let Some(plan) = plan_update(status, desired_active, record_changed) else {
        // Idempotent: nothing changes, nothing is written or emitted (but a withdrawn
        // held deactivation is committed).
        if withdrawn {
            work.commit().await?;
        } else {
            drop(work);
        }
        return with_groups(db, scope, current).await.map(Some);
    };
    let ask = |applied| Ask {
        membership: &current,
        kind: HeldKind::Deactivate,
        source: super::scim_source(action),
        applied,
    };
    if plan.deprovisions() && guard_at == GuardAt::First {
        work = guard_first(work, ask(false)).await?;
    }
    let Applied {
        saved,
        sessions_revoked,
        groups,
    } = status::apply(&mut work, &current, next, &plan).await?;
    if plan.deprovisions() && guard_at == GuardAt::Last && !guard_last(&mut work, ask(true)).await?
    {
        return Ok(None);
    }
    let details = json!({
        "membership_id": current.id,
        "status": saved.status,
        "previous_status": current.status,
        "sessions_revoked": sessions_revoked,
    });
    let audit = Audit::new(action, "user", &current.user_id, details);
    // The groups the events were written with are the answer's.
    commit(work, audit, saved, groups).await.map(Some)
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
    if delete_once(db, scope, scim_id, if_match, GuardAt::Last).await? {
        return Ok(());
    }
    if delete_once(db, scope, scim_id, if_match, GuardAt::First).await? {
        return Ok(());
    }
    Err(guard_asked_again())
}

/// One attempt at a DELETE; `false` when the guard, asked last, would hold it (nothing
/// was written).
async fn delete_once(
    db: &DatabaseConnection,
    scope: &Scope,
    scim_id: &str,
    if_match: &IfMatch,
    guard_at: GuardAt,
) -> Result<bool> {
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor).await?.source("scim.delete");
    let current = store::find_live_by_scim_id(work.tx(), org, scim_id, true)
        .await?
        .ok_or_else(|| not_found(scim_id))?;
    check_if_match(current.version, if_match)?;
    let ask = |applied| Ask {
        membership: &current,
        kind: HeldKind::Delete,
        source: super::scim_source(act::SCIM_USER_DELETE),
        applied,
    };
    if guard_at == GuardAt::First {
        work = guard_first(work, ask(false)).await?;
    }
    let removal = Removal::new(org, "membership.deleted", scope.deletion_grace);
    let removed =
        removal::remove_memberships(&mut work, &removal, std::slice::from_ref(&current)).await?;
    if guard_at == GuardAt::Last && !guard_last(&mut work, ask(true)).await? {
        return Ok(false);
    }
    work.audit(
        Audit::new(
            act::SCIM_USER_DELETE,
            "user",
            &current.user_id,
            json!({
                "membership_id": current.id,
                "previous_status": current.status,
                "sessions_revoked": removed.sessions_revoked,
                "account_deleted": !removed.accounts_deleted.is_empty(),
            }),
        )
        .in_organization(org)
        .listing_events(),
    );
    work.commit().await?;
    Ok(true)
}
