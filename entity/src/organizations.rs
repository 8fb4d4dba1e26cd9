use ids::OrganizationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OrganizationId,
    pub name: String,
    pub deactivated_retention_secs: Option<i64>,
    pub event_seq: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A deleted organization stays as a tombstone so events and audit rows resolve.
    pub deleted_at: Option<DateTimeUtc>,
    /// SCIM requests per second this organization's tokens may make (per process);
    /// `None`: the server's default.
    pub rate_limit_per_second: Option<i32>,
    /// Requests that may arrive at once above that rate; `None`: the server's default.
    pub rate_limit_burst: Option<i32>,
    /// Until when the request inspector keeps this organization's full request bodies
    /// (an operator's window, at most 24 hours, audited); `None`: redacted only.
    pub inspect_full_bodies_until: Option<DateTimeUtc>,
    /// Its groups mapped to the application's roles (`{"default_role", "rules"}`), as
    /// `domain::roles::RoleMapping` reads it; `None`: no mapping.
    pub role_mapping: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
