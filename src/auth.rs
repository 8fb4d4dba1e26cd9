//! Authentication: a SCIM bearer token selects an organization ([`Tenant`]); an admin JWT
//! identifies an operator ([`Operator`]). Tokens are never logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::routes::RequestId;
use crate::routes::admin::AdminApiError;
use crate::scim::error::ScimError;
use crate::startup::AppState;
use crate::store::audit::Actor;
use crate::store::tokens;

pub const ADMIN_SCOPE: &str = "offboard:admin";

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

/// The organization a SCIM request acts for, chosen by its bearer token.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub organization_id: String,
    pub actor: Actor,
}

impl FromRequest for Tenant {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request_id = request_id(req);
        Box::pin(async move {
            let token =
                token.ok_or_else(|| ScimError::unauthorized("a bearer token is required"))?;
            let state = state.ok_or_else(|| ScimError::new(500, None, "internal error"))?;
            let row = tokens::find_live(&state.db, &token).await.map_err(|e| {
                tracing::error!(error = %e, "token lookup failed");
                ScimError::new(500, None, "internal error")
            })?;
            let row =
                row.ok_or_else(|| ScimError::unauthorized("the bearer token is not valid"))?;
            tracing::Span::current().record("organization_id", row.organization_id.as_str());
            Ok(Tenant {
                organization_id: row.organization_id,
                actor: Actor {
                    kind: "scim_token",
                    id: row.id,
                    request_id,
                },
            })
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub scope: String,
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
        std::future::ready(authenticate_operator(req).map_err(|e| e.traced(req)))
    }
}

fn authenticate_operator(req: &HttpRequest) -> Result<Operator, AdminApiError> {
    let token =
        bearer(req).ok_or_else(|| AdminApiError::unauthorized("a bearer JWT is required"))?;
    let secret = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.settings.admin_jwt_secret.clone())
        .ok_or_else(|| {
            AdminApiError::unauthorized(
                "the admin API is disabled: OFFBOARD_ADMIN_JWT_SECRET is not set",
            )
        })?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.leeway = 30;
    let data = jsonwebtoken::decode::<Claims>(
        &token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|_| AdminApiError::unauthorized("the token is invalid or expired"))?;
    if !data
        .claims
        .scope
        .split_whitespace()
        .any(|s| s == ADMIN_SCOPE)
    {
        return Err(AdminApiError::forbidden(&format!(
            "the token lacks the '{ADMIN_SCOPE}' scope"
        )));
    }
    Ok(Operator {
        actor: Actor {
            kind: "admin",
            id: data.claims.sub,
            request_id: request_id(req),
        },
    })
}

/// Signs an admin JWT (HS256) for `subject`, valid for `ttl`.
pub fn issue_admin_token(
    secret: &str,
    subject: &str,
    ttl: std::time::Duration,
) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_string(),
        iat: now,
        exp: now + i64::try_from(ttl.as_secs())?,
        scope: ADMIN_SCOPE.to_string(),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}
