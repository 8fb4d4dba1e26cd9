use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// An application's API key: a hash of it, what it may do, and for which organization.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// Space-separated scopes (`events:read`).
    pub scopes: String,
    /// `None`: every organization.
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
