use ids::UserId;
use sea_orm::entity::prelude::*;

/// A suspended account: sessions refused in every organization until the operator lifts
/// it or `until` passes. SCIM `active` is left as each IdP set it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suspensions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    /// The operator's words; erased with the account's personal data.
    pub reason: Option<String>,
    pub suspended_at: DateTimeUtc,
    /// `None`: until lifted.
    pub until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
