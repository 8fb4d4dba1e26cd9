use crate::views::Session;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use ids::{OrganizationId, UserId};
use serde::Deserialize;

use super::{AdminApiError, Body};
use crate::routes::extract::Operator;
use crate::service::admin;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSession {
    user_id: String,
    organization_id: String,
    expires_at: DateTime<Utc>,
}

impl CreateSession {
    /// The account and organization named, and the expiry; ids that cannot be an
    /// account's and an organization's name no membership (404).
    pub(crate) fn parsed(&self) -> Result<(UserId, OrganizationId, DateTime<Utc>), AdminApiError> {
        match (
            UserId::named(&self.user_id),
            OrganizationId::named(&self.organization_id),
        ) {
            (Some(u), Some(o)) => Ok((u, o, self.expires_at)),
            _ => Err(crate::service::Error::not_found("membership", None).into()),
        }
    }
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    Body(input): Body<CreateSession>,
) -> Result<HttpResponse, AdminApiError> {
    let (user_id, organization_id, expires_at) = input.parsed()?;
    let s =
        admin::create_session(&state.db, &op.actor, &user_id, &organization_id, expires_at).await?;
    Ok(HttpResponse::Created().json(Session::of(&s, Utc::now())))
}

/// Introspection: `{"active": bool, …}`.
async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let s = admin::session(&state.db, &id).await?;
    let roles = admin::session_roles(&state.db, &s).await?;
    Ok(HttpResponse::Ok().json(Session::of(&s, Utc::now()).with_roles(roles)))
}

async fn revoke(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let s = admin::revoke_session(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::Ok().json(Session::of(&s, Utc::now())))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions", web::post().to(create))
        .route("/sessions/{id}", web::get().to(get))
        .route("/sessions/{id}", web::delete().to(revoke));
}
