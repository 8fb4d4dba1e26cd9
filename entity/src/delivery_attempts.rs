use sea_orm::entity::prelude::*;

/// One HTTP try of a delivery; written once, never changed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub delivery_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub attempt: i32,
    /// The dispatcher (process) that made it.
    pub owner: String,
    pub started_at: DateTimeUtc,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The start of the response body, truncated.
    pub response_body: Option<String>,
    /// `success` | `failure` | `lease_lost`
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
