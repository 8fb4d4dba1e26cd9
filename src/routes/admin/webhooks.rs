//! Webhook endpoints, deliveries, replay and recovery.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{limit, page, query};
use super::{AdminApiError, Body, OptionalBody, reject_unknown_fields};
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::webhooks::{self as service, DeliveryFilter, EndpointInput};
use crate::state::AppState;

pub fn endpoint_json(
    ep: &entity::webhook_endpoints::Model,
    settings: &crate::configuration::WebhookSettings,
) -> Value {
    use crate::domain::breaker;
    let (state, configured) = breaker::of_endpoint(
        &settings.breaker,
        ep.consecutive_failures,
        ep.breaker_open_until,
        ep.max_in_flight,
        settings.endpoint_concurrency,
        Utc::now(),
    );
    json!({
        "id": ep.id,
        "url": ep.url,
        "event_types": ep.event_types,
        "organization_id": ep.organization_id,
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "failing_since": ep.failing_since.map(format_time),
        "max_in_flight": ep.max_in_flight,
        "breaker": {
            "state": state.as_str(),
            "consecutive_failures": ep.consecutive_failures,
            "open_until": match state {
                breaker::State::Open { until } => Some(format_time(until)),
                _ => None,
            },
            // Deliveries it may have in flight now.
            "slots": breaker::slots(state, configured),
        },
        "created_at": format_time(ep.created_at),
        "updated_at": format_time(ep.updated_at),
    })
}

fn delivery_json(d: &entity::deliveries::Model) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "endpoint_id": d.endpoint_id,
        "organization_id": d.organization_id,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == service::DELIVERY_STATES[0]).then(|| format_time(d.next_attempt_at)),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": format_time(d.created_at),
        "completed_at": d.completed_at.map(format_time),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEndpoint {
    url: String,
    #[serde(default)]
    event_types: Vec<String>,
    organization_id: Option<String>,
    max_in_flight: Option<i32>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEndpoint {
    /// A number sets it, `null` goes back to the server's default.
    max_in_flight: Option<i32>,
}

/// `PATCH /webhook-endpoints/{id}`: how many deliveries the endpoint may have in flight.
async fn update(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<UpdateEndpoint>,
) -> Result<HttpResponse, AdminApiError> {
    let ep = service::set_max_in_flight(&state.db, &op.actor, &id, input.max_in_flight).await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&ep, &state.settings.webhook)))
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    Body(input): Body<CreateEndpoint>,
) -> Result<HttpResponse, AdminApiError> {
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
    let mut v = endpoint_json(&ep, &state.settings.webhook);
    v["secret"] = json!(secret);
    Ok(HttpResponse::Created().json(v))
}

async fn list(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, AdminApiError> {
    let eps = service::endpoints(&state.db).await?;
    let data: Vec<_> = eps
        .iter()
        .map(|ep| endpoint_json(ep, &state.settings.webhook))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let ep = service::endpoint(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(endpoint_json(&ep, &state.settings.webhook)))
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
    let mut v = endpoint_json(&ep, &state.settings.webhook);
    v["secret"] = json!(secret);
    v["previous_secret_expires_at"] = json!(ep.previous_secret_expires_at.map(format_time));
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoverQuery {
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

/// Sends a signed `webhook.test` event now; answers with the receiver's status and the
/// first bytes of its answer (the attempt is recorded like any other).
async fn test(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let t = service::send_test(&state.db, &op.actor, &state.settings.webhook, &id).await?;
    Ok(HttpResponse::Ok().json(test_json(&t)))
}

pub fn test_json(t: &service::TestSend) -> serde_json::Value {
    json!({
        "event_id": t.event_id,
        "delivery_id": t.delivery_id,
        "succeeded": t.succeeded,
        "status_code": t.status_code,
        "error": t.error,
        "response_body": t.response_body,
        "duration_ms": t.duration_ms,
    })
}

async fn replay(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
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
    let limit = limit(q.limit)?;
    let rows = service::deliveries(
        &state.db,
        DeliveryFilter {
            status: q.status.as_deref(),
            endpoint_id: q.endpoint_id.as_deref(),
            event_id: q.event_id.as_deref(),
            after: q.after.as_deref(),
            limit,
        },
    )
    .await?;
    let full = rows.len() as u64 == limit;
    let last = rows.last().map(|d| d.id.clone());
    let data = rows.iter().map(delivery_json).collect();
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
        .route("/webhook-endpoints/{id}/test", web::post().to(test))
        .route("/events/{id}/replay", web::post().to(replay))
        .route("/deliveries", web::get().to(deliveries));
}
