use ids::OrganizationId;
use sea_orm::entity::prelude::*;

/// Where events are sent, and how they are signed.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub url: String,
    /// `whsec_…`: read to sign, never logged (hence no `Debug` derive).
    pub secret: String,
    /// The secret before the last rotation, still signing until it expires.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Event types to send; empty means all.
    pub event_types: Json,
    /// Only this organization's events; `None` means every organization.
    pub organization_id: Option<OrganizationId>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Start of the current run of failures; `None` after a success.
    pub failing_since: Option<DateTimeUtc>,
    /// Deliveries this endpoint may have in flight at once; `None`: the server's default.
    pub max_in_flight: Option<i32>,
    /// Failed attempts in a row (the circuit breaker's count); 0 after a success.
    pub consecutive_failures: i32,
    /// While in the future the breaker is open: nothing is sent to the endpoint.
    pub breaker_open_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
