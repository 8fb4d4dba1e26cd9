//! sea-orm entities, one module per table. Plain data: rules live in the main crate's
//! `domain`, queries in its `store`.

pub mod api_keys;
pub mod audit_log;
pub mod connection_stats;
pub mod deliveries;
pub mod delivery_attempts;
pub mod deprovision_guards;
pub mod events;
pub mod group_members;
pub mod groups;
pub mod held_actions;
pub mod jobs;
pub mod memberships;
pub mod organization_domains;
pub mod organizations;
pub mod scim_requests;
pub mod scim_tokens;
pub mod sessions;
pub mod setup_links;
pub mod suspensions;
pub mod users;
pub mod webhook_endpoints;
