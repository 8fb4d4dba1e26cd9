//! Operator use cases behind the admin API and the CLI: organizations, SCIM tokens,
//! sessions and the account view. Each write is one unit of work with its audit row;
//! the routes render what these return.

use chrono::{DateTime, Utc};
use entity::memberships::Status;
use entity::{audit_log, events, organizations, sessions as session_model};
use entity::{memberships as membership_model, users as account_model};
use ids::{OrganizationId, UserId};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::guard::GuardSettings;
use crate::domain::organization::{OrganizationName, RateLimit};
use crate::store::audit::{Actor, actions};
use crate::store::guard as guard_store;
use crate::store::{accounts, audit, memberships, organizations as orgs, outbox, sessions};

pub async fn create_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &OrganizationName,
    deactivated_retention_secs: Option<i64>,
    guard: GuardSettings,
) -> Result<organizations::Model> {
    let mut work = Work::begin(db, actor).await?;
    let org = orgs::create(work.tx(), name.as_str(), deactivated_retention_secs).await?;
    crate::store::guard::create(work.tx(), &org.id, guard, work.now).await?;
    work.audit(
        Audit::new(
            actions::ORGANIZATION_CREATE,
            "organization",
            &org.id,
            json!({"deprovision_guard": super::guard::settings_json(&guard)}),
        )
        .in_organization(&org.id),
    );
    work.commit().await?;
    Ok(org)
}

pub async fn organization(
    db: &DatabaseConnection,
    id: &OrganizationId,
) -> Result<organizations::Model> {
    orgs::find(db, id)
        .await?
        .ok_or_else(|| Error::not_found("organization", None))
}

/// What `PATCH /admin/v1/organizations/{id}` changes; `None` leaves a field as it is.
pub struct OrganizationChanges {
    pub name: Option<OrganizationName>,
    /// `Some(None)` keeps deactivated memberships forever.
    pub deactivated_retention_secs: Option<Option<i64>>,
    /// `Some(None)` goes back to the server's default.
    pub rate_limit: Option<Option<RateLimit>>,
    /// A partial `deprovision_guard` object: the settings it names change.
    pub deprovision_guard: Option<serde_json::Value>,
    /// `Some(None)` turns full request bodies off.
    pub inspect_full_bodies_until: Option<Option<DateTime<Utc>>>,
}

pub async fn update_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    changes: OrganizationChanges,
) -> Result<organizations::Model> {
    let mut work = Work::begin(db, actor).await?;
    let Some(org) = orgs::find(work.tx(), organization_id).await? else {
        return Err(Error::not_found("organization", None));
    };
    let rate_limit = changes
        .rate_limit
        .map(|l| l.map(|l| (l.per_second, l.burst)));
    let guard = match &changes.deprovision_guard {
        Some(c) => {
            let current = guard_store::lock(work.tx(), organization_id, work.now).await?;
            let next = guard_store::settings_of(&current)
                .with_changes(c)
                .map_err(|e| Error::invalid(e.to_string()))?;
            guard_store::set_settings(work.tx(), organization_id, next, work.now).await?;
            Some(super::guard::settings_json(&next))
        }
        None => None,
    };
    let details = json!({
        "name_changed": changes.name.is_some(),
        "deactivated_retention_secs": changes.deactivated_retention_secs,
        "rate_limit": rate_limit,
        "deprovision_guard": guard,
        "inspect_full_bodies_until": changes
            .inspect_full_bodies_until
            .map(|u| u.map(crate::scim::user::format_time)),
    });
    let changes = orgs::Changes {
        name: changes.name.map(OrganizationName::into_string),
        deactivated_retention_secs: changes.deactivated_retention_secs,
        rate_limit,
        inspect_full_bodies_until: changes.inspect_full_bodies_until,
    };
    let updated = orgs::update(work.tx(), &org, changes, work.now).await?;
    work.audit(
        Audit::new(
            actions::ORGANIZATION_UPDATE,
            "organization",
            organization_id,
            details,
        )
        .in_organization(organization_id),
    );
    work.commit().await?;
    Ok(updated)
}

/// An account with all its memberships, removed ones included.
pub struct UserView {
    pub account: account_model::Model,
    pub memberships: Vec<membership_model::Model>,
    /// The suspension in effect, if any.
    pub suspension: Option<entity::suspensions::Model>,
}

