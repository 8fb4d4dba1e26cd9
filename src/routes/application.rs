//! `/v1/sessions` and `/v1/users`: what an application calls with its API key (never an
//! admin JWT), each route allowed by exactly one scope: `sessions:write` registers and
//! revokes, `sessions:read` introspects, `users:read` reads a user. A key limited to one
//! organization gets 404 for another organization's ids. Errors use the admin API's
//! envelope; the bodies and answers are the admin API's.

use actix_web::{HttpResponse, web};
use chrono::Utc;

use crate::domain::scope::Scope;
use crate::routes::admin::sessions::CreateSession;
use crate::routes::admin::{AdminApiError, Body};
use crate::routes::extract::Application;
use crate::service::{admin, application};
use crate::state::AppState;
use crate::views::{Session, User};

async fn create_session(
    app: Application,
    state: web::Data<AppState>,
    Body(input): Body<CreateSession>,
) -> Result<HttpResponse, AdminApiError> {
    app.require(Scope::SessionsWrite)?;
    let (user_id, organization_id, expires_at) = input.parsed()?;
    let s = application::create_session(
        &state.db,
        &app.key,
        &app.actor,
        &user_id,
        &organization_id,
        expires_at,
    )
    .await?;
    Ok(HttpResponse::Created().json(Session::of(&s, Utc::now())))
}

/// Introspection: `{"active": bool, "roles": […], …}`.
async fn session(
    app: Application,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    app.require(Scope::SessionsRead)?;
    let s = application::session(&state.db, &app.key, &id).await?;
    let roles = admin::session_roles(&state.db, &s).await?;
    Ok(HttpResponse::Ok().json(Session::of(&s, Utc::now()).with_roles(roles)))
}

async fn revoke_session(
    app: Application,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    app.require(Scope::SessionsWrite)?;
    let s = application::revoke_session(&state.db, &app.key, &app.actor, &id).await?;
    Ok(HttpResponse::Ok().json(Session::of(&s, Utc::now())))
}

async fn user(
    app: Application,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    app.require(Scope::UsersRead)?;
    let user_id = crate::routes::admin::user_id(&id)?;
    let view = application::user(&state.db, &app.key, &user_id).await?;
    Ok(HttpResponse::Ok().json(User::of(&view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions", web::post().to(create_session))
        .route("/sessions/{id}", web::get().to(session))
        .route("/sessions/{id}", web::delete().to(revoke_session))
        .route("/users/{id}", web::get().to(user));
}
