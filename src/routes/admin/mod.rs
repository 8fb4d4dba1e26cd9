//! The `/admin/v1` surface, authenticated by admin JWTs. Every error answers with the
//! envelope `{"success":false,"error":{code,message,system_message,type,status,details,trace_id,timestamp}}`.

pub mod api_keys;
pub mod audit;
pub mod domains;
pub mod guard;
pub mod jobs;
pub mod openapi;
pub mod organizations;
pub mod paging;
pub mod roles;
pub mod scim_tokens;
pub mod sessions;
pub mod setup_links;
pub mod users;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use ids::{OrganizationId, UserId};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::ContentDirectives;
use crate::routes::body::read_json;
use crate::service::Error;

pub const BASE_PATH: &str = "/admin/v1";

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AdminApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Seconds for `Retry-After` (503, 429).
    pub retry_after: Option<u64>,
}

impl AdminApiError {
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        AdminApiError {
            status,
            code,
            message: message.to_string(),
            details: json!({}),
            retry_after: None,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("{what} not found"),
        )
    }

    pub fn validation(message: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            message,
        )
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The organization a path names. Text that cannot be an organization's id is answered
/// as an unknown id is: it names nothing.
pub(crate) fn organization_id(raw: &str) -> Result<OrganizationId, AdminApiError> {
    OrganizationId::named(raw).ok_or_else(|| Error::not_found("organization", None).into())
}

/// The account a path names (as [`organization_id`]).
pub(crate) fn user_id(raw: &str) -> Result<UserId, AdminApiError> {
    UserId::named(raw).ok_or_else(|| Error::not_found("user", None).into())
}

/// The one mapping of the use cases' error to the admin envelope. Unexpected errors and
/// unavailable databases log their cause here.
impl From<Error> for AdminApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(n) => {
                AdminApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", &n.to_string())
            }
            Error::Conflict { code, message } => {
                AdminApiError::new(StatusCode::CONFLICT, code, &message)
            }
            // A value the admin API refuses is a 422; a request SCIM refuses keeps its status.
            Error::Invalid(s) if s.status == 400 => AdminApiError::validation(&s.detail),
            Error::Invalid(s) => AdminApiError::new(
                StatusCode::from_u16(s.status).unwrap_or(StatusCode::BAD_REQUEST),
                "VALIDATION_ERROR",
                &s.detail,
            ),
            Error::PreconditionFailed(m) => {
                AdminApiError::new(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED", &m)
            }
            Error::Held {
                message,
                retry_after,
            } => AdminApiError {
                retry_after: Some(retry_after),
                ..AdminApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "DEPROVISIONING_HELD",
                    &message,
                )
            },
            Error::Unavailable { why, source } => {
                tracing::debug!(error = %source, "{}: answering 503", why.as_str());
                AdminApiError {
                    retry_after: Some(crate::routes::body::UNAVAILABLE_RETRY_AFTER),
                    ..AdminApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "DATABASE_UNAVAILABLE",
                        &format!("{}; retry later", why.as_str()),
                    )
                }
            }
            Error::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                AdminApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "internal error",
                )
            }
        }
    }
}

impl From<crate::domain::organization::InvalidSetting> for AdminApiError {
    fn from(e: crate::domain::organization::InvalidSetting) -> Self {
        AdminApiError::validation(&e.to_string())
    }
}

impl From<sea_orm::DbErr> for AdminApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::from(e).into()
    }
}

impl ResponseError for AdminApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let kind = if self.status.is_server_error() {
            "server_error"
        } else {
            "client_error"
        };
        let body = json!({
            "success": false,
            "error": {
                "code": self.code,
                "message": self.message,
                "system_message": lowercase_first(&self.message),
                "type": kind,
                "status": self.status.as_u16(),
                "details": self.details,
                // The request's id (`X-Request-Id`), set for the whole request in one place.
                "trace_id": crate::routes::current_request_id()
                    .unwrap_or_else(|| ids::new_id(ids::REQUEST)),
                "timestamp": crate::scim::user::format_time(chrono::Utc::now()),
            }
        });
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        let mut res = res.json(body);
        if self.code == "DATABASE_UNAVAILABLE" {
            res.extensions_mut()
                .insert(crate::routes::body::RefusedUnavailable);
        }
        res
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A JSON body deserialized into `T`, read within the configured size limit; a body that
/// is not `T` answers 422 `VALIDATION_ERROR`.
pub struct Body<T>(pub T);

/// An optional JSON body: a request without one (no content type, no length) reads as
/// `{}`, as DELETE requests often come.
pub struct OptionalBody(pub Value);

impl OptionalBody {
    /// The body as a `T` (a body that is not one answers 422 `VALIDATION_ERROR`).
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, AdminApiError> {
        serde_json::from_value(self.0)
            .map_err(|e| AdminApiError::validation(&format!("invalid body: {e}")))
    }
}

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<crate::state::AppState>>()
        .map(|s| s.settings.max_body_bytes)
        .unwrap_or(64 * 1024)
}

