//! `/organizations/{id}/setup-links`: the links an operator hands an organization's IT
//! admin to connect their IdP (the page itself is `routes::setup`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{AdminApiError, OptionalBody};
use crate::domain::setup::{Idp, link_ttl};
use crate::routes::extract::Operator;
use crate::service::setup_links;
use crate::state::AppState;
use crate::views::{List, SetupLink, SetupLinkCreated};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSetupLink {
    /// How long the link opens: `7d` by default, `30d` at most.
    #[serde(default)]
    ttl: Option<String>,
    /// `okta`, `entra`, `jumpcloud`, `onelogin`, `google` or `other`; absent: the admin
    /// picks.
    #[serde(default)]
    idp: Option<String>,
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateSetupLink = body.parse()?;
    let ttl = link_ttl(input.ttl.as_deref())?;
    let idp = input.idp.as_deref().map(Idp::parse).transpose()?;
    let org = super::organization_id(&id)?;
    let (row, secret) = setup_links::create(&state.db, &op.actor, &org, ttl, idp).await?;
    Ok(HttpResponse::Created().json(SetupLinkCreated {
        link: SetupLink::of(&row),
        url: crate::routes::setup::url(&state.settings, &secret),
    }))
}

async fn list(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let rows = setup_links::list(&state.db, &super::organization_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(List::of(rows.iter().map(SetupLink::of).collect())))
}

async fn revoke(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, link_id) = path.into_inner();
    let org = super::organization_id(&org_id)?;
    setup_links::revoke(&state.db, &op.actor, &org, &link_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/setup-links", web::post().to(create))
        .route("/organizations/{id}/setup-links", web::get().to(list))
        .route(
            "/organizations/{id}/setup-links/{link_id}",
            web::delete().to(revoke),
        );
}
