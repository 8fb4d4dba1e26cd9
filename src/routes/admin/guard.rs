//! The deprovisioning guard's admin surface: what it holds for an organization, and the
//! operator's approval or rejection.

use actix_web::{HttpRequest, HttpResponse, web};
use entity::{held_actions, memberships};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{limit, page, query};
use super::{AdminApiError, OptionalBody};
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::guard::{self, MAX_RESOLVE, Resolution, Selection};
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeldQuery {
    after: Option<String>,
    limit: Option<u64>,
}

/// A held action as the operator reviews it: what the IdP asked, of which membership
/// (its `userName` and `externalId` while it is live), when, and through which token.
pub fn held_json(h: &held_actions::Model, m: Option<&memberships::Model>) -> Value {
    json!({
        "id": h.id,
        "action": h.action,
        "source": h.source,
        "membership_id": h.membership_id,
        "user_id": h.user_id,
        "scim_id": m.map(|m| m.scim_id.as_str()),
        "user_name": m.and_then(|m| m.user_name.as_deref()),
        "external_id": m.and_then(|m| m.external_id.as_deref()),
        "membership_status": m.map(|m| crate::store::memberships::status_of(m.status).as_str()),
        "scim_token_id": h.token_id,
        "request_id": h.request_id,
        "requested_at": format_time(h.requested_at),
    })
}

pub fn resolution_json(r: &Resolution) -> Value {
    json!({
        "approved": r.approved,
        "rejected": r.rejected,
        "skipped": r.skipped,
        "remaining": r.remaining,
    })
}

async fn list(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let q: HeldQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = guard::held(&state.db, &id, q.after.as_deref(), n).await?;
    let (settings, tripped_at) = guard::status(&state.db, &id).await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|(h, _)| h.id.clone());
    let data = rows.iter().map(|(h, m)| held_json(h, m.as_ref())).collect();
    let mut body = page(data, last, full);
    body["deprovision_guard"] = guard_json(&settings, tripped_at);
    Ok(HttpResponse::Ok().json(body))
}

/// The settings, and `tripped_at` (`null` while the guard is armed).
pub fn guard_json(
    settings: &crate::domain::guard::GuardSettings,
    tripped_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Value {
    let mut v = guard::settings_json(settings);
    v["tripped_at"] = json!(tripped_at.map(format_time));
    v
}

/// `{}` (the oldest held, up to 1,000) or `{"ids": [...]}` (at most 1,000).
fn selection(input: &Value) -> Result<Selection, AdminApiError> {
    let fields = input.as_object().map(|o| o.len()).unwrap_or(0);
    let bad = || {
        AdminApiError::validation(&format!(
            "the body is {{}} (the oldest held actions, up to {MAX_RESOLVE}) or {{\"ids\": [held action ids]}} (1 to {MAX_RESOLVE})"
        ))
    };
    match input.get("ids") {
        None if fields == 0 => Ok(Selection::Oldest),
        Some(Value::Array(ids)) if fields == 1 && !ids.is_empty() && ids.len() <= MAX_RESOLVE => {
            ids.iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Selection::Ids)
        }
        _ => Err(bad()),
    }
}

async fn approve(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let selection = selection(&input)?;
    let r = guard::approve(
        &state.db,
        &op.actor,
        &id,
        selection,
        state.settings.deletion_grace,
    )
    .await?;
    Ok(HttpResponse::Ok().json(resolution_json(&r)))
}

async fn reject(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let selection = selection(&input)?;
    let r = guard::reject(&state.db, &op.actor, &id, selection).await?;
    Ok(HttpResponse::Ok().json(resolution_json(&r)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/organizations/{id}/held-actions", web::get().to(list))
        .route(
            "/organizations/{id}/deprovision-guard/approve",
            web::post().to(approve),
        )
        .route(
            "/organizations/{id}/deprovision-guard/reject",
            web::post().to(reject),
        );
}
