//! Use cases: each opens one write transaction, asks `domain` what a request means, and
//! writes the change with its outbox and audit rows through `store` before committing.
//! Nothing here knows HTTP.

pub mod admin;
pub mod deletion;
pub mod domains;
pub mod error;
pub mod groups;
pub mod listing;
pub mod purge;
pub mod removal;
pub mod users;
pub mod webhooks;
pub mod work;

pub use error::{Error, Result, shown_id};

use crate::domain::IfMatch;

/// Checks `If-Match` against a resource's version.
pub fn check_if_match(version: i64, if_match: &IfMatch) -> Result<()> {
    if_match.check(version).map_err(|_| {
        Error::PreconditionFailed(
            "the resource has changed (If-Match does not match meta.version)".into(),
        )
    })
}
