//! Read-only operator views: the audit log and the event outbox, paged by id.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminApiError;
use super::paging::{limit, organization_filter, query};
use crate::routes::extract::Operator;
use crate::service::admin;
use crate::state::AppState;
use crate::views::{AuditEntry, Event, EventType, List, Page};

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

async fn audit_log(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: AuditQuery = query(&req)?;
    let n = limit(q.limit)?;
    let Some(org) = organization_filter(q.organization_id.as_deref()) else {
        return Ok(HttpResponse::Ok().json(Page::<AuditEntry>::of(vec![], None::<String>, false)));
    };
    let rows = admin::audit_log(&state.db, org.as_ref(), q.after.as_deref(), n).await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|r| r.id.clone());
    let data = rows.iter().map(AuditEntry::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

async fn events(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: EventQuery = query(&req)?;
    let n = limit(q.limit)?;
    let Some(org) = organization_filter(q.organization_id.as_deref()) else {
        return Ok(HttpResponse::Ok().json(Page::<Event>::of(vec![], None::<String>, false)));
    };
    let rows = admin::events(
        &state.db,
        org.as_ref(),
        q.event_type.as_deref(),
        q.after.as_deref(),
        n,
    )
    .await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|r| r.id.clone());
    let data = rows.into_iter().map(|r| Event(r.payload)).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

/// Every event type with what it tells an application and its JSON Schema (the same
/// documents as `docs/events/`).
async fn event_types(_op: Operator) -> HttpResponse {
    HttpResponse::Ok().json(List::of(EventType::all()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-log", web::get().to(audit_log))
        .route("/events", web::get().to(events))
        .route("/event-types", web::get().to(event_types));
}
