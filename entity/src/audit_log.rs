use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: Option<String>,
    /// `scim_token` | `admin` | `policy` | `cli`
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: Json,
    pub request_id: Option<String>,
    pub outcome: String,
    pub created_at: DateTimeUtc,
    /// The client's address, as far as it can be believed (`OFFBOARD_TRUSTED_PROXIES`);
    /// none for the command line and the purge.
    pub client_address: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
