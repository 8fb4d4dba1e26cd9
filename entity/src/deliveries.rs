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
    /// The event's organization, by which deliveries take turns; empty for a test send
    /// to an endpoint of every organization, which belongs to none.
    pub organization_id: String,
    /// The user the event is about, `""` for organization events.
    pub order_key: String,
    pub sequence: i64,
    pub status: DeliveryStatus,
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

/// Where a delivery stands: `pending` until it succeeds, dies (retries exhausted, or its
/// endpoint disabled) or is cancelled (its endpoint deleted).
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "dead")]
    Dead,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl DeliveryStatus {
    /// Its name in the database, the API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    /// A status as the API takes it (`?status=dead`).
    pub fn parse(s: &str) -> Option<Self> {
        <Self as sea_orm::Iterable>::iter().find(|d| d.as_str() == s)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
