//! The deprovisioning rules. Pure decisions, no HTTP and no database: what a requested
//! change means for a membership and for the account behind it, and which events report it.

pub mod deletion;
pub mod identity;
pub mod membership;
pub mod version;

pub use deletion::{DepartmentId, purge_after, retention_cutoff};
pub use identity::{AccountLink, EmailDomain, EmailIdentity, account_link};
pub use membership::{
    AccountFate, MembershipStatus, StatusChange, account_fate_after_removal, status_change,
};
pub use version::IfMatch;
