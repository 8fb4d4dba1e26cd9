use ids::OrganizationId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: Option<OrganizationId>,
    pub actor_type: ActorKind,
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

/// Who acted: an IdP through a SCIM token, an operator (admin JWT), a retention or
/// suspension policy, the command line, a job's own steps, or offboard itself (an
/// upgrade's migration).
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
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    #[sea_orm(string_value = "scim_token")]
    ScimToken,
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "policy")]
    Policy,
    #[sea_orm(string_value = "cli")]
    Cli,
    #[sea_orm(string_value = "job")]
    Job,
    #[sea_orm(string_value = "system")]
    System,
    /// An organization's IT admin, through a setup link (its id is the link's).
    #[sea_orm(string_value = "setup_link")]
    SetupLink,
    /// An application, with its API key (its id is the key's).
    #[sea_orm(string_value = "api_key")]
    ApiKey,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
