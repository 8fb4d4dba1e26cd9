use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{AdminApiError, optional_body, reject_unknown_fields, require_confirmation};
use crate::routes::extract::Operator;
use crate::service::{admin, deletion};
use crate::state::AppState;

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let view = admin::user_view(&state.db, &id)
        .await?
        .ok_or_else(|| AdminApiError::not_found("user"))?;
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
    reject_unknown_fields(&input, &["confirm"])?;
    require_confirmation(&input, json!({"user_id": id.as_str()}))?;
    deletion::delete_user(&state.db, &op.actor, &id, state.settings.deletion_grace).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn restore(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    deletion::restore_user(&state.db, &op.actor, &id).await?;
    let view = admin::user_view(&state.db, &id)
        .await?
        .ok_or_else(|| AdminApiError::not_found("user"))?;
    Ok(HttpResponse::Ok().json(view))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}", web::get().to(get))
        .route("/users/{id}", web::delete().to(delete))
        .route("/users/{id}/restore", web::post().to(restore));
}
