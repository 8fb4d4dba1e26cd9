//! Jobs: batch deletion of users, and the progress of any job.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::paging::{PageQuery, limit, query};
use super::{AdminApiError, OptionalBody, deletion_body};
use crate::routes::extract::Operator;
use crate::service::jobs;
use crate::state::AppState;
use crate::views::{Job, Page};

/// The longest user id a batch may name (ids are `usr_` and a ULID; anything much longer
/// is not one).
const MAX_ID_LEN: usize = 100;

/// `user_ids`: a non-empty list of ids, each a string.
fn user_ids(input: &Value) -> Result<Vec<String>, AdminApiError> {
    let invalid = |why: &str| {
        AdminApiError::validation(&format!(
            "user_ids must be a list of 1 to {} user ids{why}.",
            jobs::MAX_BATCH
        ))
    };
    let Some(list) = input.get("user_ids").and_then(Value::as_array) else {
        return Err(invalid(""));
    };
    if list.is_empty() || list.len() > jobs::MAX_BATCH {
        return Err(invalid(&format!(" ({} given)", list.len())));
    }
    list.iter()
        .map(|v| match v.as_str() {
            Some(s) if !s.is_empty() && s.len() <= MAX_ID_LEN => Ok(s.to_string()),
            _ => Err(invalid(": each a non-empty string")),
        })
        .collect()
}

/// `POST /users/batch-delete`: 202 with the job that deletes them.
async fn batch_delete(
    op: Operator,
    state: web::Data<AppState>,
    OptionalBody(input): OptionalBody,
) -> Result<HttpResponse, AdminApiError> {
    let content = deletion_body(&input, &["user_ids"], json!({}))?;
    let ids = user_ids(&input)?;
    let job =
        jobs::create_users_delete(&state.db, &op.actor, ids, content, jobs::MAX_BATCH).await?;
    state.jobs_wake.notify_one();
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(Job::of(&job)))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let job = jobs::get(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(Job::of(&job)))
}

async fn list(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: PageQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = jobs::list(&state.db, q.after.as_deref(), n).await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|j| j.id.clone());
    let data = rows.iter().map(Job::of).collect();
    Ok(HttpResponse::Ok().json(Page::of(data, last, full)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/batch-delete", web::post().to(batch_delete))
        .route("/jobs", web::get().to(list))
        .route("/jobs/{id}", web::get().to(get));
}
