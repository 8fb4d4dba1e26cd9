//! Jobs: batch deletion of users, and the progress of any job.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{limit, page, query};
use super::{AdminApiError, OptionalBody, deletion_body};
use crate::routes::extract::Operator;
use crate::scim::user::format_time;
use crate::service::jobs;
use crate::state::AppState;

/// The longest user id a batch may name (ids are `usr_` and a ULID; anything much longer
/// is not one).
const MAX_ID_LEN: usize = 100;

/// A job as the admin API and the CLI show it.
pub fn job_json(job: &entity::jobs::Model) -> Value {
    let errors = if job.errors.is_array() {
        job.errors.clone()
    } else {
        json!([])
    };
    json!({
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "errors": errors,
        "result": job.result,
        "created_at": format_time(job.created_at),
        "started_at": job.started_at.map(format_time),
        "finished_at": job.finished_at.map(format_time),
    })
}

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
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(job_json(&job)))
}

async fn get(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let job = jobs::get(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(job_json(&job)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobQuery {
    after: Option<String>,
    limit: Option<u64>,
}

async fn list(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    let q: JobQuery = query(&req)?;
    let n = limit(q.limit)?;
    let rows = jobs::list(&state.db, q.after.as_deref(), n).await?;
    let full = rows.len() as u64 == n;
    let last = rows.last().map(|j| j.id.clone());
    let data = rows.iter().map(job_json).collect();
    Ok(HttpResponse::Ok().json(page(data, last, full)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/batch-delete", web::post().to(batch_delete))
        .route("/jobs", web::get().to(list))
        .route("/jobs/{id}", web::get().to(get));
}
