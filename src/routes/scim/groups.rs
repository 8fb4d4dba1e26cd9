//! `/Groups` handlers: parse, call `service::groups`, render the Group resource.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::resource::{self, Kind, respond};
use super::{if_match, raw_query, read_as, scope};
use crate::domain::IfMatch;
use crate::routes::extract::Tenant;
use crate::scim::error::ScimError;
use crate::scim::group::{GroupInput, GroupView, Member};
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::schema::{GROUP, ResourceSchema};
use crate::scim::user::etag;
use crate::service::groups::{self, Group};
use crate::service::{Error, Result, Scope};
use crate::state::AppState;

type Db = sea_orm::DatabaseConnection;

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
        id: g.group.id.as_str(),
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
    type Input = GroupInput;
    const PATH: &'static str = "/Groups";
    fn schema() -> &'static ResourceSchema {
        &GROUP
    }
    fn parse_input(body: &Value) -> std::result::Result<GroupInput, ScimError> {
        groups::parse_input(body)
    }
    // Members are loaded only when the answer returns them.
    async fn create(db: &Db, scope: &Scope, input: GroupInput, q: &ListQuery) -> Result<Group> {
        groups::create(db, scope, input, q.projection.returns("members")).await
    }
    async fn get(db: &Db, scope: &Scope, id: &str, q: &ListQuery) -> Result<Group> {
        groups::get(db, scope, id, q.projection.returns("members")).await
    }
    async fn replace(
        db: &Db,
        scope: &Scope,
        id: &str,
        input: GroupInput,
        if_match: &IfMatch,
        q: &ListQuery,
    ) -> Result<Group> {
        let members = q.projection.returns("members");
        groups::replace(db, scope, id, input, if_match, members).await
    }
    async fn delete(db: &Db, scope: &Scope, id: &str, if_match: &IfMatch) -> Result<()> {
        groups::delete(db, scope, id, if_match).await
    }
    fn document(base: &str, g: &Group) -> Value {
        document(base, g)
    }
    fn version(g: &Group) -> i64 {
        g.group.version
    }
    async fn list(
        db: &Db,
        scope: &Scope,
        query: &ListQuery,
        as_document: &dyn Fn(&Group) -> Value,
    ) -> Result<(usize, Vec<Group>)> {
        groups::list(db, scope, query, as_document).await
    }
}

/// PATCH answers 204 (RFC 7644 §3.5.2 allows it) so a one-member change never renders a
/// large group; with `attributes` or `excludedAttributes` it answers 200 with the group.
async fn patch(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> std::result::Result<HttpResponse, Error> {
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
    Ok(respond::<Groups>(&req, StatusCode::OK, &g, &q))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    resource::configure::<Groups, _, _>(cfg, patch);
}
