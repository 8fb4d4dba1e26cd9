use ids::UserId;
use sea_orm::entity::prelude::*;

/// An account. Holds only what links memberships: the normalized identity and, for the
/// admin view, the email and display name. Each organization's SCIM record lives on
/// its membership.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    /// Set only on accounts linked through a verified domain: the normalized email
    /// (`local@ascii-domain`) every organization that verified the domain links to.
    /// Organization-private accounts have none.
    pub identity_key: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub purge_after: Option<DateTimeUtc>,
    /// The identity of an account deleted within its grace period, kept for a restore.
    pub held_identity_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
