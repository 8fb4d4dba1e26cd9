//! Opaque prefixed identifiers (`usr_01J…`): a type prefix and a ULID, so ids sort by
//! creation time, which gives list responses a stable order.
//!
//! The ids that cross layers (an organization, an account, a membership, a group) are
//! types of their own, from the request's edge down to the entities' fields, so an
//! organization's id cannot be passed where a user's is expected. This crate sits below
//! both `entity` and the service: with the `sea-orm` feature the types are column types
//! (`DeriveValueType`), and code that uses them never names sea-orm itself.

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
pub const SETUP_LINK: &str = "sul";

/// Text that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    pub prefix: &'static str,
}

impl std::fmt::Display for InvalidId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not an id of the form {}_<ULID>", self.prefix)
    }
}

impl std::error::Error for InvalidId {}

/// A typed id per prefix. It reads as text only when asked (`as_str`, `Display`),
/// serializes as its text, and deserializes only from text [`named`](UserId::named)
/// accepts (a job's saved arguments).
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
        )]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        /// A command-line argument, as [`named`](Self::named) reads it.
        impl std::str::FromStr for $name {
            type Err = InvalidId;

            fn from_str(raw: &str) -> Result<Self, InvalidId> {
                $name::named(raw).ok_or(InvalidId { prefix: $prefix })
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(raw: String) -> Result<Self, InvalidId> {
                $name::named(&raw).ok_or(InvalidId { prefix: $prefix })
            }
        }

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name(new_id($prefix))
            }

            /// An id read back from storage (a column offboard wrote, a job's saved
            /// argument), which only holds ids offboard made.
            pub fn from_stored(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// An id as offboard makes them: this type's prefix and a ULID, else `None`.
            pub fn parse(raw: &str) -> Option<Self> {
                let ulid = raw.strip_prefix($prefix)?.strip_prefix('_')?;
                ulid::Ulid::from_string(ulid).ok()?;
                Some($name(raw.to_string()))
            }

            /// An id a client names (a path, a query, a body, a command's argument), to
            /// be looked up: this type's prefix, `_` and 1 to 64 letters, digits, `_` or
            /// `-`, else `None`. Wider than [`parse`](Self::parse) because a database
            /// may hold ids an earlier release or an import wrote in another shape;
            /// text outside it cannot name a stored id of this kind.
            pub fn named(raw: &str) -> Option<Self> {
                let rest = raw.strip_prefix($prefix)?.strip_prefix('_')?;
                let shaped = (1..=64).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                shaped.then(|| $name(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "string".into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": format!("^{}_", $prefix),
                })
            }
        }

        /// A string primary key is never generated by the database.
        #[cfg(feature = "sea-orm")]
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        /// Queries compare a column with a borrowed id (`Column::UserId.eq(&id)`).
        #[cfg(feature = "sea-orm")]
        impl From<&$name> for sea_orm::Value {
            fn from(id: &$name) -> sea_orm::Value {
                id.0.as_str().into()
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
        assert!(u.as_str().starts_with("usr_"));
        assert_eq!(OrganizationId::parse(u.as_str()), None);
        assert_eq!(UserId::parse("usr_"), None);
        assert_eq!(UserId::parse("usr_not-a-ulid-at-all-000000"), None);
        assert_eq!(UserId::parse(&format!("usr{}", &u.as_str()[4..])), None);
        assert_eq!(serde_json::to_value(&u).unwrap(), u.as_str());
        assert_eq!(u.to_string(), u.as_str());
        let back: UserId = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(back, u);
        assert!(serde_json::from_value::<UserId>(serde_json::json!("org_1")).is_err());
    }

    #[test]
    fn a_named_id_needs_its_prefix_and_a_bounded_plain_rest() {
        assert!(GroupId::named("grp_legacyb").is_some());
        assert!(GroupId::named(GroupId::new().as_str()).is_some());
        assert_eq!(GroupId::named("grp_"), None);
        assert_eq!(GroupId::named("usr_legacyb"), None);
        assert_eq!(GroupId::named("grp_a b"), None);
        assert_eq!(GroupId::named("grp_%27"), None);
        assert_eq!(GroupId::named(&format!("grp_{}", "a".repeat(65))), None);
        assert!("grp_x".parse::<GroupId>().is_ok());
        assert!("x".parse::<GroupId>().is_err());
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
