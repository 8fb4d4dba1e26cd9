//! Use cases. Each write runs in one unit of work (`work::Work`): it locks what it
//! changes, checks `If-Match`, asks `domain` what the request means, writes the change
//! through `store`, and commits it with the plan's events (the outbox) and its audit row.
//! Reads go through here too. Use cases return domain values and fail with one
//! [`Error`]; nothing here knows HTTP or renders JSON.

pub mod admin;
pub mod deletion;
pub mod domains;
pub mod error;
pub mod export;
pub mod groups;
pub mod guard;
pub mod jobs;
pub mod listing;
pub mod purge;
pub mod removal;
pub mod suspension;
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
