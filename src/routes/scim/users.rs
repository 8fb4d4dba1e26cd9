//! `/Users` handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{if_match, raw_query, read_as, read_json, scim_json, scope};
use crate::auth::Tenant;
use crate::scim::list::{ListQuery, RawQuery, list_response};
use crate::scim::schema::USER;
use crate::service::Error;
use crate::service::users::{self, UserResource};
use crate::startup::AppState;

type Result = std::result::Result<HttpResponse, Error>;

fn resource(status: StatusCode, r: &UserResource, q: &ListQuery) -> HttpResponse {
    super::resource_response(status, &q.projection.apply(r.body.clone()), &r.etag)
}

/// `attributes`/`excludedAttributes` of a single-resource request.
fn projection_of(req: &HttpRequest) -> std::result::Result<ListQuery, Error> {
    Ok(ListQuery::parse(&raw_query(req)?, &USER)?)
}

async fn list_with(state: &AppState, req: &HttpRequest, tenant: Tenant, raw: RawQuery) -> Result {
    let query = ListQuery::parse(&raw, &USER)?;
    let scope = scope(req, tenant);
    let (total, page) = users::list(&state.db, &scope, &query).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_response(total, query.start_index, page),
    ))
}

async fn list(req: HttpRequest, tenant: Tenant, state: web::Data<AppState>) -> Result {
    let raw = raw_query(&req)?;
    list_with(&state, &req, tenant, raw).await
}

async fn search(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result {
    let body = read_json(&req, body, state.settings.max_body_bytes).await?;
    let raw = RawQuery::from_search_body(&body)?;
    list_with(&state, &req, tenant, raw).await
}

async fn create(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result {
    let projection = projection_of(&req)?;
    let input = read_as(&req, body, state.settings.max_body_bytes, |v, _| {
        users::parse_input(&v)
    })
    .await?;
    let scope = scope(&req, tenant);
    let r = users::create(&state.db, &scope, input).await?;
    Ok(resource(StatusCode::CREATED, &r, &projection))
}

async fn get(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    let projection = projection_of(&req)?;
    let scope = scope(&req, tenant);
    let r = users::get(&state.db, &scope, &id).await?;
    Ok(resource(StatusCode::OK, &r, &projection))
}

async fn replace(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result {
    let projection = projection_of(&req)?;
    let input = read_as(&req, body, state.settings.max_body_bytes, |v, _| {
        users::parse_input(&v)
    })
    .await?;
    let scope = scope(&req, tenant);
    let r = users::replace(&state.db, &scope, &id, input, &if_match(&req)).await?;
    Ok(resource(StatusCode::OK, &r, &projection))
}

async fn patch(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result {
    let projection = projection_of(&req)?;
    let patch = read_as(&req, body, state.settings.max_body_bytes, |v, len| {
        users::parse_patch(&v, len)
    })
    .await?;
    let scope = scope(&req, tenant);
    let r = users::patch(&state.db, &scope, &id, patch, &if_match(&req)).await?;
    Ok(resource(StatusCode::OK, &r, &projection))
}

async fn delete(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    let scope = scope(&req, tenant);
    users::delete(&state.db, &scope, &id, &if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/Users", web::get().to(list))
        .route("/Users", web::post().to(create))
        .route("/Users/.search", web::post().to(search))
        .route("/Users/{id}", web::get().to(get))
        .route("/Users/{id}", web::put().to(replace))
        .route("/Users/{id}", web::patch().to(patch))
        .route("/Users/{id}", web::delete().to(delete));
    super::refuse_other_methods(cfg, &["/Users", "/Users/.search", "/Users/{id}"]);
}
