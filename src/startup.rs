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

use crate::configuration::Settings;
use crate::routes;
pub use crate::state::{Admission, AppState};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener (never on the port the IdPs call).
    metrics_server: Option<(u16, Server)>,
    purge: tokio::task::JoinHandle<()>,
    probe: tokio::task::JoinHandle<()>,
    /// Checkpoints the SQLite WAL off the writer.
    checkpoint: tokio::task::JoinHandle<()>,
    dispatcher: Option<tokio::task::JoinHandle<()>>,
    stop_dispatcher: watch::Sender<bool>,
    jobs: Option<tokio::task::JoinHandle<()>>,
    /// Flushes connection health; a last flush when stopped.
    connections_flush: tokio::task::JoinHandle<()>,
    inspector_flush: tokio::task::JoinHandle<()>,
    /// Reloads the TLS pair on SIGHUP and when its files change.
    tls_reload: Option<tokio::task::JoinHandle<()>>,
    /// Held while serving: no restore replaces the SQLite file under this process.
    in_use: Option<crate::backup::InUse>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::db::preflight(&settings.database_url, crate::db::Opening::MayCreate)?;
        let in_use = crate::backup::InUse::claim(&settings.database_url)?;
        let db = crate::db::open(
            &settings.database_url,
            settings.db_max_connections,
            settings.db_acquire_timeout,
            crate::db::Opening::MayCreate,
        )
        .await?;
        crate::db::migrate(&db).await?;
        let mut app = Self::build_with(settings, db).await?;
        app.in_use = in_use;
        Ok(app)
    }

    pub async fn build_with(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.listen).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                ": another process (another offboard serve?) listens there; stop it, or set OFFBOARD_LISTEN to another address"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen on {} (OFFBOARD_LISTEN): {e}{hint}", settings.listen)
        })?;
        let port = listener.local_addr()?.port();
        // A pair that does not load refuses to start, naming the file.
        let tls = match &settings.tls {
            Some(files) => Some(crate::tls::Resolver::start(files.clone())?),
            None => None,
        };
        let admin_verifier = crate::auth::AdminVerifier::from_settings(&settings)?;
        if !admin_verifier.enabled() {
            tracing::warn!(
                "neither OFFBOARD_ADMIN_JWT_SECRET nor OFFBOARD_ADMIN_JWT_PUBLIC_KEYS is set: the admin API will refuse every request"
            );
        }
        tracing::info!(
            listen = %listener.local_addr()?,
            scheme = if tls.is_some() { "https" } else { "http" },
            public_url = %settings.public_base(),
            database = %crate::db::describe(&settings.database_url),
            "offboard listening"
        );
        let purge = tokio::spawn(purge_periodically(
            db.clone(),
            settings.purge_interval,
            crate::service::purge::Policy::from_settings(&settings),
        ));
        let checkpoint = tokio::spawn(crate::db::checkpoint_forever(
            db.clone(),
            crate::db::CHECKPOINT_EVERY,
        ));
        let wake = Arc::new(Notify::new());
        let metrics = Arc::new(
            Metrics::with_breaker(settings.webhook.breaker)
                .with_quiet_after(settings.connection_quiet_after),
        );
        let (stop_dispatcher, stopped) = watch::channel(false);
        let dispatcher = if settings.webhook.dispatch {
            let d = Dispatcher::new(
                db.clone(),
                settings.webhook.clone(),
                wake.clone(),
                metrics.clone(),
            )?;
            Some(tokio::spawn(d.run(stopped.clone())))
        } else {
            None
        };
        let jobs_wake = Arc::new(Notify::new());
        let jobs = settings.job_worker.then(|| {
            tokio::spawn(crate::service::jobs::run_forever(
                crate::service::jobs::Runner::new(
                    db.clone(),
                    settings.job_lease,
                    settings.deletion_grace,
                ),
                jobs_wake.clone(),
                Duration::from_secs(1),
                stopped.clone(),
            ))
        });
        let request_timeout = settings.limits.request_timeout;
        let admission = Admission::new(&settings.limits);
        let readiness = Arc::new(crate::readiness::Readiness::default());
        let probe = tokio::spawn(crate::readiness::probe_forever(
            db.clone(),
            readiness.clone(),
            metrics.clone(),
            Duration::from_secs(1),
        ));
        let connections = Arc::new(crate::connection::Recorder::default());
        let connections_flush = tokio::spawn(crate::connection::flush_forever(
            connections.clone(),
            db.clone(),
            settings.connection_flush_interval,
            stopped.clone(),
        ));
        let inspector = Arc::new(crate::inspector::Inspector::new(
            settings.inspector_keep,
            settings.inspector_max_age,
        ));
        let inspector_flush = tokio::spawn(crate::inspector::flush_forever(
            inspector.clone(),
            db.clone(),
            settings.connection_flush_interval,
            stopped.clone(),
        ));
        let state = web::Data::new(AppState {
            db,
            settings,
            wake,
            jobs_wake,
            metrics,
            admin_verifier,
            admission,
            readiness,
            connections,
            inspector,
        });
        let tls_reload = tls.clone().map(|resolver| {
            tokio::spawn(crate::tls::reload_forever(
                resolver,
                crate::tls::RELOAD_EVERY,
                stopped.clone(),
            ))
        });
        let metrics_tls = tls.clone().filter(|_| state.settings.metrics_tls);
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
                .disable_signals();
                let server = match &metrics_tls {
                    Some(resolver) => server.listen_rustls_0_23(
                        listener,
                        crate::tls::server_config(resolver.clone()),
                    )?,
                    None => server.listen(listener)?,
                }
                .run();
                Some((port, server))
            }
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(routes::scim::path::canonical_path_middleware))
                .wrap(from_fn(routes::wake_dispatcher_middleware))
                .wrap(from_fn(routes::admission_middleware))
                .wrap(from_fn(routes::metrics_middleware))
                .wrap(from_fn(routes::request_id_middleware))
                .service(routes::health::healthz)
                .service(routes::health::readyz)
                .configure(routes::scim::configure)
                .configure(routes::admin::configure)
                .configure(routes::feed::configure)
                .configure(routes::console::configure)
                .configure(routes::setup::configure)
        })
        // A client has this long to send a request's head; the body has the same deadline
        // where it is read (`routes::scim::read_bytes`).
        .client_request_timeout(request_timeout)
        .workers(http_workers());
        let server = match tls {
            Some(resolver) => {
                server.listen_rustls_0_23(listener, crate::tls::server_config(resolver))?
            }
            None => server.listen(listener)?,
        }
        .run();
        Ok(Application {
            port,
            server,
            metrics_server,
            purge,
            probe,
            checkpoint,
            dispatcher,
            stop_dispatcher,
            jobs,
            connections_flush,
            inspector_flush,
            tls_reload,
            in_use: None,
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
        self.probe.abort();
        self.checkpoint.abort();
        // Stops the dispatcher and the job worker: a job's current step finishes and its
        // lease is given back, so another process carries on at once.
        let _ = self.stop_dispatcher.send(true);
        if let Some(d) = self.dispatcher {
            let _ = d.await;
        }
        if let Some(jobs) = self.jobs {
            let _ = jobs.await;
        }
        let _ = self.connections_flush.await;
        let _ = self.inspector_flush.await;
        if let Some(t) = self.tls_reload {
            let _ = t.await;
        }
        drop(self.in_use);
        result
    }
}

