//! Use cases: each opens one write transaction, asks `domain` what a request means, and
//! writes the change with its outbox and audit rows through `store` before committing.
//! Nothing here knows HTTP.

pub mod admin;
pub mod deletion;
pub mod purge;
pub mod removal;
pub mod users;
pub mod webhooks;

use sea_orm::DbErr;

use crate::scim::error::ScimError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A client error, rendered as it is.
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("database error")]
    Db(#[from] DbErr),
}

pub type Result<T> = std::result::Result<T, ServiceError>;
