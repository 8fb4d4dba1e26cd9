use sea_orm::entity::prelude::*;

/// One event to one endpoint. A dispatcher claims it with a lease (owner, lease id,
/// expiry) and may complete it only while it still holds that lease.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub organization_id: String,
    /// The user the event is about, `""` for organization events.
    pub order_key: String,
    pub sequence: i64,
    /// `pending` | `succeeded` | `dead` | `cancelled`
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_id: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
