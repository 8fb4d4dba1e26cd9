//! What the `/Users` and `/Groups` handlers share: a page of resources rendered and
//! projected, list and `.search`, and a single resource answered with its ETag. Each
//! resource type says how it is listed and rendered ([`Kind`]); the steps are written
//! once here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{base_url, raw_query, read_json, scim_json, scope};
use crate::routes::extract::Tenant;
use crate::scim::list::{ListQuery, RawQuery, list_response};
use crate::scim::schema::ResourceSchema;
use crate::scim::user::etag;
use crate::service::Scope;
use crate::service::{Error, Result};
use crate::state::AppState;

/// A SCIM resource type as the routes see it.
pub trait Kind {
    type Item;
    fn schema() -> &'static ResourceSchema;
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
