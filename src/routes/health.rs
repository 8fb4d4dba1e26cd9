//! Probes and metrics, unauthenticated: they expose no ids, tokens or personal data.

use actix_web::{HttpResponse, get, web};
use migration::MigratorTrait;
use serde_json::json;

use crate::startup::AppState;

/// Process up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve: the database answers and no migration is pending.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = match state.db.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            return HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": "unreachable"}));
        }
    };
    match migration::Migrator::get_pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => HttpResponse::Ok()
            .json(json!({"status": "ok", "database": db, "migrations": "current"})),
        Ok(pending) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable",
            "database": db,
            "migrations": format!("{} pending", pending.len()),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read migrations");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": db, "migrations": "unknown"}))
        }
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
