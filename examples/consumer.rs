//! A webhook consumer an application team can copy: it verifies each request's Standard
//! Webhooks signature, de-duplicates on `webhook-id` inside its own database transaction,
//! applies each organization's events in `sequence` order (so every user's events apply
//! in order), and, when it sees a gap (an event whose predecessors have not arrived, say
//! after downtime), catches up from offboard's pull feed (`GET /v1/events`) with an API
//! key. It prints each event it applies.
//!
//! The endpoint comes first (its URL is where this consumer will listen; its secret is
//! what the consumer verifies with), then a key for the feed, then the consumer:
//!
//! ```sh
//! read -r EP SECRET <<< "$(offboard webhook add http://127.0.0.1:8090/webhook)"
//! KEY=$(offboard api-key create --name consumer --scope events:read)
//! CONSUMER_SECRET=$SECRET CONSUMER_API_KEY=$KEY cargo run --release --example consumer
//! ```
//!
//! Settings: `CONSUMER_SECRET` and `CONSUMER_API_KEY` (required), `OFFBOARD_URL`
//! (`http://127.0.0.1:8080`), `CONSUMER_LISTEN` (`127.0.0.1:8090`),
//! `CONSUMER_DATABASE_URL` (`sqlite://consumer.db?mode=rwc`). Its state:
//! `members(organization_id, user_id, status, user_name)`.

use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::Value;
use sha2::Sha256;

struct Config {
    /// offboard's base URL (for the feed).
    offboard_url: String,
    /// An API key with `events:read`.
    api_key: String,
    /// The endpoint's signing secret (`whsec_…`).
    secret: String,
    database_url: String,
    listen: String,
}

struct Consumer {
    db: DatabaseConnection,
    config: Config,
    http: reqwest::Client,
    /// One catch-up at a time.
    catching_up: tokio::sync::Mutex<()>,
}

/// Starts the consumer; returns the address it listens on and the server to await.
async fn start(config: Config) -> anyhow::Result<(std::net::SocketAddr, actix_web::dev::Server)> {
    let db = sea_orm::Database::connect(&config.database_url).await?;
    for sql in [
        "CREATE TABLE IF NOT EXISTS processed (webhook_id TEXT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS cursors (organization_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, event_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS waiting (organization_id TEXT NOT NULL, sequence INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (organization_id, sequence))",
        "CREATE TABLE IF NOT EXISTS members (organization_id TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL, user_name TEXT, PRIMARY KEY (organization_id, user_id))",
    ] {
        db.execute_unprepared(sql).await?;
    }
    let listener = std::net::TcpListener::bind(&config.listen)?;
    let addr = listener.local_addr()?;
    let consumer = Arc::new(Consumer {
        db,
        config,
        http: reqwest::Client::new(),
        catching_up: tokio::sync::Mutex::new(()),
    });
    let data = web::Data::from(consumer);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/webhook", web::post().to(receive))
    })
    .listen(listener)?
    .workers(1)
    .run();
    Ok((addr, server))
}

