//! `/Users` handlers: parse, call `service::users`, render the User resource.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{base_url, if_match, raw_query, read_as, read_json, scim_json, scope};
use crate::routes::extract::Tenant;
use crate::scim::list::{ListQuery, RawQuery, list_response};
use crate::scim::schema::USER;
use crate::scim::user::{UserView, etag};
use crate::service::Error;
use crate::service::users::{self, User};
use crate::state::AppState;

type Result = std::result::Result<HttpResponse, Error>;

/// The User resource (RFC 7643 §4.1): the organization's record of the user, its
/// `active` status and its read-only `groups`. `base` is `…/scim/v2`.
pub fn document(base: &str, u: &User) -> Value {
    let m = &u.membership;
    let record = u.record();
    let mut body = UserView {
        id: &m.scim_id,
        record: &record,
        active: u.active(),
        created: m.created_at,
        last_modified: m.updated_at,
        version: m.version,
        location: format!("{base}/Users/{}", m.scim_id),
    }
    .render();
    if !u.groups.is_empty() {
        body["groups"] = u
            .groups
            .iter()
            .map(|(gid, name)| {
                json!({
                    "value": gid,
                    "$ref": format!("{base}/Groups/{gid}"),
                    "display": name,
                    "type": "direct",
                })
            })
            .collect();
    }
    body
}

fn resource(req: &HttpRequest, status: StatusCode, u: &User, q: &ListQuery) -> HttpResponse {
    let body = q.projection.apply(document(&base_url(req), u));
    super::resource_response(status, &body, &etag(u.membership.version))
}

/// `attributes`/`excludedAttributes` of a single-resource request.
fn projection_of(req: &HttpRequest) -> std::result::Result<ListQuery, Error> {
    Ok(ListQuery::parse(&raw_query(req)?, &USER)?)
}

/// A page of users, rendered and projected.
pub async fn page(
    state: &AppState,
    req: &HttpRequest,
    tenant: &Tenant,
    query: &ListQuery,
) -> std::result::Result<(usize, Vec<Value>), Error> {
    let base = base_url(req);
    let as_document = |u: &User| document(&base, u);
    let (total, page) = users::list(&state.db, &scope(req, tenant), query, &as_document).await?;
    let page = page
        .iter()
        .map(|u| query.projection.apply(as_document(u)))
        .collect();
    Ok((total, page))
}

async fn list_with(state: &AppState, req: &HttpRequest, tenant: Tenant, raw: RawQuery) -> Result {
    let query = ListQuery::parse(&raw, &USER)?;
    let (total, page) = page(state, req, &tenant, &query).await?;
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
    let u = users::create(&state.db, &scope(&req, &tenant), input).await?;
    Ok(resource(&req, StatusCode::CREATED, &u, &projection))
}

async fn get(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    let projection = projection_of(&req)?;
    let u = users::get(&state.db, &scope(&req, &tenant), &id).await?;
    Ok(resource(&req, StatusCode::OK, &u, &projection))
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
    let scope = scope(&req, &tenant);
    let u = users::replace(&state.db, &scope, &id, input, &if_match(&req)).await?;
    Ok(resource(&req, StatusCode::OK, &u, &projection))
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
    let scope = scope(&req, &tenant);
    let u = users::patch(&state.db, &scope, &id, patch, &if_match(&req)).await?;
    Ok(resource(&req, StatusCode::OK, &u, &projection))
}

async fn delete(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    users::delete(&state.db, &scope(&req, &tenant), &id, &if_match(&req)).await?;
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
