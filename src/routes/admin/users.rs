use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{AdminApiError, optional_body, outcome, reject_unknown_fields, require_confirmation};
use crate::auth::Operator;
use crate::service::{admin, deletion};
use crate::startup::AppState;

async fn get(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let view = admin::user_view(&state.db, &id)
        .await
        .map_err(|e| AdminApiError::from(e).traced(&req))?
        .ok_or_else(|| AdminApiError::not_found("user").traced(&req))?;
    Ok(HttpResponse::Ok().json(view))
}

/// Deletes the account everywhere (account closure, erasure request).
async fn delete(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input = optional_body(&req, payload, state.settings.max_body_bytes).await?;
    reject_unknown_fields(&req, &input, &["confirm"])?;
    require_confirmation(&req, &input, json!({"user_id": id.as_str()}))?;
    outcome(
        &req,
        deletion::delete_user(&state.db, &op.actor, &id, state.settings.deletion_grace).await,
    )?;
    Ok(HttpResponse::NoContent().finish())
}

async fn restore(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    outcome(
        &req,
        deletion::restore_user(&state.db, &op.actor, &id).await,
    )?;
    let view = admin::user_view(&state.db, &id)
        .await
        .map_err(|e| AdminApiError::from(e).traced(&req))?
        .ok_or_else(|| AdminApiError::not_found("user").traced(&req))?;
    Ok(HttpResponse::Ok().json(view))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}", web::get().to(get))
        .route("/users/{id}", web::delete().to(delete))
        .route("/users/{id}/restore", web::post().to(restore));
}
