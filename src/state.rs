//! What every request handler shares: the database, the settings, the metrics, the admin
//! JWT verifier, admission control and readiness. Built by `startup`, read by `routes`;
//! it depends on nothing above it.

use ids::OrganizationId;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::configuration::Settings;
use crate::metrics::Metrics;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    /// Wakes this process's dispatcher after a write, so events leave at once instead of
    /// at its next poll.
    pub wake: Arc<Notify>,
    /// Wakes this process's job worker when a job is made.
    pub jobs_wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub admin_verifier: crate::auth::AdminVerifier,
    pub admission: Admission,
    /// The database's state from the background probe (`/readyz`).
    pub readiness: Arc<crate::readiness::Readiness>,
    /// SCIM connection health, aggregated in memory and flushed periodically.
    pub connections: Arc<crate::connection::Recorder>,
    /// Recent SCIM requests per organization, recorded in memory and flushed periodically.
    pub inspector: Arc<crate::inspector::Inspector>,
}

/// Admission control state (see `admission`).
pub struct Admission {
    pub per_token: crate::admission::InFlight,
    pub per_address: crate::admission::InFlight,
    pub rates: crate::admission::RateLimiter,
    /// Each organization's quota, read from the database at most every `QUOTA_TTL`.
    quotas: std::sync::Mutex<
        std::collections::HashMap<OrganizationId, (crate::admission::Quota, std::time::Instant)>,
    >,
    default_quota: crate::admission::Quota,
}

const QUOTA_TTL: Duration = Duration::from_secs(30);

impl Admission {
    pub fn new(limits: &crate::configuration::Limits) -> Self {
        Admission {
            per_token: crate::admission::InFlight::new(limits.in_flight_per_token),
            per_address: crate::admission::InFlight::new(limits.in_flight_per_address),
            rates: crate::admission::RateLimiter::default(),
            quotas: Default::default(),
            default_quota: crate::admission::Quota {
                per_second: limits.rate_per_second,
                burst: limits.rate_burst,
            },
        }
    }

    /// The organization's quota: its own setting, else the server's default.
    pub async fn quota(
        &self,
        db: &DatabaseConnection,
        organization_id: &OrganizationId,
    ) -> Result<crate::admission::Quota, sea_orm::DbErr> {
        if let Ok(q) = self.quotas.lock()
            && let Some((quota, at)) = q.get(organization_id)
            && at.elapsed() < QUOTA_TTL
        {
            return Ok(*quota);
        }
        let org = crate::store::organizations::find(db, organization_id).await?;
        let quota = crate::admission::Quota {
            per_second: org
                .as_ref()
                .and_then(|o| o.rate_limit_per_second)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(self.default_quota.per_second),
            burst: org
                .as_ref()
                .and_then(|o| o.rate_limit_burst)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(self.default_quota.burst),
        };
        if let Ok(mut q) = self.quotas.lock() {
            q.insert(organization_id.clone(), (quota, std::time::Instant::now()));
        }
        Ok(quota)
    }

    /// Forgets a cached quota (the operator changed it in this process).
    pub fn forget_quota(&self, organization_id: &OrganizationId) {
        if let Ok(mut q) = self.quotas.lock() {
            q.remove(organization_id);
        }
    }
}
