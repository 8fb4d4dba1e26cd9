//! Prometheus metrics: request counts and latencies per route (the matched pattern,
//! never a raw path, so no id reaches a label; methods outside the standard set count as
//! `OTHER`, so no label grows with what clients send), delivery attempts by outcome, and,
//! read from the database so every process reports the same: events by type, outbox
//! depth, deliveries by status, and the age of the oldest pending delivery. Those
//! database gauges are refreshed at most every `GAUGE_TTL`, however often Prometheus
//! scrapes.

use std::sync::atomic::AtomicU64;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::{ConnectionTrait, DbErr};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    pub event_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerLabels {
    pub breaker: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// How long database-derived gauges are reused before a scrape reads them again.
pub const GAUGE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The method as a label: one of the standard methods, else `OTHER`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily,
    pub delivery_attempts: Family<OutcomeLabels, Counter>,
    events: Family<TypeLabels, Gauge>,
    outbox_depth: Gauge,
    deliveries: Family<StatusLabels, Gauge>,
    oldest_pending_age: Gauge<f64, AtomicU64>,
    endpoints: Family<BreakerLabels, Gauge>,
    breaker: crate::domain::breaker::Policy,
    database_up: Gauge,
    held_actions: Gauge,
    guards_tripped: Gauge,
    connections: Family<StateLabels, Gauge>,
    /// When a connection counts as `quiet` (OFFBOARD_CONNECTION_QUIET_AFTER).
    quiet_after: std::time::Duration,
    /// Requests answered 503 because the database was unavailable.
    pub refused_unavailable: Counter,
    /// When the database gauges were last read; held while reading, so concurrent
    /// scrapes wait for one refresh instead of each running the queries.
    refreshed: tokio::sync::Mutex<Option<std::time::Instant>>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// With the quiet period connection states are reported under.
    pub fn with_quiet_after(mut self, quiet_after: std::time::Duration) -> Self {
        self.quiet_after = quiet_after;
        self
    }

    /// With the breaker policy the endpoints' states are reported under.
    pub fn with_breaker(policy: crate::domain::breaker::Policy) -> Self {
        Metrics {
            breaker: policy,
            ..Self::new()
        }
    }
}

