//! Database queries. Every function takes `&impl ConnectionTrait`, so it runs on the pool
//! or inside the caller's transaction; none of them opens a transaction of its own.

pub mod accounts;
pub mod audit;
pub mod deliveries;
pub mod domains;
pub mod endpoints;
pub mod groups;
pub mod memberships;
pub mod organizations;
pub mod outbox;
pub mod scim_query;
pub mod sessions;
pub mod tokens;

use sea_orm::{DbErr, SqlErr};

/// Whether a write failed on a unique index (a concurrent duplicate).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
