use actix_web::{HttpRequest, HttpResponse, web};

use super::AdminApiError;
use crate::auth::Operator;
use crate::service::admin;
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}", web::get().to(get));
}
