use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use ids::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminApiError, Body, OptionalBody, confirmed, deletion_body};
use crate::domain::DepartmentId;
use crate::domain::guard::GuardSettings;
use crate::domain::organization::{OrganizationName, RateLimit, full_bodies_until, retention_secs};
use crate::routes::extract::Operator;
use crate::service::admin::{self, OrganizationChanges};
use crate::service::deletion;
use crate::state::AppState;
use crate::views::{self, DeprovisionGuard, Organization, Page};
use entity::organizations;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrganization {
    name: String,
    /// e.g. `30d`; absent keeps deactivated memberships forever.
    deactivated_retention: Option<String>,
    /// The settings it names replace the defaults (`hold`, 20, 10 %, `1h`).
    deprovision_guard: Option<Value>,
}

/// The organization with its deprovisioning guard.
async fn with_guard(
    state: &AppState,
    org: &organizations::Model,
) -> Result<HttpResponse, AdminApiError> {
    let (settings, tripped_at) = crate::service::guard::status(&state.db, &org.id).await?;
    Ok(HttpResponse::Ok()
        .json(Organization::of(org).with_guard(DeprovisionGuard::of(&settings, tripped_at))))
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    Body(input): Body<CreateOrganization>,
) -> Result<HttpResponse, AdminApiError> {
    let name = OrganizationName::parse(&input.name)?;
    let retention = input
        .deactivated_retention
        .as_deref()
        .map(retention_secs)
        .transpose()?;
    let guard = match &input.deprovision_guard {
        Some(v) => GuardSettings::default()
            .with_changes(v)
            .map_err(|e| AdminApiError::validation(&e.to_string()))?,
        None => GuardSettings::default(),
    };
    let org = admin::create_organization(&state.db, &op.actor, &name, retention, guard).await?;
    Ok(HttpResponse::Created()
        .json(Organization::of(&org).with_guard(DeprovisionGuard::of(&guard, None))))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = admin::organization(&state.db, &super::organization_id(&id)?).await?;
    with_guard(&state, &org).await
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOrganization {
    name: Option<String>,
    /// `"30d"` sets the policy, `null` removes it (keep forever), absent leaves it.
    #[serde(default, deserialize_with = "present")]
    deactivated_retention: Option<Option<String>>,
    /// `{"per_second": n, "burst": m}` sets the organization's SCIM rate, `null` goes
    /// back to the server's default, absent leaves it.
    #[serde(default, deserialize_with = "present_limit")]
    rate_limit: Option<Option<RateLimitInput>>,
    /// The settings it names change (`{"mode": "off"}`); see `deprovision_guard`.
    deprovision_guard: Option<Value>,
    /// `"2h"` or an RFC 3339 time at most 24 hours away: the request inspector keeps full
    /// bodies until then; `null` turns it off; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    inspect_full_bodies_until: Option<Option<String>>,
}

#[derive(Deserialize, schemars::JsonSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitInput {
    per_second: i32,
    burst: i32,
}

fn present_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<RateLimitInput>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

async fn update(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<UpdateOrganization>,
) -> Result<HttpResponse, AdminApiError> {
    let changes = OrganizationChanges {
        name: input
            .name
            .as_deref()
            .map(OrganizationName::parse)
            .transpose()?,
        deactivated_retention_secs: input
            .deactivated_retention
            .map(|r| r.as_deref().map(retention_secs).transpose())
            .transpose()?,
        rate_limit: input
            .rate_limit
            .map(|l| l.map(|l| RateLimit::new(l.per_second, l.burst)).transpose())
            .transpose()?,
        deprovision_guard: input.deprovision_guard,
        inspect_full_bodies_until: input
            .inspect_full_bodies_until
            .map(|u| {
                u.as_deref()
                    .map(|raw| full_bodies_until(raw, chrono::Utc::now()))
                    .transpose()
            })
            .transpose()?,
    };
    let org =
        admin::update_organization(&state.db, &op.actor, &super::organization_id(&id)?, changes)
            .await?;
    state.admission.forget_quota(&org.id);
    with_guard(&state, &org).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    /// Run it as a job: 202 with the job, progress at `/jobs/{id}`.
    #[serde(default, rename = "async")]
    run_as_job: bool,
}

