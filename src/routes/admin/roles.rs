//! `/organizations/{id}/role-mappings`: the organization's groups mapped to the
//! application's roles (read, and replaced whole).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::{AdminApiError, Body};
use crate::domain::roles::RoleMapping;
use crate::routes::extract::Operator;
use crate::service::roles::{self, MappingSet};
use crate::state::AppState;
use crate::views::{Job, RoleMappingView};

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = super::organization_id(&id)?;
    let mapping = roles::mapping(&state.db, &org).await?;
    Ok(HttpResponse::Ok().json(RoleMappingView::of(&org, &mapping, None)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutQuery {
    /// Re-role the members in a job (202 with the job) whatever their number; without
    /// it, a job does it only for more than 1,000 live members.
    #[serde(default, rename = "async")]
    run_as_job: bool,
}

/// Replaces the mapping; its members are re-roled in the same transaction (200), or by a
/// job queued in it (202) for a large organization or with `?async=true`.
async fn put(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<Value>,
) -> Result<HttpResponse, AdminApiError> {
    let q: PutQuery = super::paging::query(&req)?;
    let mapping = RoleMapping::parse(&input)?;
    let org = super::organization_id(&id)?;
    match roles::set_mapping(&state.db, &op.actor, &org, &mapping, q.run_as_job).await? {
        MappingSet::Applied { members_changed } => {
            Ok(HttpResponse::Ok().json(RoleMappingView::of(&org, &mapping, Some(members_changed))))
        }
        MappingSet::Queued(job) => {
            state.jobs_wake.notify_one();
            let mut view = RoleMappingView::of(&org, &mapping, None);
            view.job = Some(Job::of(&job));
            Ok(HttpResponse::Accepted().json(view))
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/role-mappings", web::get().to(get))
        .route("/organizations/{id}/role-mappings", web::put().to(put));
}
