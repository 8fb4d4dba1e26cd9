//! `/Users` handlers: parse, call `service::users`, render the User resource.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::resource::{Kind, list, projection_of, respond, search};
use super::{if_match, read_as, scope};
use crate::routes::extract::Tenant;
use crate::scim::list::ListQuery;
use crate::scim::schema::{ResourceSchema, USER};
use crate::scim::user::UserView;
use crate::service::Error;
use crate::service::Scope;
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

/// `/Users` for the shared list, search and render steps.
pub struct Users;

impl Kind for Users {
    type Item = User;
    fn schema() -> &'static ResourceSchema {
        &USER
    }
    fn document(base: &str, u: &User) -> Value {
        document(base, u)
    }
    fn version(u: &User) -> i64 {
        u.membership.version
    }
    async fn list(
        db: &sea_orm::DatabaseConnection,
        scope: &Scope,
        query: &ListQuery,
        as_document: &dyn Fn(&User) -> Value,
    ) -> crate::service::Result<(usize, Vec<User>)> {
        users::list(db, scope, query, as_document).await
    }
}

fn resource(req: &HttpRequest, status: StatusCode, u: &User, q: &ListQuery) -> HttpResponse {
    respond::<Users>(req, status, u, q)
}

async fn create(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result {
    let projection = projection_of::<Users>(&req)?;
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
    let projection = projection_of::<Users>(&req)?;
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
    let projection = projection_of::<Users>(&req)?;
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
    let projection = projection_of::<Users>(&req)?;
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
    cfg.route("/Users", web::get().to(list::<Users>))
        .route("/Users", web::post().to(create))
        .route("/Users/.search", web::post().to(search::<Users>))
        .route("/Users/{id}", web::get().to(get))
        .route("/Users/{id}", web::put().to(replace))
        .route("/Users/{id}", web::patch().to(patch))
        .route("/Users/{id}", web::delete().to(delete));
    super::refuse_other_methods(cfg, &["/Users", "/Users/.search", "/Users/{id}"]);
}
