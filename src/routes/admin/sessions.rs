use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AdminApiError, body};
use crate::routes::extract::Operator;
use crate::service::admin;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    user_id: String,
    organization_id: String,
    expires_at: DateTime<Utc>,
}

async fn create(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateSession = body(&req, payload, state.settings.max_body_bytes).await?;
    let s = admin::create_session(
        &state.db,
        &op.actor,
        &input.user_id,
        &input.organization_id,
        input.expires_at,
    )
    .await?;
    Ok(HttpResponse::Created().json(admin::session_json(&s, Utc::now())))
}

/// Introspection: `{"active": bool, …}`.
async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let s = admin::find_session(&state.db, &id)
        .await?
        .ok_or_else(|| AdminApiError::not_found("session"))?;
    Ok(HttpResponse::Ok().json(admin::session_json(&s, Utc::now())))
}

async fn revoke(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let s = admin::revoke_session(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::Ok().json(admin::session_json(&s, Utc::now())))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions", web::post().to(create))
        .route("/sessions/{id}", web::get().to(get))
        .route("/sessions/{id}", web::delete().to(revoke));
}
