//! Webhook endpoints, deliveries, replay and recovery.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::audit::{limit, page, query};
use super::{AdminApiError, body, optional_body, reject_unknown_fields};
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::webhooks::{self as service, EndpointInput};
use crate::state::AppState;
use crate::store::webhooks as store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    url: String,
    #[serde(default)]
    event_types: Vec<String>,
    organization_id: Option<String>,
    max_in_flight: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateEndpoint {
    /// A number sets it, `null` goes back to the server's default.
    max_in_flight: Option<i32>,
}

/// `PATCH /webhook-endpoints/{id}`: how many deliveries the endpoint may have in flight.
async fn update(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: UpdateEndpoint = body(&req, payload, state.settings.max_body_bytes).await?;
    let ep = service::set_max_in_flight(&state.db, &op.actor, &id, input.max_in_flight).await?;
    Ok(HttpResponse::Ok().json(service::endpoint_json(&ep, &state.settings.webhook)))
}

async fn create(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateEndpoint = body(&req, payload, state.settings.max_body_bytes).await?;
    let (ep, secret) = service::add_endpoint(
        &state.db,
        &op.actor,
        EndpointInput {
            url: input.url,
            event_types: input.event_types,
            organization_id: input.organization_id,
            max_in_flight: input.max_in_flight,
        },
        state.settings.webhook.allow_private,
    )
    .await?;
    let mut v = service::endpoint_json(&ep, &state.settings.webhook);
    v["secret"] = json!(secret);
    Ok(HttpResponse::Created().json(v))
}

async fn list(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, AdminApiError> {
    let eps = store::list_endpoints(&state.db).await?;
    let data: Vec<_> = eps
        .iter()
        .map(|ep| service::endpoint_json(ep, &state.settings.webhook))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let ep = store::find_endpoint(&state.db, &id)
        .await?
        .ok_or_else(|| AdminApiError::not_found("webhook endpoint"))?;
    Ok(HttpResponse::Ok().json(service::endpoint_json(&ep, &state.settings.webhook)))
}

async fn delete(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    service::delete_endpoint(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn rotate(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let (ep, secret) = service::rotate_secret(&state.db, &op.actor, &id).await?;
    let mut v = service::endpoint_json(&ep, &state.settings.webhook);
    v["secret"] = json!(secret);
    v["previous_secret_expires_at"] = json!(ep.previous_secret_expires_at.map(format_time));
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverQuery {
    since: DateTime<Utc>,
}

async fn recover(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let q = web::Query::<RecoverQuery>::from_query(req.query_string())
        .map_err(|e| AdminApiError::validation(&format!("since must be an RFC 3339 time: {e}")))?;
    let n = service::recover_endpoint(&state.db, &op.actor, &id, q.since).await?;
    Ok(HttpResponse::Accepted().json(json!({"replayed": n})))
}

async fn replay(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input = optional_body(&req, payload, state.settings.max_body_bytes).await?;
    reject_unknown_fields(&input, &["endpoint_id"])?;
    let endpoint = match input.get("endpoint_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| AdminApiError::validation("endpoint_id must be a string"))?
                .to_string(),
        ),
    };
    let n = service::replay_event(&state.db, &op.actor, &id, endpoint.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(json!({"replayed": n})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    status: Option<String>,
    endpoint_id: Option<String>,
    event_id: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

async fn deliveries(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: DeliveryQuery = query(&req)?;
    if let Some(s) = q.status.as_deref()
        && ![
            store::PENDING,
            store::SUCCEEDED,
            store::DEAD,
            store::CANCELLED,
        ]
        .contains(&s)
    {
        return Err(AdminApiError::validation(
            "status must be pending, succeeded, dead or cancelled",
        ));
    }
    let limit = limit(q.limit)?;
    let rows = store::list_deliveries(
        &state.db,
        q.status.as_deref(),
        q.endpoint_id.as_deref(),
        q.event_id.as_deref(),
        q.after.as_deref(),
        limit,
    )
    .await?;
    let full = rows.len() as u64 == limit;
    let last = rows.last().map(|d| d.id.clone());
    let data = rows.iter().map(service::delivery_json).collect();
    Ok(HttpResponse::Ok().json(page(data, last, full)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhook-endpoints", web::post().to(create))
        .route("/webhook-endpoints", web::get().to(list))
        .route("/webhook-endpoints/{id}", web::get().to(get))
        .route("/webhook-endpoints/{id}", web::delete().to(delete))
        .route("/webhook-endpoints/{id}", web::patch().to(update))
        .route(
            "/webhook-endpoints/{id}/rotate-secret",
            web::post().to(rotate),
        )
        .route("/webhook-endpoints/{id}/recover", web::post().to(recover))
        .route("/events/{id}/replay", web::post().to(replay))
        .route("/deliveries", web::get().to(deliveries));
}