fn payload_of(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> impl Future<Output = Result<web::Payload, AdminApiError>> + 'static {
    let taken = web::Payload::from_request(req, payload);
    async move {
        taken
            .await
            .map_err(|e| AdminApiError::validation(&format!("Invalid request body: {e}")))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = AdminApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let (req, limit, payload) = (req.clone(), body_limit(req), payload_of(req, payload));
        Box::pin(async move { Ok(Body(body(&req, payload.await?, limit).await?)) })
    }
}

impl FromRequest for OptionalBody {
    type Error = AdminApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let (req, limit, payload) = (req.clone(), body_limit(req), payload_of(req, payload));
        Box::pin(async move {
            Ok(OptionalBody(
                optional_body(&req, payload.await?, limit).await?,
            ))
        })
    }
}

/// A destructive call's body: only `allowed` fields, and `{"confirm": true}`, else 422
/// `CONFIRMATION_REQUIRED` with `details` naming what would have been affected.
pub fn confirmed(input: &Value, allowed: &[&str], details: Value) -> Result<(), AdminApiError> {
    reject_unknown_fields(input, allowed)?;
    require_confirmation(input, details)
}

/// A deletion's body: `confirm`, the content directives (either spelling), and `fields`
/// the route also takes. Unknown fields, then directives that are not booleans, then a
/// missing confirmation are refused with 422, in that order; returns the directives.
pub fn deletion_body(
    input: &Value,
    fields: &[&'static str],
    details: Value,
) -> Result<Option<ContentDirectives>, AdminApiError> {
    let allowed: Vec<&str> = ["confirm"]
        .into_iter()
        .chain(fields.iter().copied())
        .chain(ContentDirectives::field_names())
        .collect();
    reject_unknown_fields(input, &allowed)?;
    let content = match input.as_object() {
        Some(fields) => ContentDirectives::from_fields(fields).map_err(|e| {
            AdminApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_CONTENT_DIRECTIVE",
                &format!("{e}."),
            )
            .with_details(json!({"field": e.field()}))
        })?,
        None => None,
    };
    require_confirmation(input, details)?;
    Ok(content)
}

/// A body that could not be read (type, size, deadline, syntax), with the reader's status.
fn unreadable(e: crate::scim::error::ScimError) -> AdminApiError {
    AdminApiError::new(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        "VALIDATION_ERROR",
        &e.detail,
    )
}

/// Reads and deserializes a JSON body into the request type.
async fn body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, AdminApiError> {
    let value = an_object(read_json(req, payload, limit).await.map_err(unreadable)?)?;
    serde_json::from_value(value)
        .map_err(|e| AdminApiError::validation(&format!("Invalid request body: {e}")))
}

/// Reads an optional JSON body (see [`OptionalBody`]).
async fn optional_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, AdminApiError> {
    let headers = req.headers();
    let no_type = !headers.contains_key(actix_web::http::header::CONTENT_TYPE);
    let no_length = headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == "0");
    if no_type && no_length && !headers.contains_key(actix_web::http::header::TRANSFER_ENCODING) {
        return Ok(json!({}));
    }
    // A content type with no bytes after it is no body too: `{}`, refused as unconfirmed
    // where confirmation is needed rather than as malformed JSON.
    let value = crate::routes::body::read_optional_json(req, payload, limit)
        .await
        .map_err(unreadable)?;
    an_object(value.unwrap_or_else(|| json!({})))
}

/// Only a JSON object is a body: serde reads a struct from an array too (`[]` as every
/// field absent), so anything else is refused here.
fn an_object(value: Value) -> Result<Value, AdminApiError> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(AdminApiError::validation("the body must be a JSON object"))
    }
}

/// Destructive calls need `{"confirm": true}`; anything else answers 422
/// `CONFIRMATION_REQUIRED` naming what would have been affected.
pub fn require_confirmation(input: &Value, details: Value) -> Result<(), AdminApiError> {
    if input.get("confirm") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    Err(AdminApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "CONFIRMATION_REQUIRED",
        "Please confirm this action by setting confirm to true.",
    )
    .with_details(details))
}

/// Fields a confirmation body may carry besides `confirm`.
pub fn reject_unknown_fields(input: &Value, allowed: &[&str]) -> Result<(), AdminApiError> {
    let Some(obj) = input.as_object() else {
        return Err(AdminApiError::validation("the body must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        let shown = crate::service::shown_id(k);
        return Err(AdminApiError::validation(&format!(
            "unknown field '{shown}'"
        )));
    }
    Ok(())
}

async fn unknown_endpoint() -> HttpResponse {
    AdminApiError::not_found("endpoint").error_response()
}

/// The API's OpenAPI 3.1 description (`docs/openapi.json`), public: it describes the
/// software, nothing of this deployment.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .configure(organizations::configure)
            .configure(api_keys::configure)
            .configure(domains::configure)
            .configure(setup_links::configure)
            .configure(scim_tokens::configure)
            .configure(roles::configure)
            .configure(guard::configure)
            .configure(jobs::configure)
            .configure(users::configure)
            .configure(sessions::configure)
            .configure(audit::configure)
            .configure(webhooks::configure)
            .route("/openapi.json", web::get().to(openapi_json))
            .default_service(web::to(unknown_endpoint)),
    );
}
