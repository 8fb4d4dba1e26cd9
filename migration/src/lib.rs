//! Schema migrations. `offboard serve` and `offboard migrate` apply them at start;
//! every migration must run on both SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_organizations;
mod m20261125_000002_create_users;
mod m20261125_000003_create_memberships;
mod m20261125_000004_create_sessions;
mod m20261125_000005_create_scim_tokens;
mod m20261125_000006_create_events;
mod m20261125_000007_create_audit_log;
mod m20261125_000008_add_deletion_columns;
mod m20261125_000009_create_webhooks;
mod m20261125_000010_create_groups;
mod m20261126_000011_link_accounts_by_domain;
mod m20261126_000012_add_limits_and_group_keys;
mod m20261126_000013_add_member_search_keys;
mod m20261126_000014_add_endpoint_fairness;
mod m20261126_000015_create_suspensions;
mod m20261126_000016_add_person_indexes;
mod m20261126_000017_create_jobs;
mod m20261126_000018_create_deprovision_guard;
mod m20261126_000019_create_api_keys;
mod m20261126_000020_add_connection_health;
mod m20261126_000021_create_scim_requests;
mod m20261204_000022_add_client_addresses;
mod m20261207_000023_create_setup_links;
mod m20261207_000024_add_token_lifecycle;
mod m20261207_000025_add_role_mapping;
mod m20261207_000026_order_fan_out_index;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_organizations::Migration),
            Box::new(m20261125_000002_create_users::Migration),
            Box::new(m20261125_000003_create_memberships::Migration),
            Box::new(m20261125_000004_create_sessions::Migration),
            Box::new(m20261125_000005_create_scim_tokens::Migration),
            Box::new(m20261125_000006_create_events::Migration),
            Box::new(m20261125_000007_create_audit_log::Migration),
            Box::new(m20261125_000008_add_deletion_columns::Migration),
            Box::new(m20261125_000009_create_webhooks::Migration),
            Box::new(m20261125_000010_create_groups::Migration),
            Box::new(m20261126_000011_link_accounts_by_domain::Migration),
            Box::new(m20261126_000012_add_limits_and_group_keys::Migration),
            Box::new(m20261126_000013_add_member_search_keys::Migration),
            Box::new(m20261126_000014_add_endpoint_fairness::Migration),
            Box::new(m20261126_000015_create_suspensions::Migration),
            Box::new(m20261126_000016_add_person_indexes::Migration),
            Box::new(m20261126_000017_create_jobs::Migration),
            Box::new(m20261126_000018_create_deprovision_guard::Migration),
            Box::new(m20261126_000019_create_api_keys::Migration),
            Box::new(m20261126_000020_add_connection_health::Migration),
            Box::new(m20261126_000021_create_scim_requests::Migration),
            Box::new(m20261204_000022_add_client_addresses::Migration),
            Box::new(m20261207_000023_create_setup_links::Migration),
            Box::new(m20261207_000024_add_token_lifecycle::Migration),
            Box::new(m20261207_000025_add_role_mapping::Migration),
            Box::new(m20261207_000026_order_fan_out_index::Migration),
        ]
    }
}
