//! The operator console at `/console`: server-rendered HTML (askama templates compiled
//! into the binary) with htmx, both served from here; no third-party request, a strict
//! Content-Security-Policy, no cookie. Pages are a shell that holds no data; what an
//! operator sees comes from fragments under `/console/f/…`, which authenticate with the
//! admin token as the admin API does (the tab keeps it in session storage and htmx sends
//! it as `Authorization: Bearer`). Actions call the same use cases as the admin API.

mod pages;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use super::admin::AdminApiError;

pub const BASE_PATH: &str = "/console";
/// The vendored htmx (see `static/README.md`).
pub const HTMX_VERSION: &str = "2.0.11";

const HTMX: &[u8] = include_bytes!("static/htmx.min.js");
const SCRIPT: &[u8] = include_bytes!("static/console.js");
const STYLE: &[u8] = include_bytes!("static/console.css");

/// Scripts and styles from this origin only, no inline script, no framing, nothing sent
/// anywhere else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A fragment's failure: the admin API's status and message, as plain text the console
/// shows (an admin token refused answers 401, and the console asks for another).
#[derive(Debug)]
pub struct ConsoleError(AdminApiError);

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.0.status)
            .content_type("text/plain; charset=utf-8")
            .body(self.0.message.clone())
    }
}

impl From<AdminApiError> for ConsoleError {
    fn from(e: AdminApiError) -> Self {
        ConsoleError(e)
    }
}

impl From<crate::service::Error> for ConsoleError {
    fn from(e: crate::service::Error) -> Self {
        ConsoleError(e.into())
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ConsoleError(e.into())
    }
}

impl From<askama::Error> for AdminApiError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(error = %e, "console template failed");
        AdminApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "the page could not be rendered",
        )
    }
}

pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

#[derive(Template)]
#[template(path = "console/shell.html")]
struct Shell {
    /// The fragment the page shows once signed in.
    src: String,
}

/// Every console page is the same shell: it names its fragment, and holds no data.
async fn organizations_page() -> Result<HttpResponse, ConsoleError> {
    shell("/console/f/organizations".into())
}

async fn organization_page(id: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    shell(format!("/console/f/organizations/{}", plain_id(&id)?))
}

async fn user_page(id: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    shell(format!("/console/f/users/{}", plain_id(&id)?))
}

fn shell(src: String) -> Result<HttpResponse, ConsoleError> {
    Ok(html(Shell { src }.render()?))
}

/// An id as offboard makes them (`org_01…`): nothing else reaches a fragment's address.
fn plain_id(id: &str) -> Result<&str, ConsoleError> {
    if !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(AdminApiError::not_found("page").into())
    }
}

/// A static file compiled into the binary (revalidated, so a new release is picked up).
pub fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn htmx() -> HttpResponse {
    asset(HTMX, "text/javascript; charset=utf-8")
}

async fn script() -> HttpResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> HttpResponse {
    asset(STYLE, "text/css; charset=utf-8")
}

/// The headers of every page offboard serves (the console, the setup page): this
/// origin's scripts only, not framed, not sniffed, no referrer sent on.
pub fn page_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .wrap(page_headers())
            .route("/static/htmx.min.js", web::get().to(htmx))
            .route("/static/console.js", web::get().to(script))
            .route("/static/console.css", web::get().to(style))
            .configure(pages::configure)
            .route("", web::get().to(organizations_page))
            .route("/", web::get().to(organizations_page))
            .route("/organizations/{id}", web::get().to(organization_page))
            .route("/users/{id}", web::get().to(user_page)),
    );
}
