//! The rules. Pure decisions, no HTTP and no database: what a requested change means for
//! a membership and for the account behind it, and which events report it; plus the
//! policies delivery follows (`breaker`). Use cases in `service` carry the decisions out.

pub mod breaker;
pub mod connection;
pub mod content;
pub mod deletion;
pub mod doctor;
pub mod events;
pub mod guard;
pub mod identity;
pub mod membership;
pub mod organization;
pub mod removal;
pub mod roles;
pub mod scope;
pub mod setup;
pub mod status;
pub mod suspension;
pub mod text;
pub mod token;
pub mod version;

pub use content::{ContentDirectives, DirectiveError};
pub use deletion::{DepartmentId, purge_after, retention_cutoff};
pub use identity::{AccountLink, EmailDomain, EmailIdentity, account_link};
pub use membership::{
    Membership, MembershipStatus, StatusChange, UserUpdate, plan_update, status_change,
};
pub use version::IfMatch;
