//! What the `/Users` and `/Groups` handlers share: a page of resources rendered and
//! projected, list and `.search`, and a single resource answered with its ETag. Each
//! resource type says how it is listed and rendered ([`Kind`]); the steps are written
//! once here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{base_url, if_match, raw_query, read_as, read_json, scim_json, scope};
use crate::domain::IfMatch;
use crate::routes::extract::Tenant;
use crate::scim::error::ScimError;
use crate::scim::list::{ListQuery, RawQuery, list_response};
use crate::scim::schema::ResourceSchema;
use crate::scim::user::etag;
use crate::service::Scope;
use crate::service::{Error, Result};
use crate::state::AppState;

/// A SCIM resource type as the routes see it: how it is parsed, read, written, listed
/// and rendered. PATCH is each type's own (a User answers with itself, a Group with 204).
pub trait Kind: 'static {
    type Item;
    /// A POST or PUT body, parsed.
    type Input: Send + 'static;
    /// Where it is served: `/Users`, `/Groups`.
    const PATH: &'static str;
    fn schema() -> &'static ResourceSchema;
    fn parse_input(body: &Value) -> std::result::Result<Self::Input, ScimError>;
    /// Create; `q` is the answer's projection (what must be loaded).
    fn create(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        input: Self::Input,
        q: &ListQuery,
    ) -> impl Future<Output = Result<Self::Item>>;
    fn get(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        id: &str,
        q: &ListQuery,
    ) -> impl Future<Output = Result<Self::Item>>;
    fn replace(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        id: &str,
        input: Self::Input,
        if_match: &IfMatch,
        q: &ListQuery,
    ) -> impl Future<Output = Result<Self::Item>>;
    fn delete(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        id: &str,
        if_match: &IfMatch,
    ) -> impl Future<Output = Result<()>>;
    /// The resource as SCIM renders it; `base` is `…/scim/v2`.
    fn document(base: &str, item: &Self::Item) -> Value;
    fn version(item: &Self::Item) -> i64;
    /// One page of the organization's resources matching `query`.
    fn list(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        query: &ListQuery,
        as_document: &dyn Fn(&Self::Item) -> Value,
    ) -> impl Future<Output = Result<(usize, Vec<Self::Item>)>>;
}

/// `attributes`/`excludedAttributes` of a single-resource request.
pub fn projection_of<K: Kind>(req: &HttpRequest) -> Result<ListQuery> {
    Ok(ListQuery::parse(&raw_query(req)?, K::schema())?)
}

/// One resource, projected, with its ETag (and `Location` when created).
pub fn respond<K: Kind>(
    req: &HttpRequest,
    status: StatusCode,
    item: &K::Item,
    q: &ListQuery,
) -> HttpResponse {
    let body = q.projection.apply(K::document(&base_url(req), item));
    super::resource_response(status, &body, &etag(K::version(item)))
}

/// A page of resources, rendered and projected.
pub async fn page<K: Kind>(
    state: &AppState,
    req: &HttpRequest,
    tenant: &Tenant,
    query: &ListQuery,
) -> Result<(usize, Vec<Value>)> {
    let base = base_url(req);
    let as_document = |item: &K::Item| K::document(&base, item);
    let (total, items) = K::list(&state.db, &scope(req, tenant), query, &as_document).await?;
    let page = items
        .iter()
        .map(|item| query.projection.apply(as_document(item)))
        .collect();
    Ok((total, page))
}

async fn list_with<K: Kind>(
    state: &AppState,
    req: &HttpRequest,
    tenant: Tenant,
    raw: RawQuery,
) -> std::result::Result<HttpResponse, Error> {
    let query = ListQuery::parse(&raw, K::schema())?;
    let (total, page) = page::<K>(state, req, &tenant, &query).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_response(total, query.start_index, page),
    ))
}

/// `GET /Users`, `GET /Groups`.
pub async fn list<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
) -> std::result::Result<HttpResponse, Error> {
    let raw = raw_query(&req)?;
    list_with::<K>(&state, &req, tenant, raw).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> std::result::Result<HttpResponse, Error> {
    let body = read_json(&req, body, state.settings.max_body_bytes).await?;
    let raw = RawQuery::from_search_body(&body)?;
    list_with::<K>(&state, &req, tenant, raw).await
}

type Answer = std::result::Result<HttpResponse, Error>;

/// The answer's projection and the POST or PUT body, parsed.
async fn read_input<K: Kind>(
    req: &HttpRequest,
    state: &AppState,
    body: web::Payload,
) -> Result<(ListQuery, K::Input)> {
    let q = projection_of::<K>(req)?;
    let input = read_as(req, body, state.settings.max_body_bytes, |v, _| {
        K::parse_input(&v)
    })
    .await?;
    Ok((q, input))
}

/// `POST /Users`, `POST /Groups`.
pub async fn create<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Answer {
    let (q, input) = read_input::<K>(&req, &state, body).await?;
    let item = K::create(&state.db, &scope(&req, &tenant), input, &q).await?;
    Ok(respond::<K>(&req, StatusCode::CREATED, &item, &q))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
pub async fn get<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Answer {
    let q = projection_of::<K>(&req)?;
    let item = K::get(&state.db, &scope(&req, &tenant), &id, &q).await?;
    Ok(respond::<K>(&req, StatusCode::OK, &item, &q))
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`.
pub async fn replace<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Answer {
    let (q, input) = read_input::<K>(&req, &state, body).await?;
    let scope = scope(&req, &tenant);
    let item = K::replace(&state.db, &scope, &id, input, &if_match(&req), &q).await?;
    Ok(respond::<K>(&req, StatusCode::OK, &item, &q))
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
pub async fn delete<K: Kind>(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Answer {
    K::delete(&state.db, &scope(&req, &tenant), &id, &if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The routes of a resource type, with its own PATCH handler; other methods are 405.
pub fn configure<K: Kind, P, Args>(cfg: &mut web::ServiceConfig, patch: P)
where
    P: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    P::Output: actix_web::Responder + 'static,
{
    let (all, search_path, one) = (
        K::PATH.to_string(),
        format!("{}/.search", K::PATH),
        format!("{}/{{id}}", K::PATH),
    );
    cfg.route(&all, web::get().to(list::<K>))
        .route(&all, web::post().to(create::<K>))
        .route(&search_path, web::post().to(search::<K>))
        .route(&one, web::get().to(get::<K>))
        .route(&one, web::put().to(replace::<K>))
        .route(&one, web::patch().to(patch))
        .route(&one, web::delete().to(delete::<K>));
    super::refuse_other_methods(cfg, &[&all, &search_path, &one]);
}
