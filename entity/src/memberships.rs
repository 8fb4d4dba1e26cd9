use ids::{MembershipId, OrganizationId, UserId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MembershipId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    /// The id the organization's IdP knows this user by (`/Users/{id}`): never the
    /// account id, so accounts can be linked or split without any IdP noticing.
    pub scim_id: String,
    pub status: Status,
    pub roles: Json,
    pub external_id: Option<String>,
    pub user_name: Option<String>,
    pub user_name_key: Option<String>,
    /// The organization's SCIM record of the user, as stored (canonical attribute names,
    /// without `id`, `meta`, `active`, `groups` or `password`). `None` once erased.
    pub scim: Option<Json>,
    /// `name.givenName`, `name.familyName` and `displayName` of the record, folded (NFC,
    /// lower case), for filters; erased with the record.
    pub given_name_key: Option<String>,
    pub family_name_key: Option<String>,
    pub display_name_key: Option<String>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub status_changed_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
    /// When a removed membership's record is erased (grace period); `None` once done.
    pub purge_after: Option<DateTimeUtc>,
    /// Removed by its account's deletion, so a restore brings it back.
    pub removed_with_account: bool,
    /// The membership's roles as last computed from the organization's role mapping, its
    /// groups and the IdP's `roles` (`roles` above); `None` or `[]`: none.
    pub granted_roles: Option<Json>,
}

/// A membership's state as stored. `Removed` is not a state: a removed membership keeps
/// its last status and has `removed_at` set.
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Status {
    #[sea_orm(string_value = "ACTIVE")]
    #[serde(rename = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "INACTIVE")]
    #[serde(rename = "INACTIVE")]
    Inactive,
    #[sea_orm(string_value = "PENDING_INVITE")]
    #[serde(rename = "PENDING_INVITE")]
    PendingInvite,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
