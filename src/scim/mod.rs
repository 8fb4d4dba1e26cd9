//! The SCIM 2.0 protocol (RFC 7643/7644), with no knowledge of HTTP framework or database:
//! schemas, resource validation, filters, PATCH, list responses and discovery documents.

pub mod custom;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod group;
pub mod list;
pub mod patch;
pub mod path;
pub mod redact;
pub mod resource;
pub mod schema;
pub mod user;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