/// Deletes the organization: members removed (accounts without another membership
/// deleted), tokens gone. Needs `{"confirm": true}`. With `?async=true` it is a job
/// (202), for organizations too large to delete within one request.
async fn delete(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let q: DeleteQuery = super::paging::query(&req)?;
    confirmed(
        &input,
        &["confirm"],
        json!({"organization_id": id.as_str()}),
    )?;
    if q.run_as_job {
        let job = crate::service::jobs::create_organization_delete(
            &state.db,
            &op.actor,
            &super::organization_id(&id)?,
        )
        .await?;
        state.jobs_wake.notify_one();
        return Ok(HttpResponse::Accepted().json(views::Job::of(&job)));
    }
    deletion::delete_organization(
        &state.db,
        &op.actor,
        &super::organization_id(&id)?,
        state.settings.deletion_grace,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes one user from one organization, optionally naming the department that takes
/// over the user's resources. Needs `{"confirm": true}`.
async fn remove_user(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, user_id) = path.into_inner();
    let content = deletion_body(
        &input,
        &["transfer_resources_to_department_id"],
        json!({"user_id": user_id}),
    )?;
    let transfer = match input.get("transfer_resources_to_department_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(DepartmentId::parse).ok_or_else(|| {
            AdminApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_DEPARTMENT_ID",
                "transfer_resources_to_department_id must be a department id: dept_ followed by 1 to 64 of A-Z, a-z, 0-9, _ and -.",
            )
            .with_details(json!({"user_id": user_id}))

        })?),
    };
    let org_id = super::organization_id(&org_id)?;
    // An id that cannot be an account's names no member.
    let user_id = UserId::named(&user_id)
        .ok_or_else(|| crate::service::Error::not_found("membership", None))?;
    deletion::remove_from_organization(
        &state.db,
        &op.actor,
        &org_id,
        &user_id,
        transfer.as_ref().map(DepartmentId::as_str),
        content,
        state.settings.deletion_grace,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's SCIM connection: its state and each live token's last request and
/// last 24 hours (never the token itself).
async fn connection(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let id = super::organization_id(&id)?;
    let c = crate::service::connections::connection(
        &state.db,
        &state.connections,
        &id,
        state.settings.connection_quiet_after,
        chrono::Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(views::Connection::of(
        &id,
        &c,
        state.settings.connection_quiet_after,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

/// Live organizations, paged by id, `q` searching names.
async fn list(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: ListQuery = super::paging::query(&req)?;
    let n = super::paging::limit(q.limit)?;
    let rows = admin::organizations(
        &state.db,
        q.q.as_deref().filter(|s| !s.trim().is_empty()),
        q.after.as_deref(),
        n,
    )
    .await?;
    let last = rows.last().map(|o| o.id.clone());
    let full = rows.len() as u64 == n;
    let data = rows.iter().map(Organization::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MembersQuery {
    /// `ACTIVE`, `INACTIVE`, `removed` or `all` (removed ones included); absent: every
    /// live member.
    status: Option<String>,
    q: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

/// The organization's members, paged by membership id.
async fn members(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    use crate::store::memberships::MemberFilter;
    let q: MembersQuery = super::paging::query(&req)?;
    let n = super::paging::limit(q.limit)?;
    let filter = q
        .status
        .as_deref()
        .map(|s| {
            MemberFilter::parse(s).ok_or_else(|| {
                AdminApiError::validation(&format!("status must be {}", MemberFilter::EXPECTED))
            })
        })
        .transpose()?;
    let rows = admin::members(
        &state.db,
        &super::organization_id(&id)?,
        filter,
        q.q.as_deref().filter(|s| !s.trim().is_empty()),
        q.after.as_deref(),
        n,
    )
    .await?;
    let last = rows.last().map(|m| m.id.clone());
    let full = rows.len() as u64 == n;
    let data = rows.iter().map(views::Member::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestsQuery {
    /// `4xx` (a class) or `404` (one status).
    status: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

/// The organization's recent SCIM requests, newest first (`after`: continue past that
/// entry), bodies redacted unless captured inside a full-body window.
async fn requests(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    use crate::store::requests::StatusFilter;
    let q: RequestsQuery = super::paging::query(&req)?;
    let n = super::paging::limit(q.limit)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(StatusFilter::parse(s).ok_or_else(|| {
            AdminApiError::validation(
                "status must be a class (2xx to 5xx) or a status (100 to 599)",
            )
        })?),
    };
    let rows = crate::service::inspector::requests(
        &state.db,
        &state.inspector,
        &super::organization_id(&id)?,
        status,
        q.after.as_deref(),
        n,
        chrono::Utc::now(),
    )
    .await?;
    let last = rows.last().map(|r| r.id.clone());
    let full = rows.len() as u64 == n;
    let data = rows.iter().map(views::InspectedRequest::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations", web::post().to(create))
        .route("/organizations/{id}/requests", web::get().to(requests))
        .route("/organizations", web::get().to(list))
        .route("/organizations/{id}/users", web::get().to(members))
        .route("/organizations/{id}/connection", web::get().to(connection))
        .route("/organizations/{id}", web::get().to(get))
        .route("/organizations/{id}", web::patch().to(update))
        .route("/organizations/{id}", web::delete().to(delete))
        .route(
            "/organizations/{org}/users/{user}",
            web::delete().to(remove_user),
        );
}
