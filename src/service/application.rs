//! What an application does with its API key (`/v1`): register, introspect and revoke
//! its users' sessions, and read a user. A key limited to one organization works only
//! there: another organization's sessions, users and memberships answer 404, as ids that
//! do not exist do, so a key learns nothing of what lies outside its organization.

use chrono::{DateTime, Utc};
use entity::{api_keys, sessions as session_model};
use ids::{OrganizationId, UserId};
use sea_orm::DatabaseConnection;

use super::admin::{self, UserView};
use super::{Error, Result};
use crate::store::audit::Actor;

/// Whether the key may act in this organization.
fn within(key: &api_keys::Model, organization_id: &OrganizationId) -> bool {
    key.organization_id
        .as_ref()
        .is_none_or(|own| own == organization_id)
}

/// Registers a session of the user in the organization, as the operator's registration
/// does (refused for a membership that is not ACTIVE, a suspended or deleted account).
pub async fn create_session(
    db: &DatabaseConnection,
    key: &api_keys::Model,
    actor: &Actor,
    user_id: &UserId,
    organization_id: &OrganizationId,
    expires_at: DateTime<Utc>,
) -> Result<session_model::Model> {
    if !within(key, organization_id) {
        return Err(Error::not_found("membership", None));
    }
    admin::create_session(db, actor, user_id, organization_id, expires_at).await
}

/// A session of the key's organization (404 for another's).
pub async fn session(
    db: &DatabaseConnection,
    key: &api_keys::Model,
    id: &str,
) -> Result<session_model::Model> {
    let s = admin::session(db, id).await?;
    if !within(key, &s.organization_id) {
        return Err(Error::not_found("session", None));
    }
    Ok(s)
}

/// Revokes a session of the key's organization (404 for another's).
pub async fn revoke_session(
    db: &DatabaseConnection,
    key: &api_keys::Model,
    actor: &Actor,
    id: &str,
) -> Result<session_model::Model> {
    session(db, key, id).await?;
    admin::revoke_session(db, actor, id).await
}

/// The user as the key may see it: whether the account is suspended and until when,
/// never the operator's reason (as the events never carry it); with a key limited to one
/// organization, only the membership there (404 when there is none), and none of the
/// account's own data (its email and display name may have come from another
/// organization's records).
pub async fn user(
    db: &DatabaseConnection,
    key: &api_keys::Model,
    user_id: &UserId,
) -> Result<UserView> {
    let mut view = admin::user_view(db, user_id).await?;
    if let Some(s) = view.suspension.as_mut() {
        s.reason = None;
    }
    if let Some(own) = &key.organization_id {
        view.memberships.retain(|m| &m.organization_id == own);
        if view.memberships.is_empty() {
            return Err(Error::not_found("user", None));
        }
        view.account.email = None;
        view.account.display_name = None;
    }
    Ok(view)
}
