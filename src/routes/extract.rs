//! Who is calling: a SCIM bearer token selects an organization ([`Tenant`]) and draws
//! on that organization's rate quota; an admin JWT identifies an operator
//! ([`Operator`]). Tokens are never logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};

use crate::auth::AdminAuthError;
use crate::domain::scope::Scope;
use crate::domain::token::{self as token_rules, Networks};
use crate::routes::RequestId;
use crate::routes::admin::AdminApiError;
use crate::scim::error::ScimError;
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::tokens;
use ids::OrganizationId;

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

/// A database failure while authenticating: 503 when the database is unavailable.
fn database_scim_error(e: &sea_orm::DbErr) -> ScimError {
    match crate::db::unavailable(e) {
        Some(why) => {
            tracing::debug!(error = %e, "{}: answering 503", why.as_str());
            ScimError::service_unavailable(
                crate::routes::body::UNAVAILABLE_RETRY_AFTER,
                format!("{}; retry later", why.as_str()),
            )
        }
        None => {
            tracing::error!(error = %e, "token lookup failed");
            ScimError::new(500, None, "internal error")
        }
    }
}

/// The organization a SCIM request acts for, chosen by its bearer token.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub organization_id: OrganizationId,
    pub actor: Actor,
}

impl FromRequest for Tenant {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request_id = request_id(req);
        let client_address = super::client_address(req);
        let client_ip = req
            .extensions()
            .get::<crate::forwarded::Origin>()
            .map(|o| o.client);
        let seen = SeenSlot(req.clone());
        Box::pin(async move {
            let token =
                token.ok_or_else(|| ScimError::unauthorized("a bearer token is required"))?;
            let state = state.ok_or_else(|| ScimError::new(500, None, "internal error"))?;
            let row = tokens::find_unrevoked(&state.db, &token)
                .await
                .map_err(|e| database_scim_error(&e))?;
            let row =
                row.ok_or_else(|| ScimError::unauthorized("the bearer token is not valid"))?;
            tracing::Span::current().record("organization_id", row.organization_id.as_str());
            let networks = Networks::from_stored(row.allowed_networks.as_deref());
            let refused =
                token_rules::admit(row.expires_at, &networks, client_ip, chrono::Utc::now()).err();
            // Whatever the answer, this request counts for the token's connection health
            // (a refusal by the token's own rules, by its reason).
            seen.insert(crate::connection::Seen {
                token_id: row.id.clone(),
                organization_id: row.organization_id.clone(),
                refused,
            });
            if let Some(why) = refused {
                return Err(ScimError::unauthorized(why.message()));
            }
            // Each organization's requests draw from its own bucket: one organization's
            // flood is answered 429 and never slows another's.
            let quota = state
                .admission
                .quota(&state.db, &row.organization_id)
                .await
                .map_err(|e| database_scim_error(&e))?;
            if let Err(wait) = state.admission.rates.check(&row.organization_id, quota) {
                return Err(ScimError::too_many_requests(
                    wait.as_secs_f64().ceil() as u64,
                    "this organization's request rate is exceeded; retry after the given seconds",
                ));
            }
            Ok(Tenant {
                organization_id: OrganizationId::from_stored(row.organization_id),
                actor: Actor {
                    kind: crate::store::audit::ActorKind::ScimToken,
                    id: row.id,
                    request_id,
                    client_address,
                },
            })
        })
    }
}

/// Where the SCIM token extractor leaves the token it found, for the connection-health
/// recording after the answer.
struct SeenSlot(HttpRequest);

impl SeenSlot {
    fn insert(&self, seen: crate::connection::Seen) {
        self.0.extensions_mut().insert(seen);
    }
}

/// An application authenticated by its API key (`/v1`), and the actor its changes are
/// recorded under.
#[derive(Debug, Clone)]
pub struct Application {
    pub key: entity::api_keys::Model,
    pub actor: Actor,
}

impl Application {
    /// 403 unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AdminApiError> {
        if scope.held_by(&self.key.scopes) {
            return Ok(());
        }
        Err(AdminApiError::forbidden(&format!(
            "this API key does not have the {} scope",
            scope.as_str()
        )))
    }
}

impl FromRequest for Application {
    type Error = AdminApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let (request_id, client_address) = (request_id(req), super::client_address(req));
        Box::pin(async move {
            let key = key.ok_or_else(|| AdminApiError::unauthorized("an API key is required"))?;
            if key.split('.').count() == 3 {
                return Err(AdminApiError::unauthorized(
                    "these routes take an application's API key (obk_…), not an admin JWT",
                ));
            }
            let state =
                state.ok_or_else(|| AdminApiError::unauthorized("the API is not available"))?;
            let key = crate::service::feed::authenticate(&state.db, &key)
                .await?
                .ok_or_else(|| AdminApiError::unauthorized("the API key is not valid"))?;
            let actor = Actor {
                kind: crate::store::audit::ActorKind::ApiKey,
                id: key.id.clone(),
                request_id,
                client_address,
            };
            Ok(Application { key, actor })
        })
    }
}

/// An authenticated operator of the admin API.
#[derive(Debug, Clone)]
pub struct Operator {
    pub actor: Actor,
}

impl FromRequest for Operator {
    type Error = AdminApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate_operator(req))
    }
}

pub(crate) fn authenticate_operator(req: &HttpRequest) -> Result<Operator, AdminApiError> {
    let token =
        bearer(req).ok_or_else(|| AdminApiError::unauthorized("a bearer JWT is required"))?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AdminApiError::unauthorized("the admin API is not available"))?;
    let claims = state.admin_verifier.verify(&token).map_err(|e| match e {
        AdminAuthError::MissingScope => AdminApiError::forbidden(&e.to_string()),
        _ => AdminApiError::unauthorized(&e.to_string()),
    })?;
    Ok(Operator {
        actor: Actor {
            kind: crate::store::audit::ActorKind::Admin,
            id: claims.sub,
            request_id: request_id(req),
            client_address: super::client_address(req),
        },
    })
}
