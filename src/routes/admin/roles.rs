//! `/organizations/{id}/role-mappings`: the organization's groups mapped to the
//! application's roles (read, and replaced whole).

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::{AdminApiError, Body};
use crate::domain::roles::RoleMapping;
use crate::routes::extract::Operator;
use crate::service::roles;
use crate::state::AppState;
use crate::views::RoleMappingView;

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = super::organization_id(&id)?;
    let mapping = roles::mapping(&state.db, &org).await?;
    Ok(HttpResponse::Ok().json(RoleMappingView::of(&org, &mapping, None)))
}

async fn put(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<Value>,
) -> Result<HttpResponse, AdminApiError> {
    let mapping = RoleMapping::parse(&input)?;
    let org = super::organization_id(&id)?;
    let moved = roles::set_mapping(&state.db, &op.actor, &org, &mapping).await?;
    Ok(HttpResponse::Ok().json(RoleMappingView::of(&org, &mapping, Some(moved))))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/role-mappings", web::get().to(get))
        .route("/organizations/{id}/role-mappings", web::put().to(put));
}
