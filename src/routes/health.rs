//! Probes and metrics, unauthenticated: they expose no ids, tokens or personal data.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

/// Process up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve: the database answered the last probe (at most a second ago) and no
/// migration is pending. Answers at once, from the cached probe.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let r = &state.readiness;
    let db = if r.database_up() { "ok" } else { "unreachable" };
    let migrations = if r.migrations_current() {
        "current"
    } else {
        "pending"
    };
    let body = json!({
        "status": if r.database_up() && r.migrations_current() { "ok" } else { "unavailable" },
        "database": db,
        "migrations": migrations,
    });
    if r.database_up() && r.migrations_current() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((
                actix_web::http::header::RETRY_AFTER,
                crate::routes::scim::UNAVAILABLE_RETRY_AFTER.to_string(),
            ))
            .json(body)
    }
}

/// Prometheus / OpenMetrics text.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render(&state.db).await {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
