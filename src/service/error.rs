//! The one error of the use cases. Each surface renders it once: the SCIM error body in
//! `routes::scim`, the admin envelope in `routes::admin`. Database errors are classified
//! here, once: the database unavailable (503), a unique value already taken (409), or
//! unexpected (500, its cause logged where it is rendered).

use sea_orm::DbErr;

use crate::db;
use crate::scim::error::ScimError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What the caller named does not exist, or not for this caller (another
    /// organization's ids name nothing).
    #[error("{0}")]
    NotFound(NotFound),
    /// The request conflicts with the current state: a unique value taken, or a state
    /// that does not allow it. `code` is the admin API's error code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request is not acceptable as it stands; the SCIM classification (status and
    /// `scimType`) is kept for the SCIM surface.
    #[error(transparent)]
    Invalid(#[from] ScimError),
    /// `If-Match` names a version the resource no longer has.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A SCIM deprovisioning the guard held for an operator: not applied, recorded
    /// (429 with `Retry-After`).
    #[error("{message}")]
    Held { message: String, retry_after: u64 },
    /// The database cannot serve the request now: retry later.
    #[error("{}", .why.as_str())]
    Unavailable {
        why: db::Unavailable,
        #[source]
        source: DbErr,
    },
    /// A bug or a broken invariant: answered with a generic 500, the cause logged.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Something a request named that does not exist: `what` as the surface calls it
/// (`"User"` in SCIM, `"organization"` in the admin API) and, when it is shown, the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub what: &'static str,
    pub id: Option<String>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{} {id} not found", self.what),
            None => write!(f, "{} not found", self.what),
        }
    }
}

/// The code of a unique value taken that the use case did not name.
const UNIQUE_TAKEN: &str = "CONFLICT";

impl Error {
    /// `what` not found; `id` as the client sent it, shown printable and bounded.
    pub fn not_found(what: &'static str, id: Option<&str>) -> Self {
        Error::NotFound(NotFound {
            what,
            id: id.map(shown_id),
        })
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A value the request carries is not acceptable (`invalidValue`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(ScimError::invalid_value(message))
    }

    /// Names a unique value taken more precisely than the classification can: a unique
    /// violation from the database becomes `conflict`, anything else stays as it is.
    pub fn on_conflict(self, conflict: impl FnOnce() -> Error) -> Self {
        match self {
            Error::Conflict {
                code: UNIQUE_TAKEN, ..
            } => conflict(),
            other => other,
        }
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        if let Some(why) = db::unavailable(&e) {
            return Error::Unavailable { why, source: e };
        }
        if crate::store::is_unique_violation(&e) {
            return Error::conflict(
                UNIQUE_TAKEN,
                "the request conflicts with an existing record",
            );
        }
        Error::Unexpected(anyhow::Error::new(e).context("database error"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An id as it may be echoed in a client-visible error: printable and at most 64
/// characters, whatever the client sent.
pub fn shown_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_thing_and_the_shown_id() {
        assert_eq!(
            Error::not_found("User", Some("a b\u{7}c")).to_string(),
            "User abc not found"
        );
        assert_eq!(
            Error::not_found("organization", None).to_string(),
            "organization not found"
        );
        let long = "x".repeat(100);
        assert_eq!(shown_id(&long).len(), 64);
    }

    #[test]
    fn a_unique_violation_can_be_named_by_the_use_case() {
        let generic = Error::conflict(UNIQUE_TAKEN, "taken");
        let named = generic.on_conflict(|| Error::conflict("IDENTITY_TAKEN", "taken"));
        assert!(matches!(
            named,
            Error::Conflict {
                code: "IDENTITY_TAKEN",
                ..
            }
        ));
        let other = Error::invalid("bad").on_conflict(|| Error::conflict("X", "x"));
        assert!(matches!(other, Error::Invalid(_)));
    }
}
