use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{AdminApiError, body};
use crate::auth::Operator;
use crate::configuration::parse_duration;
use crate::service::admin;
use crate::startup::AppState;
use crate::store::organizations as orgs;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrganization {
    name: String,
    /// e.g. `30d`; absent keeps deactivated memberships forever.
    deactivated_retention: Option<String>,
}

async fn create(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateOrganization = body(&req, payload, state.settings.max_body_bytes).await?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AdminApiError::validation("name must be 1 to 200 characters").traced(&req));
    }
    let retention = match input.deactivated_retention.as_deref() {
        Some(r) => Some(
            parse_duration(r)
                .map_err(|e| AdminApiError::validation(&e.to_string()).traced(&req))?
                .as_secs() as i64,
        ),
        None => None,
    };
    let org = admin::create_organization(&state.db, &op.actor, name, retention)
        .await
        .map_err(|e| AdminApiError::from(e).traced(&req))?;
    Ok(HttpResponse::Created().json(admin::organization_json(&org)))
}

async fn get(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = orgs::find(&state.db, &id)
        .await
        .map_err(|e| AdminApiError::from(crate::service::ServiceError::from(e)).traced(&req))?
        .ok_or_else(|| AdminApiError::not_found("organization").traced(&req))?;
    Ok(HttpResponse::Ok().json(admin::organization_json(&org)))
}

async fn create_token(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let (row, token) = admin::create_scim_token(&state.db, &op.actor, &id)
        .await
        .map_err(|e| AdminApiError::from(e).traced(&req))?
        .ok_or_else(|| AdminApiError::not_found("organization").traced(&req))?;
    Ok(HttpResponse::Created().json(json!({
        "id": row.id,
        "organization_id": row.organization_id,
        "token": token,
        "created_at": crate::scim::user::format_time(row.created_at),
    })))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations", web::post().to(create))
        .route("/organizations/{id}", web::get().to(get))
        .route(
            "/organizations/{id}/scim-tokens",
            web::post().to(create_token),
        );
}