impl Metrics {
    /// One registry per running application (tests run several in one process).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("offboard");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            http_duration.clone(),
        );
        let delivery_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts made by this process, by outcome",
            delivery_attempts.clone(),
        );
        let events = Family::<TypeLabels, Gauge>::default();
        registry.register(
            "events",
            "Events written to the outbox, by type (all processes)",
            events.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_depth",
            "Events not yet turned into deliveries",
            outbox_depth.clone(),
        );
        let deliveries = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by status (pending, succeeded, dead, cancelled)",
            deliveries.clone(),
        );
        let oldest_pending_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none)",
            oldest_pending_age.clone(),
        );
        let endpoints = Family::<BreakerLabels, Gauge>::default();
        registry.register(
            "webhook_endpoints",
            "Enabled webhook endpoints by circuit breaker state (closed, open, half_open)",
            endpoints.clone(),
        );
        let database_up = Gauge::default();
        database_up.set(1);
        registry.register(
            "database_up",
            "1 when the database answered the last probe (every second), else 0",
            database_up.clone(),
        );
        let held_actions = Gauge::default();
        registry.register(
            "deprovision_held_actions",
            "SCIM deprovisionings held by the deprovisioning guard for an operator (all organizations)",
            held_actions.clone(),
        );
        let guards_tripped = Gauge::default();
        registry.register(
            "deprovision_guards_tripped",
            "Organizations whose deprovisioning guard is tripped (holding deprovisionings)",
            guards_tripped.clone(),
        );
        let connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "scim_connections",
            "Organizations by SCIM connection state (never_connected, healthy, failing, quiet)",
            connections.clone(),
        );
        let refused_unavailable = Counter::default();
        registry.register(
            "requests_refused_database_unavailable",
            "Requests answered 503 because the database was unavailable",
            refused_unavailable.clone(),
        );
        let writer = &crate::db::SQLITE_WRITER_TIMES;
        registry.register(
            "sqlite_writer_wait_seconds",
            "How long SQLite write transactions waited for this process's one writer slot",
            writer.wait.clone(),
        );
        registry.register(
            "sqlite_writer_hold_seconds",
            "How long SQLite write transactions held this process's one writer slot (begin to commit)",
            writer.hold.clone(),
        );
        Metrics {
            database_up,
            held_actions,
            guards_tripped,
            connections,
            quiet_after: std::time::Duration::from_secs(7 * 24 * 3600),
            refused_unavailable,
            endpoints,
            breaker: crate::domain::breaker::Policy::default(),
            registry,
            http_requests,
            http_duration,
            delivery_attempts,
            events,
            outbox_depth,
            deliveries,
            oldest_pending_age,
            refreshed: tokio::sync::Mutex::new(None),
        }
    }

    pub fn set_database_up(&self, up: bool) {
        self.database_up.set(i64::from(up));
    }

    /// Renders everything in the text format, refreshing the database-derived gauges
    /// first when they are older than `GAUGE_TTL`. With the database down the last values
    /// are rendered (and `offboard_database_up` says so).
    pub async fn render(&self, db: &impl ConnectionTrait) -> Result<String, DbErr> {
        {
            let mut refreshed = self.refreshed.lock().await;
            if refreshed.is_none_or(|at| at.elapsed() >= GAUGE_TTL) {
                match self.refresh(db).await {
                    Ok(()) => *refreshed = Some(std::time::Instant::now()),
                    Err(e) => tracing::debug!(error = %e, "metrics: database gauges not refreshed"),
                }
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| DbErr::Custom(format!("encoding metrics: {e}")))?;
        Ok(out)
    }

    async fn refresh(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let q = |sql: &str| sea_orm::Statement::from_string(backend, sql.to_string());
        for row in db
            .query_all_raw(q(
                "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type",
            ))
            .await?
        {
            let t: String = row.try_get("", "event_type")?;
            let n: i64 = row.try_get("", "n")?;
            self.events
                .get_or_create(&TypeLabels { event_type: t })
                .set(n);
        }
        if let Some(row) = db
            .query_one_raw(q("SELECT COUNT(*) AS n FROM events WHERE NOT fanned_out"))
            .await?
        {
            self.outbox_depth.set(row.try_get("", "n")?);
        }
        for status in <entity::deliveries::DeliveryStatus as sea_orm::Iterable>::iter() {
            self.deliveries
                .get_or_create(&StatusLabels {
                    status: status.as_str().into(),
                })
                .set(0);
        }
        for row in db
            .query_all_raw(q(
                "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status",
            ))
            .await?
        {
            let s: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            self.deliveries
                .get_or_create(&StatusLabels { status: s })
                .set(n);
        }
        if let Some(row) = db
            .query_one_raw(q("SELECT COUNT(*) AS n FROM held_actions"))
            .await?
        {
            self.held_actions.set(row.try_get("", "n")?);
        }
        if let Some(row) = db
            .query_one_raw(q(
                "SELECT COUNT(*) AS n FROM deprovision_guards WHERE tripped_at IS NOT NULL",
            ))
            .await?
        {
            self.guards_tripped.set(row.try_get("", "n")?);
        }
        let now = Utc::now();
        let quiet = chrono::Duration::from_std(self.quiet_after).unwrap_or(chrono::Duration::MAX);
        let mut by_state: std::collections::HashMap<&str, i64> = Default::default();
        for c in crate::store::connections::summaries(
            db,
            crate::connection::hour_of(now - chrono::Duration::hours(1)),
        )
        .await?
        {
            let s = crate::domain::connection::state(c.last_used, c.last_hour, c.held, now, quiet);
            *by_state.entry(s.as_str()).or_default() += 1;
        }
        for s in crate::domain::connection::ConnectionState::ALL {
            self.connections
                .get_or_create(&StateLabels {
                    state: s.as_str().into(),
                })
                .set(by_state.get(s.as_str()).copied().unwrap_or(0));
        }
        let oldest = {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
            entity::deliveries::Entity::find()
                .filter(
                    entity::deliveries::Column::Status
                        .eq(entity::deliveries::DeliveryStatus::Pending),
                )
                .order_by_asc(entity::deliveries::Column::CreatedAt)
                .one(db)
                .await?
        };
        let age = oldest
            .map(|d| (Utc::now() - d.created_at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        self.oldest_pending_age.set(age);
        let eps = {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            entity::webhook_endpoints::Entity::find()
                .filter(entity::webhook_endpoints::Column::Enabled.eq(true))
                .filter(entity::webhook_endpoints::Column::DeletedAt.is_null())
                .all(db)
                .await?
        };
        let now = Utc::now();
        let mut counts =
            std::collections::HashMap::from([("closed", 0), ("open", 0), ("half_open", 0)]);
        for ep in &eps {
            let state = crate::domain::breaker::state(
                &self.breaker,
                ep.consecutive_failures,
                ep.breaker_open_until,
                now,
            );
            *counts.entry(state.as_str()).or_default() += 1;
        }
        for (state, n) in counts {
            self.endpoints
                .get_or_create(&BreakerLabels {
                    breaker: state.into(),
                })
                .set(n);
        }
        Ok(())
    }
}