/// Verifies `webhook-signature` over `{id}.{timestamp}.{body}` (any of the space-separated
/// `v1,` signatures may match), and that the timestamp is within 5 minutes.
fn verify(secret: &str, req: &HttpRequest, body: &[u8]) -> Option<String> {
    let header = |n: &str| req.headers().get(n)?.to_str().ok().map(str::to_string);
    let id = header("webhook-id")?;
    let ts = header("webhook-timestamp")?;
    let sigs = header("webhook-signature")?;
    let now = chrono::Utc::now().timestamp();
    if (now - ts.parse::<i64>().ok()?).abs() > 300 {
        return None;
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()?;
    for sig in sigs.split(' ') {
        let Some(raw) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(raw) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        // Constant-time comparison.
        if mac.verify_slice(&expected).is_ok() {
            return Some(id);
        }
    }
    None
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    consumer: web::Data<Consumer>,
) -> HttpResponse {
    let Some(webhook_id) = verify(&consumer.config.secret, &req, &body) else {
        return HttpResponse::Unauthorized().finish();
    };
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    if event["type"] == "webhook.test" {
        return HttpResponse::NoContent().finish();
    }
    match consumer.accept(&webhook_id, &event).await {
        Ok(gap) => {
            if gap {
                let c = consumer.clone();
                let org = event["organization_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                tokio::spawn(async move {
                    if let Err(e) = c.catch_up(&org).await {
                        eprintln!("catch-up of {org} failed: {e:#}");
                    }
                });
            }
            HttpResponse::NoContent().finish()
        }
        // offboard retries: nothing was committed.
        Err(e) => {
            eprintln!("event {webhook_id} not applied: {e:#}");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

fn stmt(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

impl Consumer {
    /// In one transaction: records the webhook id (a redelivery stops here), keeps the
    /// event, and applies every event of the organization that is next in sequence.
    /// Returns whether events wait for predecessors (a gap).
    async fn accept(&self, webhook_id: &str, event: &Value) -> anyhow::Result<bool> {
        let tx = self.db.begin().await?;
        let first = tx
            .execute_raw(stmt(
                "INSERT INTO processed (webhook_id) VALUES (?) ON CONFLICT DO NOTHING",
                vec![webhook_id.into()],
            ))
            .await?
            .rows_affected();
        if first == 0 {
            tx.commit().await?;
            return Ok(false);
        }
        let mut applied = Vec::new();
        let gap = keep_and_apply(&tx, event, &mut applied).await?;
        tx.commit().await?;
        print_applied(&applied);
        Ok(gap)
    }

    /// Reads the feed after the last applied event until it is empty, applying in order.
    async fn catch_up(&self, org: &str) -> anyhow::Result<()> {
        let _one = self.catching_up.lock().await;
        loop {
            let after = self
                .db
                .query_one_raw(stmt(
                    "SELECT event_id FROM cursors WHERE organization_id = ?",
                    vec![org.into()],
                ))
                .await?
                .and_then(|r| r.try_get::<String>("", "event_id").ok());
            let mut url = format!(
                "{}/v1/events?organization_id={org}&limit=100",
                self.config.offboard_url
            );
            if let Some(a) = &after {
                url.push_str(&format!("&after={a}"));
            }
            let page: Value = self
                .http
                .get(url)
                .bearer_auth(&self.config.api_key)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let events = page["data"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return Ok(());
            }
            let tx = self.db.begin().await?;
            let mut applied = Vec::new();
            for e in &events {
                // The feed's events are the webhooks' events: the same id de-duplicates.
                let id = e["id"].as_str().unwrap_or_default();
                tx.execute_raw(stmt(
                    "INSERT INTO processed (webhook_id) VALUES (?) ON CONFLICT DO NOTHING",
                    vec![id.into()],
                ))
                .await?;
                keep_and_apply(&tx, e, &mut applied).await?;
            }
            tx.commit().await?;
            print_applied(&applied);
        }
    }
}

/// What was applied, once it is committed.
fn print_applied(applied: &[String]) {
    for line in applied {
        println!("applied {line}");
    }
}

/// Keeps the event (unless already applied) and applies what is next in sequence, adding
/// a line for each to `done`.
async fn keep_and_apply(
    tx: &impl ConnectionTrait,
    event: &Value,
    done: &mut Vec<String>,
) -> anyhow::Result<bool> {
    let org = event["organization_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let seq = event["sequence"].as_i64().unwrap_or(0);
    let applied = cursor(tx, &org).await?;
    if seq > applied {
        tx.execute_raw(stmt(
            "INSERT INTO waiting (organization_id, sequence, event) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            vec![org.clone().into(), seq.into(), event.to_string().into()],
        ))
        .await?;
    }
    let mut next = applied + 1;
    loop {
        let Some(row) = tx
            .query_one_raw(stmt(
                "SELECT event FROM waiting WHERE organization_id = ? AND sequence = ?",
                vec![org.clone().into(), next.into()],
            ))
            .await?
        else {
            break;
        };
        let e: Value = serde_json::from_str(&row.try_get::<String>("", "event")?)?;
        apply(tx, &e).await?;
        done.push(format!(
            "{} #{} {} user {}",
            e["type"].as_str().unwrap_or_default(),
            next,
            e["organization_id"].as_str().unwrap_or_default(),
            e["data"]["user"]["id"].as_str().unwrap_or("-"),
        ));
        tx.execute_raw(stmt(
            "DELETE FROM waiting WHERE organization_id = ? AND sequence = ?",
            vec![org.clone().into(), next.into()],
        ))
        .await?;
        tx.execute_raw(stmt(
            "INSERT INTO cursors (organization_id, sequence, event_id) VALUES (?, ?, ?) \
             ON CONFLICT (organization_id) DO UPDATE SET sequence = excluded.sequence, event_id = excluded.event_id",
            vec![org.clone().into(), next.into(), e["id"].as_str().unwrap_or_default().into()],
        ))
        .await?;
        next += 1;
    }
    let waiting = tx
        .query_one_raw(stmt(
            "SELECT COUNT(*) AS n FROM waiting WHERE organization_id = ?",
            vec![org.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n").unwrap_or(0))
        .unwrap_or(0);
    Ok(waiting > 0)
}

async fn cursor(tx: &impl ConnectionTrait, org: &str) -> anyhow::Result<i64> {
    Ok(tx
        .query_one_raw(stmt(
            "SELECT sequence FROM cursors WHERE organization_id = ?",
            vec![org.into()],
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "sequence").unwrap_or(0))
        .unwrap_or(0))
}

/// What the application does with each event: here, keep each member's status.
async fn apply(tx: &impl ConnectionTrait, e: &Value) -> anyhow::Result<()> {
    let org = e["organization_id"].as_str().unwrap_or_default();
    let user = e["data"]["user"]["id"].as_str().unwrap_or_default();
    let user_name = e["data"]["user"]["user_name"].as_str();
    let set = |status: &str| {
        stmt(
            "INSERT INTO members (organization_id, user_id, status, user_name) VALUES (?, ?, ?, ?) \
             ON CONFLICT (organization_id, user_id) DO UPDATE SET status = excluded.status, \
             user_name = COALESCE(excluded.user_name, members.user_name)",
            vec![
                org.into(),
                user.into(),
                status.into(),
                user_name.map(str::to_string).into(),
            ],
        )
    };
    match e["type"].as_str().unwrap_or_default() {
        "membership.created" | "membership.reactivated" => {
            tx.execute_raw(set("ACTIVE")).await?;
        }
        "membership.deactivated" => {
            tx.execute_raw(set("INACTIVE")).await?;
        }
        "membership.deleted" => {
            tx.execute_raw(stmt(
                "DELETE FROM members WHERE organization_id = ? AND user_id = ?",
                vec![org.into(), user.into()],
            ))
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // reqwest (the feed) uses rustls and leaves the choice of its crypto provider to the
    // program: without one it panics at the first request.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let required = |k: &str| std::env::var(k).map_err(|_| anyhow::anyhow!("{k} is not set"));
    let or = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    let config = Config {
        offboard_url: or("OFFBOARD_URL", "http://127.0.0.1:8080"),
        api_key: required("CONSUMER_API_KEY")?,
        secret: required("CONSUMER_SECRET")?,
        database_url: or("CONSUMER_DATABASE_URL", "sqlite://consumer.db?mode=rwc"),
        listen: or("CONSUMER_LISTEN", "127.0.0.1:8090"),
    };
    let (addr, server) = start(config).await?;
    println!("listening on http://{addr}/webhook");
    server.await?;
    Ok(())
}
