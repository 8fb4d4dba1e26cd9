//! Builds the application: connects, migrates, binds, and returns the bound port before
//! serving, so tests can bind port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};

use crate::metrics::Metrics;
use crate::webhook::dispatcher::Dispatcher;

use crate::configuration::{Settings, redact_url};
use crate::routes;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    /// Wakes this process's dispatcher after a write, so events leave at once instead of
    /// at its next poll.
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub admin_verifier: crate::auth::AdminVerifier,
}

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener (never on the port the IdPs call).
    metrics_server: Option<(u16, Server)>,
    purge: tokio::task::JoinHandle<()>,
    dispatcher: Option<tokio::task::JoinHandle<()>>,
    stop_dispatcher: watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = crate::db::connect(&settings.database_url, settings.db_max_connections).await?;
        crate::db::migrate(&db).await?;
        Self::build_with(settings, db).await
    }

    pub async fn build_with(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.listen)?;
        let port = listener.local_addr()?.port();
        let admin_verifier = crate::auth::AdminVerifier::from_settings(&settings)?;
        if !admin_verifier.enabled() {
            tracing::warn!(
                "neither OFFBOARD_ADMIN_JWT_SECRET nor OFFBOARD_ADMIN_JWT_PUBLIC_KEYS is set: the admin API will refuse every request"
            );
        }
        tracing::info!(listen = %listener.local_addr()?, database = %redact_url(&settings.database_url), "offboard listening");
        let purge = tokio::spawn(purge_periodically(
            db.clone(),
            settings.purge_interval,
            settings.deletion_grace,
        ));
        let wake = Arc::new(Notify::new());
        let metrics = Arc::new(Metrics::new());
        let (stop_dispatcher, stopped) = watch::channel(false);
        let dispatcher = if settings.webhook.dispatch {
            let d = Dispatcher::new(
                db.clone(),
                settings.webhook.clone(),
                wake.clone(),
                metrics.clone(),
            )?;
            Some(tokio::spawn(d.run(stopped)))
        } else {
            None
        };
        let state = web::Data::new(AppState {
            db,
            settings,
            wake,
            metrics,
            admin_verifier,
        });
        let metrics_server = match &state.settings.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).map_err(|e| {
                    anyhow::anyhow!(
                        "OFFBOARD_METRICS_LISTEN {addr}: {e} (set it to another address, or off)"
                    )
                })?;
                let port = listener.local_addr()?.port();
                tracing::info!(listen = %listener.local_addr()?, "metrics listening");
                let state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .service(routes::health::metrics)
                        .service(routes::health::healthz)
                })
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run();
                Some((port, server))
            }
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(routes::wake_dispatcher_middleware))
                .wrap(from_fn(routes::metrics_middleware))
                .wrap(from_fn(routes::request_id_middleware))
                .service(routes::health::healthz)
                .service(routes::health::readyz)
                .configure(routes::scim::configure)
                .configure(routes::admin::configure)
        })
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            metrics_server,
            purge,
            dispatcher,
            stop_dispatcher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(p, _)| *p)
    }

    /// Serves until SIGTERM/SIGINT (actix stops accepting and finishes open requests),
    /// then stops the dispatcher gracefully: no new claims, in-flight deliveries finish
    /// (bounded by OFFBOARD_SHUTDOWN_TIMEOUT), remaining leases released.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        // The purge is idempotent and batched: stopping it mid-run loses nothing.
        self.purge.abort();
        let _ = self.stop_dispatcher.send(true);
        if let Some(d) = self.dispatcher {
            let _ = d.await;
        }
        result
    }
}

/// Runs the purge every `interval`. A failed run is logged and retried at the next tick;
/// several instances may run it at once, since every step selects only what is still due.
async fn purge_periodically(db: DatabaseConnection, interval: Duration, grace: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::service::purge::run(&db, chrono::Utc::now(), grace).await {
            Ok(r) if r != Default::default() => tracing::info!(
                accounts_erased = r.accounts_erased,
                records_erased = r.records_erased,
                memberships_expired = r.memberships_expired,
                "purge"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
    }
}
