//! Database queries. Every function takes `&impl ConnectionTrait`, so it runs on the pool
//! or inside the caller's transaction; none of them opens a transaction of its own.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod deliveries;
pub mod domains;
pub mod endpoints;
pub mod groups;
pub mod guard;
pub mod jobs;
pub mod memberships;
pub mod organizations;
pub mod outbox;
pub mod requests;
pub mod roles;
pub mod scim_query;
pub mod sessions;
pub mod setup_links;
pub mod suspensions;
pub mod tokens;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    SqlErr,
};

/// Narrows `q` to rows whose `column` equals `value`, when a value is given (the
/// optional filters of the operator's lists).
pub fn when_eq<E: EntityTrait, V: Into<sea_orm::Value>>(
    q: Select<E>,
    column: E::Column,
    value: Option<V>,
) -> Select<E> {
    match value {
        Some(v) => q.filter(column.eq(v)),
        None => q,
    }
}

/// One page of `q` in `id` order after the row `after` (keyset pagination: the API's
/// `next_after`), at most `limit`.
pub async fn after_page<E: EntityTrait>(
    db: &impl ConnectionTrait,
    q: Select<E>,
    id: E::Column,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr> {
    let q = match after {
        Some(a) => q.filter(id.gt(a)),
        None => q,
    };
    q.order_by_asc(id).limit(limit).all(db).await
}

/// Whether a write failed on a unique index (a concurrent duplicate).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
