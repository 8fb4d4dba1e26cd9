use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// A setup link: the URL an organization's IT admin opens to connect their IdP. Only a
/// hash of its secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "setup_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: OrganizationId,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// The IdP the operator chose for the admin (`okta`, `entra`, …); `None`: theirs to pick.
    pub idp: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The SCIM token the page created, once it has (one per link).
    pub token_id: Option<String>,
    /// How many times the page was opened.
    pub opened: i64,
    pub last_opened_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
