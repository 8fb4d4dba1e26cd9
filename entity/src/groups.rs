use ids::{GroupId, OrganizationId};
use sea_orm::entity::prelude::*;

/// A SCIM group of one organization. Its members are rows of `group_members`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: GroupId,
    pub organization_id: OrganizationId,
    pub display_name: String,
    /// `display_name` trimmed, NFC, lower case: what `displayName eq` matches.
    pub display_name_key: String,
    pub external_id: Option<String>,
    /// The SCIM record without `members`.
    pub scim: Json,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
