use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminApiError, body, optional_body, reject_unknown_fields, require_confirmation};
use crate::configuration::parse_duration;
use crate::domain::DepartmentId;
use crate::routes::extract::Operator;
use crate::service::{admin, deletion};
use crate::state::AppState;
use crate::store::organizations as orgs;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrganization {
    name: String,
    /// e.g. `30d`; absent keeps deactivated memberships forever.
    deactivated_retention: Option<String>,
}

fn valid_name(raw: &str) -> Result<String, AdminApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminApiError::validation(
            "name must be 1 to 200 characters",
        ));
    }
    Ok(name.to_string())
}

async fn create(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateOrganization = body(&req, payload, state.settings.max_body_bytes).await?;
    let name = valid_name(&input.name)?;
    let retention = match input.deactivated_retention.as_deref() {
        Some(r) => Some(retention_secs(r)?),
        None => None,
    };
    let org = admin::create_organization(&state.db, &op.actor, &name, retention).await?;
    Ok(HttpResponse::Created().json(admin::organization_json(&org)))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = orgs::find(&state.db, &id)
        .await?
        .ok_or_else(|| AdminApiError::not_found("organization"))?;
    Ok(HttpResponse::Ok().json(admin::organization_json(&org)))
}

async fn create_token(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let (row, token) = admin::create_scim_token(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": row.id,
        "organization_id": row.organization_id,
        "token": token,
        "created_at": crate::scim::user::format_time(row.created_at),
    })))
}

fn retention_secs(raw: &str) -> Result<i64, AdminApiError> {
    let d = parse_duration(raw)
        .map_err(|e| AdminApiError::validation(&format!("deactivated_retention: {e}")))?;
    i64::try_from(d.as_secs())
        .map_err(|_| AdminApiError::validation("deactivated_retention is too large"))
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateOrganization {
    name: Option<String>,
    /// `"30d"` sets the policy, `null` removes it (keep forever), absent leaves it.
    #[serde(default, deserialize_with = "present")]
    deactivated_retention: Option<Option<String>>,
    /// `{"per_second": n, "burst": m}` sets the organization's SCIM rate, `null` goes
    /// back to the server's default, absent leaves it.
    #[serde(default, deserialize_with = "present_limit")]
    rate_limit: Option<Option<RateLimit>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    per_second: i32,
    burst: i32,
}

fn present_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<RateLimit>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// The most a rate or a burst may be set to (a typo must not disable the limit).
const MAX_RATE: i32 = 100_000;

async fn update(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input: UpdateOrganization = body(&req, payload, state.settings.max_body_bytes).await?;
    let name = match input.name {
        Some(n) => Some(valid_name(&n)?),
        None => None,
    };
    let retention = match input.deactivated_retention {
        Some(Some(r)) => Some(Some(retention_secs(&r)?)),
        Some(None) => Some(None),
        None => None,
    };
    let rate_limit = match input.rate_limit {
        Some(Some(l)) => {
            if !(1..=MAX_RATE).contains(&l.per_second) || !(1..=MAX_RATE).contains(&l.burst) {
                return Err(AdminApiError::validation(&format!(
                    "rate_limit.per_second and rate_limit.burst must be between 1 and {MAX_RATE}"
                )));
            }
            Some(Some((l.per_second, l.burst)))
        }
        Some(None) => Some(None),
        None => None,
    };
    let org = admin::update_organization(
        &state.db,
        &op.actor,
        &id,
        orgs::Changes {
            name,
            deactivated_retention_secs: retention,
            rate_limit,
        },
    )
    .await?;
    state.admission.forget_quota(&org.id);
    Ok(HttpResponse::Ok().json(admin::organization_json(&org)))
}

/// Deletes the organization: members removed (accounts without another membership
/// deleted), tokens gone. Needs `{"confirm": true}`.
async fn delete(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let input = optional_body(&req, payload, state.settings.max_body_bytes).await?;
    reject_unknown_fields(&input, &["confirm"])?;
    require_confirmation(&input, json!({"organization_id": id.as_str()}))?;
    deletion::delete_organization(&state.db, &op.actor, &id, state.settings.deletion_grace).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes one user from one organization, optionally naming the department that takes
/// over the user's resources. Needs `{"confirm": true}`.
async fn remove_user(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, user_id) = path.into_inner();
    let input = optional_body(&req, payload, state.settings.max_body_bytes).await?;
    reject_unknown_fields(&input, &["confirm", "transfer_resources_to_department_id"])?;
    require_confirmation(&input, json!({"user_id": user_id}))?;
    let transfer = match input.get("transfer_resources_to_department_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(DepartmentId::parse).ok_or_else(|| {
            AdminApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_DEPARTMENT_ID",
                "transfer_resources_to_department_id must be a department id (dept_ followed by a ULID).",
            )
            .with_details(json!({"user_id": user_id}))

        })?),
    };
    deletion::remove_from_organization(
        &state.db,
        &op.actor,
        &org_id,
        &user_id,
        transfer.as_ref().map(DepartmentId::as_str),
        state.settings.deletion_grace,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revoke_token(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, token_id) = path.into_inner();
    admin::revoke_scim_token(&state.db, &op.actor, &org_id, &token_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations", web::post().to(create))
        .route("/organizations/{id}", web::get().to(get))
        .route("/organizations/{id}", web::patch().to(update))
        .route("/organizations/{id}", web::delete().to(delete))
        .route(
            "/organizations/{id}/scim-tokens",
            web::post().to(create_token),
        )
        .route(
            "/organizations/{id}/scim-tokens/{token_id}",
            web::delete().to(revoke_token),
        )
        .route(
            "/organizations/{org}/users/{user}",
            web::delete().to(remove_user),
        );
}
