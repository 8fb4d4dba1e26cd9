//! The request inspector as operators read it: an organization's recent SCIM requests,
//! newest first, with what this process has recorded and not yet written flushed first
//! (a request answered a moment ago is already listed).

use chrono::{DateTime, Utc};
use entity::scim_requests;
use ids::OrganizationId;
use sea_orm::DatabaseConnection;

use super::{Error, Result};
use crate::inspector::Inspector;
use crate::store::organizations as orgs;
use crate::store::requests::{self as store, StatusFilter};

pub async fn requests(
    db: &DatabaseConnection,
    inspector: &Inspector,
    organization_id: &OrganizationId,
    status: Option<StatusFilter>,
    after: Option<&str>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<scim_requests::Model>> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    inspector.flush(db).await?;
    let max_age = chrono::Duration::from_std(inspector.max_age()).unwrap_or(chrono::Duration::MAX);
    let since = now
        .checked_sub_signed(max_age)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(store::page(db, organization_id, status, after, since, limit).await?)
}

/// What the setup page shows: the organization's newest requests (any answer), and its
/// newest refused ones (4xx and 5xx), since `since`, `limit` of each; what this process
/// has not written yet included, read in memory (a page anyone with the link may poll
/// never writes).
pub async fn recent_and_refused(
    db: &DatabaseConnection,
    inspector: &Inspector,
    organization_id: &OrganizationId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<(Vec<scim_requests::Model>, Vec<scim_requests::Model>)> {
    let unwritten = inspector.unwritten(organization_id, since);
    let written = store::page(db, organization_id, None, None, since, limit).await?;
    let written_refused = store::errors_since(db, organization_id, since, limit).await?;
    let refused = unwritten.iter().filter(|r| r.status >= 400).cloned();
    let refused = newest(refused.chain(written_refused), limit);
    let recent = newest(unwritten.into_iter().chain(written), limit);
    Ok((recent, refused))
}

/// The newest `limit` of `rows` by id (a flush in between may list a request twice: once).
fn newest(
    rows: impl Iterator<Item = scim_requests::Model>,
    limit: u64,
) -> Vec<scim_requests::Model> {
    let mut rows: Vec<_> = rows.collect();
    rows.sort_by(|a, b| b.id.cmp(&a.id));
    rows.dedup_by(|a, b| a.id == b.id);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    rows
}