/// The fewest HTTP workers (threads, each running its share of the connections).
///
/// On SQLite every write takes its turn at the process's one writer slot, and holds it
/// across several statements; between two of them the request continues on its worker.
/// With one worker per core (actix's default), that worker is often busy with other
/// requests, and the slot waits for it. Measured on 2 cores (16 connections, `bench scim`,
/// four alternating rounds), 8 workers against 2: the slot held 1.2–1.5 ms per PATCH
/// instead of 1.5–2.3, PATCH 611–779 req/s against 415–626, idle RSS 28 MiB against 25.
/// PostgreSQL and the lookups moved within the spread.
const MIN_HTTP_WORKERS: usize = 8;

/// One worker per core, and never fewer than [`MIN_HTTP_WORKERS`].
fn http_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.max(MIN_HTTP_WORKERS)
}

/// Runs the purge every `interval`. A failed run is logged and retried at the next tick;
/// several instances may run it at once, since every step selects only what is still due.
async fn purge_periodically(
    db: DatabaseConnection,
    interval: Duration,
    policy: crate::service::purge::Policy,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outage = crate::db::Outage::new("purge");
    loop {
        tick.tick().await;
        let run = crate::service::purge::run(&db, chrono::Utc::now(), &policy).await;
        match &run {
            Ok(_) => outage.succeeded(),
            Err(crate::service::Error::Unavailable { source, .. }) => {
                // Logged once per outage; the next tick (or a longer wait) tries again.
                let wait = outage.failed(source);
                tokio::time::sleep(wait.saturating_sub(interval)).await;
                continue;
            }
            Err(_) => {}
        }
        match run {
            Ok(r) if r != Default::default() => tracing::info!(
                accounts_erased = r.accounts_erased,
                records_erased = r.records_erased,
                memberships_expired = r.memberships_expired,
                events_pruned = r.events_pruned,
                "purge"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = format!("{e:#}"), "purge failed"),
        }
    }
}
