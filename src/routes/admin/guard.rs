//! The deprovisioning guard's admin surface: what it holds for an organization, and the
//! operator's approval or rejection.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::paging::{PageQuery, limit, query};
use super::{AdminApiError, OptionalBody};
use crate::routes::extract::Operator;
use crate::service::guard::{self, MAX_RESOLVE, Selection};
use crate::state::AppState;
use crate::views::{DeprovisionGuard, HeldAction, HeldPage, Page, Resolution};

async fn list(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let q: PageQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = guard::held(
        &state.db,
        &super::organization_id(&id)?,
        q.after.as_deref(),
        n,
    )
    .await?;
    let (settings, tripped_at) = guard::status(&state.db, &super::organization_id(&id)?).await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|(h, _)| h.id.clone());
    let data = rows
        .iter()
        .map(|(h, m)| HeldAction::of(h, m.as_ref()))
        .collect();
    let page = Page::of(data, last, full);
    Ok(HttpResponse::Ok().json(HeldPage {
        data: page.data,
        next_after: page.next_after,
        deprovision_guard: DeprovisionGuard::of(&settings, tripped_at),
    }))
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

/// Approves (`approve`) or rejects the selected held actions.
async fn resolve(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    input: serde_json::Value,
    approve: bool,
) -> Result<HttpResponse, AdminApiError> {
    let selection = selection(&input)?;
    let r = if approve {
        let grace = state.settings.deletion_grace;
        guard::approve(
            &state.db,
            &op.actor,
            &super::organization_id(&id)?,
            selection,
            grace,
        )
        .await?
    } else {
        guard::reject(
            &state.db,
            &op.actor,
            &super::organization_id(&id)?,
            selection,
        )
        .await?
    };
    Ok(HttpResponse::Ok().json(Resolution::of(&r)))
}

async fn approve(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    resolve(op, state, id, input, true).await
}

async fn reject(
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    resolve(op, state, id, input, false).await
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
