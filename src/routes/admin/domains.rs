//! `/organizations/{id}/domains`: the email domains an operator verified for an
//! organization (account linking).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{AdminApiError, Body};
use crate::domain::EmailDomain;
use crate::routes::extract::Operator;
use crate::service::domains;
use crate::state::AppState;
use crate::views::{Domain, List};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddDomain {
    domain: String,
}

fn parse(raw: &str) -> Result<EmailDomain, AdminApiError> {
    EmailDomain::parse(raw).map_err(|e| {
        AdminApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_DOMAIN",
            &format!("domain: {e}."),
        )
        .with_details(json!({"domain": crate::service::shown_id(raw)}))
    })
}

async fn add(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<AddDomain>,
) -> Result<HttpResponse, AdminApiError> {
    let domain = parse(&input.domain)?;
    let v = domains::verify(&state.db, &op.actor, &super::organization_id(&id)?, &domain).await?;
    let status = if v.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(Domain::verified(&v)))
}

async fn list(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let rows = domains::list(&state.db, &super::organization_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(List::of(rows.iter().map(Domain::of).collect())))
}

async fn remove(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, raw) = path.into_inner();
    let domain = parse(&raw)?;
    domains::remove(
        &state.db,
        &op.actor,
        &super::organization_id(&org_id)?,
        &domain,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/domains", web::post().to(add))
        .route("/organizations/{id}/domains", web::get().to(list))
        .route(
            "/organizations/{id}/domains/{domain}",
            web::delete().to(remove),
        );
}
