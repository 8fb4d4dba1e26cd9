//! Use cases. Each write runs in one unit of work (`work::Work`): it locks what it
//! changes, checks `If-Match`, asks `domain` what the request means, writes the change
//! through `store`, and commits it with the plan's events (the outbox) and its audit row.
//! Reads go through here too. Use cases return domain values and fail with one
//! [`Error`]; nothing here knows HTTP or renders JSON.

pub mod admin;
pub mod application;
pub mod connections;
pub mod deletion;
pub mod doctor;
pub mod domains;
pub mod error;
pub mod export;
pub mod feed;
pub mod groups;
pub mod guard;
pub mod inspector;
pub mod jobs;
pub mod listing;
pub mod purge;
pub mod removal;
pub mod roles;
pub mod scim_tokens;
pub mod setup_links;
pub mod status;
pub mod suspension;
pub mod users;
pub mod webhooks;
pub mod work;

pub use error::{Error, Result, shown_id};

use crate::domain::IfMatch;
use crate::store::audit::Actor;
use ids::OrganizationId;

/// The organization and the caller a request acts for.
#[derive(Debug, Clone)]
pub struct Scope {
    pub organization_id: OrganizationId,
    pub actor: Actor,
    /// How long a deleted account stays restorable (`OFFBOARD_DELETION_GRACE`).
    pub deletion_grace: std::time::Duration,
}

/// Checks `If-Match` against a resource's version.
pub fn check_if_match(version: i64, if_match: &IfMatch) -> Result<()> {
    if_match.check(version).map_err(|_| {
        Error::PreconditionFailed(
            "the resource has changed (If-Match does not match meta.version)".into(),
        )
    })
}

/// What a SCIM write is, as events (`source`) and held actions name it.
pub fn scim_source(action: &str) -> &'static str {
    use crate::store::audit::actions as act;
    match action {
        act::SCIM_USER_CREATE | act::SCIM_GROUP_CREATE => "scim.post",
        act::SCIM_USER_REPLACE | act::SCIM_GROUP_REPLACE => "scim.put",
        act::SCIM_USER_DELETE | act::SCIM_GROUP_DELETE => "scim.delete",
        _ => "scim.patch",
    }
}
