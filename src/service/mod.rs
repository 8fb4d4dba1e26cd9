//! Use cases: each opens one write transaction, asks `domain` what a request means, and
//! writes the change with its outbox and audit rows through `store` before committing.
//! Nothing here knows HTTP.

pub mod admin;
pub mod deletion;
pub mod domains;
pub mod groups;
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

/// Checks `If-Match` against a resource's version (weak or strong, lists, `*`).
pub fn check_if_match(version: i64, if_match: Option<&str>) -> Result<()> {
    let Some(wanted) = if_match else {
        return Ok(());
    };
    let current = crate::scim::user::etag(version);
    let strong = current.trim_start_matches("W/");
    let ok = wanted
        .split(',')
        .map(str::trim)
        .any(|w| w == "*" || w == current || w.trim_start_matches("W/") == strong);
    if ok {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(
            "the resource has changed (If-Match does not match meta.version)",
        )
        .into())
    }
}

/// An id as it may be echoed in a client-visible error: printable and at most 64
/// characters, whatever the client sent.
pub fn shown_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}
