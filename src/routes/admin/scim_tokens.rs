//! `/organizations/{id}/scim-tokens`: the bearer tokens of an organization's IdP
//! connection, made with an optional expiry and networks, rotated with an overlap, and
//! revoked. A token is shown once, in the answer that made it.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AdminApiError, OptionalBody};
use crate::domain::token::{self, Networks, Rules};
use crate::routes::extract::Operator;
use crate::service::scim_tokens;
use crate::state::AppState;
use crate::views::{List, ScimToken, ScimTokenCreated, ScimTokenRotated};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateScimToken {
    /// After this instant the token is refused; absent: it never expires.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// A lifetime instead of an instant (e.g. `90d`); not with `expires_at`.
    #[serde(default)]
    ttl: Option<String>,
    /// CIDRs or addresses (at most 100) the IdP calls from; absent or empty: anywhere.
    /// The client address is the one `OFFBOARD_TRUSTED_PROXIES` gives.
    #[serde(default)]
    allowed_networks: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateScimToken {
    /// How long the old token keeps working: `24h` by default, `0s` to `30d`.
    #[serde(default)]
    overlap: Option<String>,
    /// The new token's expiry; absent: it never expires.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// A lifetime for the new token instead of an instant (e.g. `90d`).
    #[serde(default)]
    ttl: Option<String>,
}

async fn create(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let input: CreateScimToken = body.parse()?;
    let rules = Rules {
        expires_at: token::expiry(input.expires_at, input.ttl.as_deref(), Utc::now())?,
        networks: Networks::parse(&input.allowed_networks)?,
    };
    let org = super::organization_id(&id)?;
    let (row, token) = scim_tokens::create(&state.db, &op.actor, &org, &rules).await?;
    Ok(HttpResponse::Created().json(ScimTokenCreated::of(&row, token)))
}

async fn rotate(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, token_id) = path.into_inner();
    let input: RotateScimToken = body.parse()?;
    let overlap = token::overlap(input.overlap.as_deref())?;
    let expires_at = token::expiry(input.expires_at, input.ttl.as_deref(), Utc::now())?;
    let org = super::organization_id(&org_id)?;
    let (new, token, old) =
        scim_tokens::rotate(&state.db, &op.actor, &org, &token_id, overlap, expires_at).await?;
    Ok(HttpResponse::Created().json(ScimTokenRotated {
        token: ScimTokenCreated::of(&new, token),
        replaces: ScimToken::of(&old),
    }))
}

/// The organization's unrevoked tokens: metadata, never the token.
async fn list(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let org = super::organization_id(&id)?;
    let rows = scim_tokens::list(&state.db, Some(&state.connections), &org).await?;
    Ok(HttpResponse::Ok().json(List::of(rows.iter().map(ScimToken::of).collect())))
}

async fn revoke(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminApiError> {
    let (org_id, token_id) = path.into_inner();
    let org = super::organization_id(&org_id)?;
    scim_tokens::revoke(&state.db, &op.actor, &org, &token_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/scim-tokens", web::post().to(create))
        .route("/organizations/{id}/scim-tokens", web::get().to(list))
        .route(
            "/organizations/{id}/scim-tokens/{token_id}/rotate",
            web::post().to(rotate),
        )
        .route(
            "/organizations/{id}/scim-tokens/{token_id}",
            web::delete().to(revoke),
        );
}
