use ids::{OrganizationId, UserId};
use sea_orm::entity::prelude::*;

/// One outbox row, written in the same transaction as the change it reports.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: OrganizationId,
    pub sequence: i64,
    pub event_type: String,
    /// The user the event is about, for per-user delivery order.
    pub user_id: Option<UserId>,
    /// The whole webhook body, as it will be sent.
    pub payload: Json,
    pub created_at: DateTimeUtc,
    /// Turned into deliveries by a dispatcher.
    pub fanned_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
