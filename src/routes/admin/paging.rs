//! How the admin API's lists read their query: `limit` (1 to 1,000, 100 by default) and
//! the query string parsed into the route's own type. The page they answer is
//! [`crate::views::Page`].

use actix_web::{HttpRequest, web};
use ids::OrganizationId;
use serde::Deserialize;

use super::AdminApiError;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

/// The query of a list that is paged and nothing else: `after` (the last id of the page
/// before) and `limit`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    pub after: Option<String>,
    pub limit: Option<u64>,
}

/// The page size asked for, within bounds.
pub(crate) fn limit(raw: Option<u64>) -> Result<u64, AdminApiError> {
    match raw.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(AdminApiError::validation(&format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// The query string as `T`; anything else answers 422.
pub(crate) fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, AdminApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| AdminApiError::validation(&format!("invalid query: {e}")))
}

/// A list's `organization_id` filter: `Some(None)` when there is none, `None` when the
/// text cannot be an organization's id (the filter matches nothing, as an unknown id's).
pub(crate) fn organization_filter(raw: Option<&str>) -> Option<Option<OrganizationId>> {
    match raw {
        None => Some(None),
        Some(raw) => OrganizationId::named(raw).map(Some),
    }
}
