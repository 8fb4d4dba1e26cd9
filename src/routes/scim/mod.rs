//! The `/scim/v2` surface. Every error answers with the RFC 7644 §3.12 body and
//! `application/scim+json`; unexpected errors log their cause and answer a generic 500.

pub mod discovery;
pub mod groups;
pub mod path;
pub mod resource;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::Value;

use crate::domain::IfMatch;
use crate::routes::extract::Tenant;
use crate::scim::SCIM_CONTENT_TYPE;
use crate::scim::error::ScimError;
use crate::service::Error;
use crate::service::Scope;
use crate::state::AppState;

pub use super::body::{
    RefusedUnavailable, UNAVAILABLE_RETRY_AFTER, read_as, read_json, read_optional_json,
};

pub const BASE_PATH: &str = "/scim/v2";

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if self.status == 401 {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"offboard\""));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let mut res = res.body(self.body().to_string());
        // A SCIM 503 is always the database being unavailable (counted in metrics).
        if self.status == 503 {
            res.extensions_mut().insert(RefusedUnavailable);
        }
        // What the request inspector shows as the error answered.
        res.extensions_mut().insert(crate::inspector::Answered {
            scim_type: self.scim_type.map(|t| t.as_str().to_string()),
            detail: self.detail.clone(),
        });
        res
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.scim().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.scim().error_response()
    }
}

impl Error {
    /// The SCIM error this is (RFC 7644 §3.12): the one mapping of the use cases' error
    /// to SCIM. Unexpected errors and unavailable databases log their cause here.
    fn scim(&self) -> ScimError {
        match self {
            Error::NotFound(n) => ScimError::not_found(n.to_string()),
            Error::Conflict { message, .. } => ScimError::uniqueness(message.clone()),
            Error::Invalid(e) => e.clone(),
            Error::PreconditionFailed(m) => ScimError::precondition_failed(m.clone()),
            Error::Held {
                message,
                retry_after,
            } => ScimError::too_many_requests(*retry_after, message.clone()),
            Error::Unavailable { why, source } => {
                tracing::debug!(error = %source, "{}: answering 503", why.as_str());
                ScimError::service_unavailable(
                    UNAVAILABLE_RETRY_AFTER,
                    format!("{}; retry later", why.as_str()),
                )
            }
            Error::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                ScimError::new(500, None, "internal error")
            }
        }
    }
}

pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE))
        .body(body.to_string())
}

/// `scheme://host/scim/v2`: `OFFBOARD_PUBLIC_URL`'s when set; otherwise as the client
/// addressed it, with the scheme and host a trusted proxy forwarded
/// (`OFFBOARD_TRUSTED_PROXIES`; from anyone else those headers are ignored, or a client
/// could put any host into `meta.location`).
pub fn base_url(req: &HttpRequest) -> String {
    let state = req.app_data::<web::Data<AppState>>();
    if let Some(public) = state.and_then(|s| s.settings.public_url.as_ref()) {
        return format!("{}{BASE_PATH}", public.as_str());
    }
    let extensions = req.extensions();
    let forwarded = extensions.get::<crate::forwarded::Origin>();
    let scheme = match forwarded.and_then(|o| o.scheme.as_deref()) {
        Some(scheme) => scheme,
        None if state.is_some_and(|s| s.settings.tls.is_some()) => "https",
        None => "http",
    };
    let host = forwarded
        .and_then(|o| o.host.clone())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| req.app_config().host().to_string());
    format!("{scheme}://{host}{BASE_PATH}")
}

pub fn scope(req: &HttpRequest, tenant: &Tenant) -> Scope {
    let deletion_grace = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.deletion_grace)
        .unwrap_or_default();
    Scope {
        organization_id: tenant.organization_id.clone(),
        actor: tenant.actor.clone(),
        deletion_grace,
    }
}

/// `If-Match`, read once. A value that is not text matches no version.
pub fn if_match(req: &HttpRequest) -> IfMatch {
    match req.headers().get(header::IF_MATCH) {
        None => IfMatch::Absent,
        Some(v) => IfMatch::parse(Some(v.to_str().unwrap_or(""))),
    }
}

pub fn state(data: &web::Data<AppState>) -> &AppState {
    data.get_ref()
}

