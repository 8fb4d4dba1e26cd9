use sea_orm::entity::prelude::*;

/// A SCIM deprovisioning the guard did not apply, waiting for an operator. Ids only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub membership_id: String,
    pub user_id: String,
    /// `deactivate` | `delete`
    pub action: String,
    /// `scim.patch` | `scim.put` | `scim.delete`
    pub source: String,
    /// The SCIM token (connection) that asked.
    pub token_id: String,
    pub request_id: Option<String>,
    pub requested_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
