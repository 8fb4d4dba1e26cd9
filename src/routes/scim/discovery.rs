//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`: public, as RFC 7644 §4 allows.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{base_url, scim_json};
use crate::scim::discovery;
use crate::scim::error::ScimError;
use crate::scim::list::list_response;

async fn service_provider_config(req: HttpRequest) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&base_url(&req)),
    )
}

fn one_of(items: Vec<Value>, id: &str, what: &str) -> Result<HttpResponse, ScimError> {
    items
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("{what} not found")))
}

fn all(items: Vec<Value>) -> HttpResponse {
    let n = items.len();
    scim_json(StatusCode::OK, &list_response(n, 1, items))
}

async fn schemas(req: HttpRequest) -> HttpResponse {
    all(discovery::schemas(&base_url(&req)))
}

async fn schema(req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ScimError> {
    one_of(discovery::schemas(&base_url(&req)), &id, "schema")
}

async fn resource_types(req: HttpRequest) -> HttpResponse {
    all(discovery::resource_types(&base_url(&req)))
}

async fn resource_type(req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, ScimError> {
    one_of(
        discovery::resource_types(&base_url(&req)),
        &id,
        "resource type",
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/ServiceProviderConfig",
        web::get().to(service_provider_config),
    )
    .route("/Schemas", web::get().to(schemas))
    .route("/Schemas/{id}", web::get().to(schema))
    .route("/ResourceTypes", web::get().to(resource_types))
    .route("/ResourceTypes/{id}", web::get().to(resource_type));
    super::refuse_other_methods(
        cfg,
        &[
            "/ServiceProviderConfig",
            "/Schemas",
            "/Schemas/{id}",
            "/ResourceTypes",
            "/ResourceTypes/{id}",
        ],
    );
}
