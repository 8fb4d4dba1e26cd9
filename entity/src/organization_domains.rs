use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// An email domain the operator verified for an organization: SCIM users whose userName
/// is an email in it share one account with every other organization that verified it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrganizationId,
    /// Lower case, IDNA ASCII form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
