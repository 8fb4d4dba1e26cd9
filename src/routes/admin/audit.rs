//! Read-only operator views: the audit log and the event outbox, paged by id.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminApiError;
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::admin;
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    organization_id: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    organization_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

pub(super) fn limit(raw: Option<u64>) -> Result<u64, AdminApiError> {
    match raw.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(AdminApiError::validation(&format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

pub(crate) fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, AdminApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| AdminApiError::validation(&format!("invalid query: {e}")))
}

/// A page: `data`, and `next_after` to pass as `after` for the next page (`null` at the end).
pub(super) fn page(data: Vec<Value>, last_id: Option<String>, full: bool) -> Value {
    json!({"data": data, "next_after": if full { last_id } else { None }})
}

async fn audit_log(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: AuditQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = admin::audit_log(
        &state.db,
        q.organization_id.as_deref(),
        q.after.as_deref(),
        n,
    )
    .await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|r| r.id.clone());
    let data = rows.iter().map(audit_json).collect();
    Ok(HttpResponse::Ok().json(page(data, last, full)))
}

/// An audit row as the audit log lists it.
pub fn audit_json(r: &entity::audit_log::Model) -> Value {
    json!({
        "id": r.id,
        "organization_id": r.organization_id,
        "actor": {"type": r.actor_type, "id": r.actor_id},
        "action": r.action,
        "target": {"type": r.target_type, "id": r.target_id},
        "details": r.details,
        "request_id": r.request_id,
        "client_address": r.client_address,
        "outcome": r.outcome,
        "created_at": format_time(r.created_at),
    })
}

async fn events(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: EventQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = admin::events(
        &state.db,
        q.organization_id.as_deref(),
        q.event_type.as_deref(),
        q.after.as_deref(),
        n,
    )
    .await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|r| r.id.clone());
    let data = rows.into_iter().map(|r| r.payload).collect();
    Ok(HttpResponse::Ok().json(page(data, last, full)))
}

/// Every event type with what it tells an application and its JSON Schema (the same
/// documents as `docs/events/`).
async fn event_types(_op: Operator) -> HttpResponse {
    HttpResponse::Ok().json(event_types_json())
}

pub fn event_types_json() -> Value {
    use crate::domain::events::EventType;
    let data: Vec<Value> = EventType::ALL
        .iter()
        .map(|t| json!({"type": t.as_str(), "description": t.description(), "schema": t.schema()}))
        .collect();
    json!({ "data": data })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-log", web::get().to(audit_log))
        .route("/events", web::get().to(events))
        .route("/event-types", web::get().to(event_types));
}
