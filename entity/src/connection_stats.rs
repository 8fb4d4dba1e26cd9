use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// A SCIM token's requests in one hour, by status class.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connection_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: DateTimeUtc,
    pub organization_id: OrganizationId,
    /// 2xx (and 1xx/3xx, which SCIM does not answer).
    pub succeeded: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    /// Refused because the token had expired (also counted in `client_errors`).
    pub refused_expired: i64,
    /// Refused because the client was outside the token's networks (also in `client_errors`).
    pub refused_network: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
