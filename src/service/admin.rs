//! Operator use cases behind the admin API and the CLI.

use chrono::{DateTime, Utc};
use entity::{organizations, scim_tokens, sessions as session_model};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::{Error, Result};
use crate::db;
use crate::scim::user::format_time;
use crate::store::audit::{self, Actor, Entry, actions};
use crate::store::{accounts, memberships, organizations as orgs, sessions, tokens};

pub async fn create_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &str,
    deactivated_retention_secs: Option<i64>,
) -> Result<organizations::Model> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let org = orgs::create(&txn, name, deactivated_retention_secs).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(&org.id),
            action: actions::ORGANIZATION_CREATE,
            target_type: "organization",
            target_id: &org.id,
            details: json!({}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

pub fn organization_json(org: &organizations::Model) -> Value {
    json!({
        "id": org.id,
        "name": org.name,
        "deactivated_retention_secs": org.deactivated_retention_secs,
        // null: the server's default (OFFBOARD_RATE_LIMIT_PER_SECOND / _BURST).
        "rate_limit": match (org.rate_limit_per_second, org.rate_limit_burst) {
            (Some(per_second), Some(burst)) => json!({"per_second": per_second, "burst": burst}),
            _ => Value::Null,
        },
        "created_at": format_time(org.created_at),
        "updated_at": format_time(org.updated_at),
    })
}

/// Creates a SCIM token; `None` when the organization does not exist.
pub async fn create_scim_token(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &str,
) -> Result<(scim_tokens::Model, String)> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    if orgs::find(&txn, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let (row, token) = tokens::create(&txn, organization_id).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::SCIM_TOKEN_CREATE,
            target_type: "scim_token",
            target_id: &row.id,
            details: json!({}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((row, token))
}

/// The account with all its memberships, removed ones included; `None` if unknown.
pub async fn user_view(db: &DatabaseConnection, user_id: &str) -> Result<Option<Value>> {
    let Some(account) = accounts::find(db, user_id).await? else {
        return Ok(None);
    };
    let ms = memberships::list_for_user(db, user_id).await?;
    let memberships: Vec<Value> = ms
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "scim_id": m.scim_id,
                "organization_id": m.organization_id,
                "status": m.status,
                "roles": m.roles,
                "user_name": m.user_name,
                "external_id": m.external_id,
                "created_at": format_time(m.created_at),
                "updated_at": format_time(m.updated_at),
                "removed_at": m.removed_at.map(format_time),
            })
        })
        .collect();
    Ok(Some(json!({
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        // Linked through a verified domain (shared by the organizations that verified
        // it), or private to the organization that created it.
        "linked": account.identity_key.is_some() || account.held_identity_key.is_some(),
        "status": if account.deleted_at.is_some() { "DELETED" } else { "ACTIVE" },
        "created_at": format_time(account.created_at),
        "deleted_at": account.deleted_at.map(format_time),
        // Within the grace period: when the personal data goes and a restore stops working.
        "purge_after": account.purge_after.map(format_time),
        "memberships": memberships,
    })))
}

/// Registers a session of a user in an organization where the user is an active member.
pub async fn create_session(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: &str,
    organization_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<session_model::Model> {
    let now = Utc::now();
    if expires_at <= now {
        return Err(Error::invalid("expires_at must be in the future"));
    }
    let txn = db::begin_write(db).await?;
    let Some(m) = memberships::find_live(&txn, organization_id, user_id, true).await? else {
        return Err(Error::not_found("membership", None));
    };
    if m.status != "ACTIVE" {
        return Err(Error::invalid("the membership is not active"));
    }
    let s = sessions::create(&txn, organization_id, user_id, expires_at).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::SESSION_CREATE,
            target_type: "session",
            target_id: &s.id,
            details: json!({"user_id": user_id}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(s)
}

pub fn session_json(s: &session_model::Model, now: DateTime<Utc>) -> Value {
    json!({
        "id": s.id,
        "active": s.revoked_at.is_none() && s.expires_at > now,
        "user_id": s.user_id,
        "organization_id": s.organization_id,
        "created_at": format_time(s.created_at),
        "expires_at": format_time(s.expires_at),
        "revoked_at": s.revoked_at.map(format_time),
        "revoked_reason": s.revoked_reason,
    })
}

pub async fn find_session(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<session_model::Model>> {
    Ok(sessions::find(db, id).await?)
}

/// `PATCH /admin/v1/organizations/{id}`: name and retention policy.
pub async fn update_organization(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &str,
    changes: orgs::Changes,
) -> Result<organizations::Model> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let Some(org) = orgs::find(&txn, organization_id).await? else {
        return Err(Error::not_found("organization", None));
    };
    let details = json!({
        "name_changed": changes.name.is_some(),
        "deactivated_retention_secs": changes.deactivated_retention_secs,
        "rate_limit": changes.rate_limit,
    });
    let updated = orgs::update(&txn, &org, changes, now).await?;
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::ORGANIZATION_UPDATE,
            target_type: "organization",
            target_id: organization_id,
            details,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Revokes one SCIM token of an organization: the IdP using it is refused at once.
pub async fn revoke_scim_token(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &str,
    token_id: &str,
) -> Result<()> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    if !tokens::revoke(&txn, organization_id, token_id).await? {
        return Err(Error::not_found("scim token", None));
    }
    audit::record(
        &txn,
        actor,
        Entry {
            organization_id: Some(organization_id),
            action: actions::SCIM_TOKEN_REVOKE,
            target_type: "scim_token",
            target_id: token_id,
            details: json!({}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Revokes one session (sign-out by the operator or the application).
pub async fn revoke_session(
    db: &DatabaseConnection,
    actor: &Actor,
    session_id: &str,
) -> Result<session_model::Model> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let Some(s) = sessions::find(&txn, session_id).await? else {
        return Err(Error::not_found("session", None));
    };
    if sessions::revoke(&txn, session_id, "admin", now).await? {
        audit::record(
            &txn,
            actor,
            Entry {
                organization_id: Some(&s.organization_id),
                action: actions::SESSION_REVOKE,
                target_type: "session",
                target_id: session_id,
                details: json!({"user_id": s.user_id}),
            },
            now,
        )
        .await?;
    }
    let s = sessions::find(&txn, session_id)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("session".into()))?;
    txn.commit().await?;
    Ok(s)
}
