use ids::{MembershipId, OrganizationId, UserId};
use sea_orm::entity::prelude::*;

/// A SCIM deprovisioning the guard did not apply, waiting for an operator. Ids only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: OrganizationId,
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub action: HeldKind,
    /// `scim.patch` | `scim.put` | `scim.delete`
    pub source: String,
    /// The SCIM token (connection) that asked.
    pub token_id: String,
    pub request_id: Option<String>,
    pub requested_at: DateTimeUtc,
}

/// What the IdP asked that the guard holds.
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum HeldKind {
    #[sea_orm(string_value = "deactivate")]
    Deactivate,
    #[sea_orm(string_value = "delete")]
    Delete,
}

impl HeldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldKind::Deactivate => "deactivate",
            HeldKind::Delete => "delete",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
