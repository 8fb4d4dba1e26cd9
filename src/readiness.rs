//! Whether the database can serve, probed in the background every second so `/readyz`
//! answers at once (a load balancer's short probe timeout sees an answer, not a hang) and
//! the metrics say `offboard_database_up`. State changes are logged once each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::DatabaseConnection;

use crate::metrics::Metrics;

/// How long one probe may take before the database counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pending migrations are checked every this many probes (and after an outage).
const MIGRATIONS_EVERY: u32 = 30;

#[derive(Debug)]
pub struct Readiness {
    database_up: AtomicBool,
    migrations_current: AtomicBool,
}

impl Default for Readiness {
    /// Up: `serve` has just connected and migrated.
    fn default() -> Self {
        Readiness {
            database_up: AtomicBool::new(true),
            migrations_current: AtomicBool::new(true),
        }
    }
}

impl Readiness {
    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    pub fn migrations_current(&self) -> bool {
        self.migrations_current.load(Ordering::Relaxed)
    }
}

/// Probes the database every `interval` until the task is dropped.
pub async fn probe_forever(
    db: DatabaseConnection,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u32 = 0;
    loop {
        tick.tick().await;
        let up = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, db.ping()).await,
            Ok(Ok(()))
        );
        let was_up = readiness.database_up.swap(up, Ordering::Relaxed);
        metrics.set_database_up(up);
        match (was_up, up) {
            (true, false) => {
                tracing::warn!("database unavailable: requests answer 503 until it is back")
            }
            (false, true) => tracing::info!("database available again"),
            _ => {}
        }
        if up && (n.is_multiple_of(MIGRATIONS_EVERY) || !was_up) {
            let probe = tokio::time::timeout(
                PROBE_TIMEOUT,
                migration::Migrator::get_pending_migrations(&db),
            )
            .await;
            if let Ok(Ok(pending)) = probe {
                readiness
                    .migrations_current
                    .store(pending.is_empty(), Ordering::Relaxed);
            }
        }
        n = n.wrapping_add(1);
    }
}
