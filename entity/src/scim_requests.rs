use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// One SCIM request as the inspector keeps it: personal values in `body` redacted;
/// `full_body` only inside an operator's full-body window, and only for a day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: OrganizationId,
    pub token_id: String,
    pub at: DateTimeUtc,
    pub method: String,
    /// The matched route pattern (`/scim/v2/Users/{id}`).
    pub route: String,
    /// The path as called (ids, never personal values).
    pub path: String,
    /// The query string with filter literals redacted.
    pub query: Option<String>,
    pub status: i32,
    pub latency_ms: i64,
    pub request_id: Option<String>,
    pub scim_type: Option<String>,
    pub error_detail: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub full_body: Option<String>,
    /// The client's address, as far as it can be believed (`OFFBOARD_TRUSTED_PROXIES`).
    pub client_address: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
