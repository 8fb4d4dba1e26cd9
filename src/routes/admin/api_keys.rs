//! Applications' API keys: created (the key shown once), listed (never the key), deleted.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{AdminApiError, Body};
use crate::routes::extract::Operator;
use crate::service::feed;
use crate::state::AppState;
use crate::views::{ApiKey, List};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    name: String,
    scopes: Vec<String>,
    /// `null` or absent: every organization.
    #[serde(default)]
    organization_id: Option<String>,
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    Body(input): Body<CreateKey>,
) -> Result<HttpResponse, AdminApiError> {
    let organization_id = match input.organization_id.as_deref() {
        Some(raw) => Some(super::organization_id(raw)?),
        None => None,
    };
    let (row, key) = feed::create_key(
        &state.db,
        &op.actor,
        &input.name,
        &input.scopes,
        organization_id.as_ref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(ApiKey::created(&row, key)))
}

async fn list(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, AdminApiError> {
    let rows = feed::list_keys(&state.db).await?;
    Ok(HttpResponse::Ok().json(List::of(rows.iter().map(ApiKey::of).collect())))
}

async fn delete(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    feed::delete_key(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api-keys", web::post().to(create))
        .route("/api-keys", web::get().to(list))
        .route("/api-keys/{id}", web::delete().to(delete));
}
