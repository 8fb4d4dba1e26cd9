//! Listing a resource type (RFC 7644 §3.4.2): the filter and the sort run in SQL
//! (`store::scim_query`), so only the requested page is loaded, whatever the
//! organization's size. A filter SQL cannot say exactly is narrowed there and checked
//! here, a batch at a time, so memory stays flat.

use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, Select};

use super::Result;
use crate::scim::list::ListQuery;
use crate::store::scim_query::{self, Condition, Resource};

/// What a listing reads: the matching rows' count and a page of them, in the query's
/// order, under a compiled condition.
pub struct Selection {
    pub condition: Condition,
    pub order: Vec<(Expr, sea_orm::Order)>,
}

impl Selection {
    pub fn compile(query: &ListQuery, resource: Resource, backend: DbBackend) -> Result<Self> {
        let condition = match &query.filter {
            Some(f) => scim_query::compile(f, resource, backend)?,
            None => Condition::Exact(None),
        };
        let order = scim_query::order(query.sort_by.as_ref(), query.descending, resource, backend)?;
        Ok(Selection { condition, order })
    }
}

/// One page of `query` over `base` (the organization's rows of `resource`), each row made
/// an item by `wrap`; see [`page`].
#[allow(clippy::too_many_arguments)]
pub async fn list<E, T>(
    db: &DatabaseConnection,
    query: &ListQuery,
    resource: Resource,
    base: Select<E>,
    scan: u64,
    wrap: impl Fn(E::Model) -> T,
    prepare: impl AsyncFn(&mut [T]) -> Result<()>,
    as_document: &dyn Fn(&T) -> serde_json::Value,
) -> Result<(usize, Vec<T>)>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let selection = Selection::compile(query, resource, db.get_database_backend())?;
    let expr = selection.condition.expr();
    page(
        query,
        &selection,
        scan,
        async || Ok(scim_query::count_of(db, base.clone(), expr).await?),
        async |offset, limit| {
            let rows = scim_query::page_of(db, base.clone(), expr, &selection.order, offset, limit)
                .await?;
            Ok(rows.into_iter().map(&wrap).collect())
        },
        prepare,
        as_document,
    )
    .await
}

/// One page of `query`: `count` and `fetch(offset, limit)` read the rows SQL selects;
/// when SQL only narrows the filter, each batch of `scan` rows is completed by `prepare`
/// (what the filter needs that the row lacks) and checked against its document
/// (`as_document`, as the route renders it). Returns the total number of matches and
/// the page.
pub async fn page<T>(
    query: &ListQuery,
    selection: &Selection,
    scan: u64,
    count: impl AsyncFnOnce() -> Result<u64>,
    fetch: impl AsyncFn(u64, u64) -> Result<Vec<T>>,
    prepare: impl AsyncFn(&mut [T]) -> Result<()>,
    as_document: &dyn Fn(&T) -> serde_json::Value,
) -> Result<(usize, Vec<T>)> {
    let matches = |item: &T| {
        query
            .filter
            .as_ref()
            .is_none_or(|f| f.matches(&as_document(item)))
    };
    let offset = query.start_index.saturating_sub(1) as u64;
    let wanted = query.count as u64;
    let (total, page) = match (&selection.condition, &query.filter) {
        (Condition::Superset(_), Some(_)) => {
            let (mut matched, mut page, mut at) = (0u64, Vec::new(), 0u64);
            loop {
                let mut batch = fetch(at, scan).await?;
                if batch.is_empty() {
                    break;
                }
                at += batch.len() as u64;
                prepare(&mut batch).await?;
                for item in batch {
                    if matches(&item) {
                        if matched >= offset && (page.len() as u64) < wanted {
                            page.push(item);
                        }
                        matched += 1;
                    }
                }
            }
            (matched, page)
        }
        _ if wanted == 0 => (count().await?, Vec::new()),
        _ => {
            let page = fetch(offset, wanted).await?;
            let n = page.len() as u64;
            // A page that is not full and not past the end says how many match: the
            // count is read only when it cannot (an IdP's `userName eq` lookup, the most
            // frequent request, reads one statement instead of two).
            let total = if n < wanted && (n > 0 || offset == 0) {
                offset + n
            } else {
                count().await?
            };
            (total, page)
        }
    };
    Ok((usize::try_from(total).unwrap_or(usize::MAX), page))
}
