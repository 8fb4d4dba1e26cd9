//! Webhook endpoints, deliveries, replay and recovery.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::paging::{limit, query};
use super::{AdminApiError, Body, OptionalBody, reject_unknown_fields};
use crate::routes::extract::Operator;
use crate::service::webhooks::{self as service, DeliveryFilter, EndpointInput};
use crate::state::AppState;
use crate::views::{Delivery, Endpoint, EndpointWithSecret, List, Page, Replayed};

fn endpoint_of(ep: &entity::webhook_endpoints::Model, state: &AppState) -> Endpoint {
    Endpoint::of(ep, &state.settings.webhook, Utc::now())
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
    Ok(HttpResponse::Ok().json(endpoint_of(&ep, &state)))
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
            organization_id: match input.organization_id.as_deref() {
                Some(raw) => Some(super::organization_id(raw)?),
                None => None,
            },
            max_in_flight: input.max_in_flight,
        },
        state.settings.webhook.allow_private,
    )
    .await?;
    let body = EndpointWithSecret::of(endpoint_of(&ep, &state), &ep, secret);
    Ok(HttpResponse::Created().json(body))
}

async fn list(_op: Operator, state: web::Data<AppState>) -> Result<HttpResponse, AdminApiError> {
    let eps = service::endpoints(&state.db).await?;
    let data = eps.iter().map(|ep| endpoint_of(ep, &state)).collect();
    Ok(HttpResponse::Ok().json(List::of(data)))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let ep = service::endpoint(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(endpoint_of(&ep, &state)))
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
    let body = EndpointWithSecret::of(endpoint_of(&ep, &state), &ep, secret);
    Ok(HttpResponse::Ok().json(body))
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
    Ok(HttpResponse::Accepted().json(Replayed { replayed: n }))
}

/// Sends a signed `webhook.test` event now; answers with the receiver's status and the
/// first bytes of its answer (the attempt is recorded like any other).
async fn test(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let t = service::send_test(&state.db, &op.actor, &state.settings.webhook, &id).await?;
    Ok(HttpResponse::Ok().json(&t))
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
    Ok(HttpResponse::Accepted().json(Replayed { replayed: n }))
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
    let data = rows.iter().map(Delivery::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
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
