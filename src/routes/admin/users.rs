use actix_web::{HttpResponse, web};
use serde_json::json;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AdminApiError, Body, OptionalBody, deletion_body};
use crate::domain::suspension::Suspension;
use crate::routes::extract::Operator;
use crate::service::admin;
use crate::service::export;
use crate::service::{deletion, suspension};
use crate::state::AppState;
use crate::views::{User, UserExport};

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let view = admin::user_view(&state.db, &super::user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(User::of(&view)))
}

/// Deletes the account everywhere (account closure, erasure request), with the content
/// directives the application is to carry out.
async fn delete(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let content = deletion_body(&input, &[], json!({"user_id": id.as_str()}))?;
    let grace = state.settings.deletion_grace;
    deletion::delete_user(&state.db, &op.actor, &super::user_id(&id)?, content, grace).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn restore(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let id = super::user_id(&id)?;
    deletion::restore_user(&state.db, &op.actor, &id).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(User::of(&view)))
}

/// Everything offboard holds about the person, until the purge erases it (404 after).
async fn export(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let e = export::export(&state.db, &op.actor, &super::user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserExport::of(&e, Utc::now())))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspendInput {
    #[serde(default)]
    reason: Option<String>,
    /// RFC 3339; absent or `null`: until lifted.
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

/// Suspends the account in every organization: sessions revoked, new ones refused.
async fn suspend(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<SuspendInput>,
) -> Result<HttpResponse, AdminApiError> {
    let suspension = Suspension::new(input.reason.as_deref(), input.until, Utc::now())
        .map_err(|e| AdminApiError::validation(&format!("{e}.")))?;
    let id = super::user_id(&id)?;
    suspension::suspend(&state.db, &op.actor, &id, suspension).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(User::of(&view)))
}

async fn unsuspend(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let id = super::user_id(&id)?;
    suspension::unsuspend(&state.db, &op.actor, &id).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(User::of(&view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}", web::get().to(get))
        .route("/users/{id}", web::delete().to(delete))
        .route("/users/{id}/restore", web::post().to(restore))
        .route("/users/{id}/suspend", web::post().to(suspend))
        .route("/users/{id}/unsuspend", web::post().to(unsuspend))
        .route("/users/{id}/export", web::get().to(export));
}
