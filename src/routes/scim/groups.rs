//! `/Groups` handlers: parse, call `service::groups`, render the Group resource.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::resource::{Kind, list, projection_of, respond, search};
use super::{if_match, raw_query, read_as, scope};
use crate::routes::extract::Tenant;
use crate::scim::group::{GroupView, Member};
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::schema::{GROUP, ResourceSchema};
use crate::scim::user::etag;
use crate::service::Error;
use crate::service::Scope;
use crate::service::groups::{self, Group};
use crate::state::AppState;

type Result = std::result::Result<HttpResponse, Error>;

/// The Group resource (RFC 7643 §4.2), with `members` when they were loaded. `base` is
/// `…/scim/v2`.
pub fn document(base: &str, g: &Group) -> Value {
    let record = g.record();
    let members: Option<Vec<Member>> = g.members.as_ref().map(|ms| {
        ms.iter()
            .map(|m| Member {
                id: m.id.clone(),
                display: m.display.clone(),
            })
            .collect()
    });
    GroupView {
        id: &g.group.id,
        record: &record,
        members: members.as_deref(),
        created: g.group.created_at,
        last_modified: g.group.updated_at,
        version: g.group.version,
        base_url: base,
    }
    .render()
}

/// `/Groups` for the shared list, search and render steps.
pub struct Groups;

impl Kind for Groups {
    type Item = Group;
    fn schema() -> &'static ResourceSchema {
        &GROUP
    }
    fn document(base: &str, g: &Group) -> Value {
        document(base, g)
    }
    fn version(g: &Group) -> i64 {
        g.group.version
    }
    async fn list(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        query: &ListQuery,
        as_document: &dyn Fn(&Group) -> Value,
    ) -> crate::service::Result<(usize, Vec<Group>)> {
        groups::list(db, scope, query, as_document).await
    }
}

fn resource(req: &HttpRequest, status: StatusCode, g: &Group, q: &ListQuery) -> HttpResponse {
    respond::<Groups>(req, status, g, q)
}

async fn create(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result {
    let q = projection_of::<Groups>(&req)?;
    let input = read_as(&req, body, state.settings.max_body_bytes, |v, _| {
        groups::parse_input(&v)
    })
    .await?;
    let scope = scope(&req, &tenant);
    let g = groups::create(&state.db, &scope, input, q.projection.returns("members")).await?;
    Ok(resource(&req, StatusCode::CREATED, &g, &q))
}

async fn get(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    let q = projection_of::<Groups>(&req)?;
    let scope = scope(&req, &tenant);
    let g = groups::get(&state.db, &scope, &id, q.projection.returns("members")).await?;
    Ok(resource(&req, StatusCode::OK, &g, &q))
}

async fn replace(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result {
    let q = projection_of::<Groups>(&req)?;
    let input = read_as(&req, body, state.settings.max_body_bytes, |v, _| {
        groups::parse_input(&v)
    })
    .await?;
    let scope = scope(&req, &tenant);
    let g = groups::replace(
        &state.db,
        &scope,
        &id,
        input,
        &if_match(&req),
        q.projection.returns("members"),
    )
    .await?;
    Ok(resource(&req, StatusCode::OK, &g, &q))
}

/// PATCH answers 204 (RFC 7644 §3.5.2 allows it) so a one-member change never renders a
/// large group; with `attributes` or `excludedAttributes` it answers 200 with the group.
async fn patch(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result {
    let raw = raw_query(&req)?;
    let wants_body = raw.attributes.is_some() || raw.excluded_attributes.is_some();
    let q = ListQuery::parse(&raw, &GROUP)?;
    let request = read_as(&req, body, state.settings.max_body_bytes, |v, _| {
        PatchRequest::parse(&v, &GROUP)
    })
    .await?;
    let scope = scope(&req, &tenant);
    let with_members = wants_body && q.projection.returns("members");
    let g = groups::patch(
        &state.db,
        &scope,
        &id,
        request,
        &if_match(&req),
        with_members,
    )
    .await?;
    if !wants_body {
        let mut res = HttpResponse::NoContent().finish();
        if let Ok(v) = header::HeaderValue::from_str(&etag(g.group.version)) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    Ok(resource(&req, StatusCode::OK, &g, &q))
}

async fn delete(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result {
    groups::delete(&state.db, &scope(&req, &tenant), &id, &if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/Groups", web::get().to(list::<Groups>))
        .route("/Groups", web::post().to(create))
        .route("/Groups/.search", web::post().to(search::<Groups>))
        .route("/Groups/{id}", web::get().to(get))
        .route("/Groups/{id}", web::put().to(replace))
        .route("/Groups/{id}", web::patch().to(patch))
        .route("/Groups/{id}", web::delete().to(delete));
    super::refuse_other_methods(cfg, &["/Groups", "/Groups/.search", "/Groups/{id}"]);
}
