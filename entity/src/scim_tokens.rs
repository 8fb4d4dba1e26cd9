use ids::OrganizationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: OrganizationId,
    /// Hex SHA-256 of the bearer token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// What the token is for, when it was named (the IdP a setup link made it for).
    pub name: Option<String>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The last request made with the token (flushed from memory periodically).
    pub last_used_at: Option<DateTimeUtc>,
    pub last_method: Option<String>,
    /// The route pattern, never a raw path.
    pub last_route: Option<String>,
    pub last_status: Option<i32>,
    /// As the IdP announced itself (at most 200 characters).
    pub last_user_agent: Option<String>,
    /// After this the token is refused (`401`, saying it expired).
    pub expires_at: Option<DateTimeUtc>,
    /// The networks (CIDRs, as a JSON array) the token may be used from; none: anywhere.
    pub allowed_networks: Option<String>,
    /// The token a rotation replaced this one with.
    pub replaced_by: Option<String>,
    /// When `scim_token.expired` was written for this token's expiry.
    pub expiry_announced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
