//! Builds the application: connects, migrates, binds, and returns the bound port before
//! serving, so tests can bind port 0.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;

use crate::configuration::{Settings, redact_url};
use crate::routes;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
}

pub struct Application {
    port: u16,
    server: Server,
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
        if settings.admin_jwt_secret.is_none() {
            tracing::warn!(
                "OFFBOARD_ADMIN_JWT_SECRET is not set: the admin API will refuse every request"
            );
        }
        tracing::info!(listen = %listener.local_addr()?, database = %redact_url(&settings.database_url), "offboard listening");
        let state = web::Data::new(AppState { db, settings });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(routes::request_id_middleware))
                .service(routes::health::healthz)
                .configure(routes::scim::configure)
                .configure(routes::admin::configure)
        })
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
