use sea_orm::entity::prelude::*;

/// A long deletion run step by step (`users.delete`, `organization.delete`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    pub status: JobStatus,
    /// What to do: the user ids and content directives, or the organization.
    pub params: Json,
    /// The next step: an index into the user ids; for an organization, its phase.
    pub position: i64,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    /// `[{"user_id", "code"}]` of the steps that failed.
    pub errors: Json,
    /// What the job did so far (an organization's summary).
    pub result: Json,
    pub actor_type: super::audit_log::ActorKind,
    pub actor_id: String,
    pub request_id: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

/// `queued` until a process takes it, `running`, then `finished`.
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
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "finished")]
    Finished,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