/// `/Bulk` is announced unsupported in /ServiceProviderConfig (no IdP offboard serves
/// sends it) and answers 501, as RFC 7644 §3.7 expects of a server without bulk.
async fn bulk_not_implemented() -> HttpResponse {
    ScimError::new(
        501,
        None,
        "bulk operations are not supported (see /ServiceProviderConfig)",
    )
    .error_response()
}

async fn unknown_endpoint() -> HttpResponse {
    ScimError::not_found("no such SCIM endpoint").error_response()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .configure(discovery::configure)
            .route("/.search", web::post().to(root_search))
            .route("/Bulk", web::route().to(bulk_not_implemented))
            .configure(users::configure)
            .configure(groups::configure)
            .default_service(web::to(unknown_endpoint)),
    );
}

/// The SCIM query parameters, names matched case-insensitively.
pub fn raw_query(req: &HttpRequest) -> Result<crate::scim::list::RawQuery, ScimError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ScimError::invalid_value("the query string is malformed"))?;
    let mut raw = crate::scim::list::RawQuery::default();
    for (k, v) in pairs.into_inner() {
        let slot = match k.to_ascii_lowercase().as_str() {
            "filter" => &mut raw.filter,
            "startindex" => &mut raw.start_index,
            "count" => &mut raw.count,
            "sortby" => &mut raw.sort_by,
            "sortorder" => &mut raw.sort_order,
            "attributes" => &mut raw.attributes,
            "excludedattributes" => &mut raw.excluded_attributes,
            _ => continue,
        };
        *slot = Some(v);
    }
    Ok(raw)
}

/// A known SCIM path called with a method it does not support: 405 with a SCIM error.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ScimError::new(
        405,
        None,
        format!("{} is not supported on {}", req.method(), req.path()),
    )
    .error_response()
}

/// Registers the 405 fallback on paths whose methods are already routed (actix merges
/// routes of the same path into one resource and tries them in order).
pub fn refuse_other_methods(cfg: &mut web::ServiceConfig, paths: &[&str]) {
    for p in paths {
        cfg.route(p, web::route().to(method_not_allowed));
    }
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): the query runs against every resource
/// type whose schema it fits (a filter on `userName` only fits Users), and the results
/// are paged together, Users first. Each type is counted and paged in SQL, so only the
/// page is loaded.
async fn root_search(
    req: HttpRequest,
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    use crate::scim::list::{ListQuery, RawQuery, list_response};
    use crate::scim::schema::{GROUP, USER};
    let body = read_json(&req, body, state.settings.max_body_bytes).await?;
    let raw = RawQuery::from_search_body(&body)?;
    let users = ListQuery::parse(&raw, &USER);
    let groups = ListQuery::parse(&raw, &GROUP);
    let page_of = match (&users, &groups) {
        (Ok(q), _) | (_, Ok(q)) => q.clone(),
        (Err(e), Err(_)) => return Err(e.clone().into()),
    };
    let (start, count) = (page_of.start_index, page_of.count);
    let mut total = 0;
    let mut found: Vec<Value> = Vec::new();
    // Users occupy positions 1..=users_total, groups follow.
    let mut users_total = 0;
    if let Ok(q) = users {
        let (n, items) = resource::page::<users::Users>(&state, &req, &tenant, &q).await?;
        users_total = n;
        total += n;
        found.extend(items);
    }
    if let Ok(mut q) = groups {
        let room = count.saturating_sub(found.len());
        q.start_index = start.saturating_sub(users_total).max(1);
        q.count = room;
        let (n, items) = resource::page::<groups::Groups>(&state, &req, &tenant, &q).await?;
        total += n;
        found.extend(items);
    }
    Ok(scim_json(
        StatusCode::OK,
        &list_response(total, start, found),
    ))
}

/// One resource: its (projected) body, `ETag`, and on 201 the `Location` of the new resource.
pub fn resource_response(status: StatusCode, body: &Value, etag: &str) -> HttpResponse {
    let mut res = scim_json(status, body);
    if let Ok(v) = header::HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(Ok(v)) = body["meta"]["location"]
            .as_str()
            .map(header::HeaderValue::from_str)
    {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
