//! `/Users` handlers: parse, call `service::users`, render the User resource.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::resource::{self, Kind, projection_of, respond};
use super::{if_match, read_as, scope};
use crate::domain::IfMatch;
use crate::routes::extract::Tenant;
use crate::scim::error::ScimError;
use crate::scim::list::ListQuery;
use crate::scim::schema::{ResourceSchema, USER};
use crate::scim::user::UserInput;
use crate::scim::user::UserView;
use crate::service::users::{self, User};
use crate::service::{Error, Result, Scope};
use crate::state::AppState;

type Db = sea_orm::DatabaseConnection;

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

/// `/Users` for the shared list, search and render steps.
pub struct Users;

impl Kind for Users {
    type Item = User;
    type Input = UserInput;
    const PATH: &'static str = "/Users";
    fn schema() -> &'static ResourceSchema {
        &USER
    }
    fn parse_input(body: &Value) -> std::result::Result<UserInput, ScimError> {
        users::parse_input(body)
    }
    async fn create(db: &Db, scope: &Scope, input: UserInput, _: &ListQuery) -> Result<User> {
        users::create(db, scope, input).await
    }
    async fn get(db: &Db, scope: &Scope, id: &str, _: &ListQuery) -> Result<User> {
        users::get(db, scope, id).await
    }
    async fn replace(
        db: &Db,
        scope: &Scope,
        id: &str,
        input: UserInput,
        if_match: &IfMatch,
        _: &ListQuery,
    ) -> Result<User> {
        users::replace(db, scope, id, input, if_match).await
    }
    async fn delete(db: &Db, scope: &Scope, id: &str, if_match: &IfMatch) -> Result<()> {
        users::delete(db, scope, id, if_match).await
    }
    fn document(base: &str, u: &User) -> Value {
        document(base, u)
    }
    fn version(u: &User) -> i64 {
        u.membership.version
    }
    async fn list(
        db: &Db,
        scope: &Scope,
        query: &ListQuery,
        as_document: &dyn Fn(&User) -> Value,
    ) -> Result<(usize, Vec<User>)> {
        users::list(db, scope, query, as_document).await
    }
}

/// PATCH answers with the user (Okta and Entra read it).
async fn patch(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> std::result::Result<HttpResponse, Error> {
    let projection = projection_of::<Users>(&req)?;
    let patch = read_as(&req, body, state.settings.max_body_bytes, |v, len| {
        users::parse_patch(&v, len)
    })
    .await?;
    let scope = scope(&req, &tenant);
    let u = users::patch(&state.db, &scope, &id, patch, &if_match(&req)).await?;
    Ok(respond::<Users>(&req, StatusCode::OK, &u, &projection))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    resource::configure::<Users, _, _>(cfg, patch);
}
