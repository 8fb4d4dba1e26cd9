//! Applications' API keys: created (the key shown once), listed (never the key), deleted.

use actix_web::{HttpResponse, web};
use entity::api_keys;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminApiError, Body};
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::feed;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    name: String,
    scopes: Vec<String>,
    /// `null` or absent: every organization.
    #[serde(default)]
    organization_id: Option<String>,
}

pub fn key_json(k: &api_keys::Model) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "scopes": k.scopes.split(' ').collect::<Vec<_>>(),
        "organization_id": k.organization_id,
        "created_at": format_time(k.created_at),
    })
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    Body(input): Body<CreateKey>,
) -> Result<HttpResponse, AdminApiError> {
    let (row, key) = feed::create_key(
        &state.db,
        &op.actor,
        &input.name,
        &input.scopes,
        input.organization_id.as_deref(),
    )
    .await?;
    let mut body = key_json(&row);
    body["key"] = json!(key);
    Ok(HttpResponse::Created().json(body))
}

async fn list(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, AdminApiError> {
    let rows = feed::list_keys(&state.db).await?;
    let data: Vec<Value> = rows.iter().map(key_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
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
