//! Opaque prefixed identifiers (`usr_01J…`): a type prefix and a ULID, so ids sort by
//! creation time, which gives list responses a stable order.

use std::sync::Mutex;

/// One monotonic generator per process: ids made within the same millisecond still sort
/// in the order they were made (the audit log and event listings page by id).
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

pub fn new_id(prefix: &str) -> String {
    let next = match GENERATOR.lock() {
        // Overflow means 2^80 ids in one millisecond; a fresh random ULID is then fine.
        Ok(mut g) => g.generate().unwrap_or_else(|_| ulid::Ulid::new()),
        Err(_) => ulid::Ulid::new(),
    };
    format!("{prefix}_{next}")
}

pub const ORGANIZATION: &str = "org";
pub const USER: &str = "usr";
pub const MEMBERSHIP: &str = "mem";
pub const SESSION: &str = "ses";
pub const SCIM_TOKEN: &str = "tok";
pub const EVENT: &str = "evt";
pub const AUDIT: &str = "aud";
pub const REQUEST: &str = "req";
/// A SCIM request as the inspector keeps it.
pub const INSPECTED_REQUEST: &str = "srq";
pub const ENDPOINT: &str = "ep";
pub const DELIVERY: &str = "dlv";
pub const ATTEMPT: &str = "att";
pub const DISPATCHER: &str = "dsp";
pub const LEASE: &str = "lse";
pub const GROUP: &str = "grp";
pub const JOB: &str = "job";
pub const HELD_ACTION: &str = "hld";
pub const API_KEY: &str = "key";

/// A typed id per prefix, so an organization's id cannot be passed where a user's is
/// expected. It reads as `&str` (`Deref`) for queries and serializes as its text.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name(new_id($prefix))
            }

            /// An id read back from the database, which only holds ids offboard made.
            pub fn from_stored(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// An id a client sent: this type's prefix and a ULID, else `None`.
            pub fn parse(raw: &str) -> Option<Self> {
                let ulid = raw.strip_prefix($prefix)?.strip_prefix('_')?;
                ulid::Ulid::from_string(ulid).ok()?;
                Some($name(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

typed_id!(
    /// `org_…`
    OrganizationId,
    ORGANIZATION
);
typed_id!(
    /// `usr_…`: an account.
    UserId,
    USER
);
typed_id!(
    /// `mem_…`: a user's membership in one organization.
    MembershipId,
    MEMBERSHIP
);
typed_id!(
    /// `grp_…`
    GroupId,
    GROUP
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_parse_only_their_own_prefix_and_a_ulid() {
        let u = UserId::new();
        assert_eq!(UserId::parse(u.as_str()), Some(u.clone()));
        assert!(u.starts_with("usr_"));
        assert_eq!(OrganizationId::parse(u.as_str()), None);
        assert_eq!(UserId::parse("usr_"), None);
        assert_eq!(UserId::parse("usr_not-a-ulid-at-all-000000"), None);
        assert_eq!(UserId::parse(&format!("usr{}", &u[4..])), None);
        assert_eq!(serde_json::to_value(&u).unwrap(), u.as_str());
        assert_eq!(u.to_string(), u.as_str());
    }

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id(USER);
        let b = new_id(USER);
        assert!(a.starts_with("usr_") && a.len() == 4 + 26);
        // The first ten characters of a ULID are its millisecond timestamp.
        assert!(
            a < b,
            "ids sort by creation time, even within a millisecond"
        );
    }
}
