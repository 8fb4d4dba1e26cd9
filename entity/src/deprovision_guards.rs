use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// An organization's deprovisioning guard: its settings and its current window.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deprovision_guards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrganizationId,
    /// `hold` | `dry_run` | `off`
    pub mode: String,
    pub max_count: i32,
    pub max_percent: i32,
    pub window_secs: i64,
    /// When the current window began; `None` before the first deprovisioning counted.
    pub window_started_at: Option<DateTimeUtc>,
    /// SCIM deprovisionings counted in the current window.
    pub window_count: i64,
    /// Members active when the current window began.
    pub active_at_start: i64,
    /// A dry run reported this window already.
    pub reported: bool,
    /// Set while deprovisionings are held (the guard tripped and nobody resolved them).
    pub tripped_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
