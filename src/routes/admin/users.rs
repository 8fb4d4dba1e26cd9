use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{AdminApiError, Body, OptionalBody, deletion_body};
use crate::domain::suspension::Suspension;
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::admin::{self, UserView};
use crate::service::export::{self, Export};
use crate::service::{deletion, suspension};
use crate::state::AppState;

/// The account with all its memberships, removed ones included.
fn user_json(view: &UserView) -> Value {
    let account = &view.account;
    let memberships: Vec<Value> = view
        .memberships
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "scim_id": m.scim_id,
                "organization_id": m.organization_id,
                "status": m.status,
                "roles": m.roles,
                "user_name": m.user_name,
                "external_id": m.external_id,
                "created_at": format_time(m.created_at),
                "updated_at": format_time(m.updated_at),
                "removed_at": m.removed_at.map(format_time),
            })
        })
        .collect();
    json!({
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        // Linked through a verified domain (shared by the organizations that verified
        // it), or private to the organization that created it.
        "linked": account.identity_key.is_some() || account.held_identity_key.is_some(),
        "status": if account.deleted_at.is_some() { "DELETED" } else { "ACTIVE" },
        "created_at": format_time(account.created_at),
        "deleted_at": account.deleted_at.map(format_time),
        // Within the grace period: when the personal data goes and a restore stops working.
        "purge_after": account.purge_after.map(format_time),
        "memberships": memberships,
        // Suspended accounts keep each membership's SCIM status (what the IdP set) above;
        // this says whether the account may hold sessions at all.
        "suspended": view.suspension.is_some(),
        "suspension": view.suspension.as_ref().map(suspension_json),
    })
}

fn suspension_json(s: &entity::suspensions::Model) -> Value {
    json!({
        "reason": s.reason,
        "suspended_at": format_time(s.suspended_at),
        "until": s.until.map(format_time),
    })
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(user_json(&view)))
}

/// Deletes the account everywhere (account closure, erasure request), with the content
/// directives the application is to carry out.
async fn delete(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let content = deletion_body(&input, &[], json!({"user_id": id.as_str()}))?;
    let grace = state.settings.deletion_grace;
    deletion::delete_user(&state.db, &op.actor, &id, content, grace).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn restore(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    deletion::restore_user(&state.db, &op.actor, &id).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(user_json(&view)))
}

/// Everything offboard holds about the person (see `service::export`), as one document.
pub fn export_json(e: &Export) -> Value {
    let a = &e.account;
    let memberships: Vec<Value> = e
        .memberships
        .iter()
        .map(|m| {
            let groups: Vec<Value> = e
                .groups
                .get(&m.id)
                .map(|gs| {
                    gs.iter()
                        .map(|(id, name)| json!({"id": id, "display_name": name}))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "id": m.id,
                "organization_id": m.organization_id,
                "scim_id": m.scim_id,
                "status": m.status,
                "user_name": m.user_name,
                "external_id": m.external_id,
                "roles": m.roles,
                // The organization's SCIM record, as its IdP last sent it.
                "scim_record": m.scim,
                "groups": groups,
                "created_at": format_time(m.created_at),
                "updated_at": format_time(m.updated_at),
                "status_changed_at": format_time(m.status_changed_at),
                "removed_at": m.removed_at.map(format_time),
            })
        })
        .collect();
    let sessions: Vec<Value> = e
        .sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "organization_id": s.organization_id,
                "created_at": format_time(s.created_at),
                "expires_at": format_time(s.expires_at),
                "revoked_at": s.revoked_at.map(format_time),
                "revoked_reason": s.revoked_reason,
            })
        })
        .collect();
    let audit: Vec<Value> = e
        .audit
        .iter()
        .map(|r| {
            // The person is every row's target; the caller's address is not the person's.
            let mut row = super::audit::audit_json(r);
            if let Some(o) = row.as_object_mut() {
                o.remove("target");
                o.remove("client_address");
            }
            row
        })
        .collect();
    let events: Vec<&Value> = e.events.iter().map(|ev| &ev.payload).collect();
    json!({
        "exported_at": format_time(chrono::Utc::now()),
        "account": {
            "id": a.id,
            "email": a.email,
            "display_name": a.display_name,
            "linked": a.identity_key.is_some() || a.held_identity_key.is_some(),
            "created_at": format_time(a.created_at),
            "updated_at": format_time(a.updated_at),
            "deleted_at": a.deleted_at.map(format_time),
            "purge_after": a.purge_after.map(format_time),
            "suspension": e.suspension.as_ref().map(suspension_json),
        },
        "memberships": memberships,
        "sessions": sessions,
        "audit": audit,
        "events": events,
        "truncated": e.truncated,
    })
}

/// Everything offboard holds about the person, until the purge erases it (404 after).
async fn export(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let e = export::export(&state.db, &op.actor, &id).await?;
    Ok(HttpResponse::Ok().json(export_json(&e)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspendInput {
    #[serde(default)]
    reason: Option<String>,
    /// RFC 3339; absent or `null`: until lifted.
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

/// Suspends the account in every organization: sessions revoked, new ones refused.
async fn suspend(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<SuspendInput>,
) -> Result<HttpResponse, AdminApiError> {
    let suspension = Suspension::new(input.reason.as_deref(), input.until, Utc::now())
        .map_err(|e| AdminApiError::validation(&format!("{e}.")))?;
    suspension::suspend(&state.db, &op.actor, &id, suspension).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(user_json(&view)))
}

async fn unsuspend(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    suspension::unsuspend(&state.db, &op.actor, &id).await?;
    let view = admin::user_view(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(user_json(&view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}", web::get().to(get))
        .route("/users/{id}", web::delete().to(delete))
        .route("/users/{id}/restore", web::post().to(restore))
        .route("/users/{id}/suspend", web::post().to(suspend))
        .route("/users/{id}/unsuspend", web::post().to(unsuspend))
        .route("/users/{id}/export", web::get().to(export));
}
