//! `/v1`: what applications read with their API keys. `GET /v1/events` is the pull feed:
//! an organization's events in commit order after `after`, waiting up to `wait` (at most
//! 60 s) when there is nothing newer. Errors use the admin API's envelope.

use actix_web::{HttpRequest, HttpResponse, web};
use ids::OrganizationId;
use serde::Deserialize;

use crate::domain::scope::Scope;
use crate::routes::admin::AdminApiError;
use crate::routes::extract::Application;
use crate::service::feed::{self, FeedRequest, MAX_WAIT};
use crate::state::AppState;

pub const BASE_PATH: &str = "/v1";

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedQuery {
    organization_id: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
    /// e.g. `30s`; absent or `0s`: answer at once.
    wait: Option<String>,
}

async fn events(
    req: HttpRequest,
    app: Application,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    app.require(Scope::EventsRead)?;
    let q = web::Query::<FeedQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| AdminApiError::validation(&format!("invalid query: {e}")))?;
    let limit = match q.limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => n,
        _ => {
            return Err(AdminApiError::validation(&format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
    };
    let wait = match q.wait.as_deref() {
        None => std::time::Duration::ZERO,
        Some(raw) => humantime::parse_duration(raw.trim())
            .ok()
            .filter(|d| *d <= MAX_WAIT)
            .ok_or_else(|| {
                AdminApiError::validation("wait must be a duration of at most 60s (e.g. 30s)")
            })?,
    };
    // An id that cannot be an organization's names none.
    let organization_id = q
        .organization_id
        .as_deref()
        .map(|raw| {
            OrganizationId::named(raw)
                .ok_or_else(|| crate::service::Error::not_found("organization", None))
        })
        .transpose()?;
    let page = feed::read(
        &state.db,
        &app.key,
        FeedRequest {
            organization_id: organization_id.as_ref(),
            after: q.after.as_deref(),
            limit,
            wait,
        },
    )
    .await?;
    let next_after = page.events.last().map(|e| e.id.clone()).or(q.after.clone());
    Ok(HttpResponse::Ok().json(crate::views::FeedPage {
        organization_id: page.organization_id,
        data: page
            .events
            .into_iter()
            .map(|e| crate::views::Event(e.payload))
            .collect(),
        next_after,
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .route("/events", web::get().to(events))
            .configure(super::application::configure),
    );
}