pub async fn user_view(db: &DatabaseConnection, user_id: &UserId) -> Result<UserView> {
    let Some(account) = accounts::find(db, user_id).await? else {
        return Err(Error::not_found("user", None));
    };
    let memberships = memberships::list_for_user(db, user_id).await?;
    let suspension = super::suspension::current(db, user_id, Utc::now()).await?;
    Ok(UserView {
        account,
        memberships,
        suspension,
    })
}

/// Registers a session of a user in an organization where the user is an active member.
pub async fn create_session(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: &UserId,
    organization_id: &OrganizationId,
    expires_at: DateTime<Utc>,
) -> Result<session_model::Model> {
    if expires_at <= Utc::now() {
        return Err(Error::invalid("expires_at must be in the future"));
    }
    let mut work = Work::begin(db, actor).await?;
    let Some(m) = memberships::find_live(work.tx(), organization_id, user_id, true).await? else {
        return Err(Error::not_found("membership", None));
    };
    if m.status != Status::Active {
        return Err(Error::invalid("the membership is not active"));
    }
    if super::suspension::current(work.tx(), user_id, work.now)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "USER_SUSPENDED",
            "The user is suspended; no session can start until the suspension ends.",
        ));
    }
    let s = sessions::create(work.tx(), organization_id, user_id, expires_at).await?;
    work.audit(
        Audit::new(
            actions::SESSION_CREATE,
            "session",
            &s.id,
            json!({"user_id": user_id}),
        )
        .in_organization(organization_id),
    );
    work.commit().await?;
    Ok(s)
}

pub async fn session(db: &DatabaseConnection, id: &str) -> Result<session_model::Model> {
    sessions::find(db, id)
        .await?
        .ok_or_else(|| Error::not_found("session", None))
}

/// The roles of a session's member in its organization now (none once the membership is
/// not live).
pub async fn session_roles(
    db: &DatabaseConnection,
    s: &session_model::Model,
) -> Result<Vec<String>> {
    Ok(
        memberships::find_live(db, &s.organization_id, &s.user_id, false)
            .await?
            .map(|m| crate::domain::roles::stored_roles(m.granted_roles.as_ref()))
            .unwrap_or_default(),
    )
}

/// Revokes one session (sign-out by the operator or the application).
pub async fn revoke_session(
    db: &DatabaseConnection,
    actor: &Actor,
    session_id: &str,
) -> Result<session_model::Model> {
    let mut work = Work::begin(db, actor).await?;
    let Some(s) = sessions::find(work.tx(), session_id).await? else {
        return Err(Error::not_found("session", None));
    };
    if sessions::revoke(work.tx(), session_id, "admin", work.now).await? {
        work.audit(
            Audit::new(
                actions::SESSION_REVOKE,
                "session",
                session_id,
                json!({"user_id": s.user_id}),
            )
            .in_organization(&s.organization_id),
        );
    }
    let s = sessions::find(work.tx(), session_id)
        .await?
        .ok_or_else(|| Error::not_found("session", None))?;
    work.commit().await?;
    Ok(s)
}

/// The audit log, oldest first, optionally of one organization.
pub async fn audit_log(
    db: &DatabaseConnection,
    organization_id: Option<&OrganizationId>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<audit_log::Model>> {
    Ok(audit::page(db, organization_id, after, limit).await?)
}

/// The outbox's events, oldest first, by organization and type.
pub async fn events(
    db: &DatabaseConnection,
    organization_id: Option<&OrganizationId>,
    event_type: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<events::Model>> {
    Ok(outbox::page(db, organization_id, event_type, after, limit).await?)
}

/// A page of live organizations (name contains `q`, case-insensitive).
pub async fn organizations(
    db: &DatabaseConnection,
    q: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<organizations::Model>> {
    Ok(orgs::page(db, q, after, limit).await?)
}

/// A page of the organization's members (see `store::memberships::admin_page`).
pub async fn members(
    db: &DatabaseConnection,
    organization_id: &OrganizationId,
    filter: Option<memberships::MemberFilter>,
    q: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<membership_model::Model>> {
    organization(db, organization_id).await?;
    Ok(memberships::admin_page(db, organization_id, filter, q, after, limit).await?)
}
