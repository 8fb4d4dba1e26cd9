//! Benchmarks (not timed tests): `cargo run --release --example bench -- <scenario>`.
//!
//! `org-delete --members 100000 [--db sqlite|postgres]` seeds an organization of that many
//! members straight into a fresh database (10 % of them also members of a second
//! organization, every member with one session), starts the real app, and times the
//! admin `DELETE /admin/v1/organizations/{id}` over HTTP.
//! PostgreSQL: `OFFBOARD_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! names a server where the bench may create a database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ids::{MembershipId, OrganizationId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use entity::{memberships, sessions, users};
use offboard::configuration::Settings;
use offboard::startup::Application;
use offboard::store::audit::Actor;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::json;

/// The admin JWT secret of the servers the benchmark starts (32 bytes or more).
const BENCH_SECRET: &str = "bench-secret-bench-secret-bench-secret";

/// The deprovisioning guard on, counting every deprovisioning as it does in production,
/// but with thresholds a benchmark deprovisioning its whole organization never crosses
/// (above 100 % of the active members cannot happen).
fn bench_guard() -> serde_json::Value {
    json!({"max_count": 1_000_000, "max_percent": 100})
}

/// [`bench_guard`] as settings.
fn bench_guard_settings() -> offboard::domain::guard::GuardSettings {
    offboard::domain::guard::GuardSettings::default()
        .with_changes(&bench_guard())
        .unwrap()
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

mod floor;
mod reads;
mod recording;
mod roles;
mod tenants;

#[derive(Clone, Copy, ValueEnum, Debug, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Scenario {
    /// The SCIM load scenarios (PATCH deprovision, userName lookups, group PATCH of one
    /// member, DELETE with cascade) against offboard (started here as a child
    /// `offboard serve`; build it first with `cargo build --release`) or, with --target
    /// and --token, against any SCIM server.
    Scim {
        /// A SCIM base URL to measure instead of starting offboard (standard scenarios).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        token: Option<String>,
        /// The peer server's pid, to report its memory.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// How long each timed scenario runs.
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Users created before the scenarios.
        #[arg(long, default_value_t = 2000)]
        users: usize,
        /// Members of the large group for the group PATCH scenario (0 skips it).
        #[arg(long, default_value_t = 0)]
        group_members: usize,
        /// Also deliver every event to a local receiver that verifies each signature, and
        /// report the time from each PATCH sent to its verified webhook (offboard only).
        #[arg(long)]
        webhook: bool,
    },
    /// Webhook throughput (deliveries per second from a backlog) and DELETE-to-webhook
    /// latency, to a local receiver that verifies every signature.
    Webhooks {
        /// Users created for the backlog (2 events each) and deleted for the latency.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Concurrent requests while building the backlog.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// DELETEs per second in the latency run (a burst an IdP might send; above the
        /// delivery throughput the figure measures queueing instead).
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// List reads at organization scale (filter `co`, sortBy, groups), growing one
    /// organization through `--sizes`, with the server's memory after each size.
    Reads {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, default_value = "10s")]
        duration: String,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// The heaviest PATCH the caps allow, in process and over HTTP beside another
    /// organization's light PATCHes.
    WorstPatch {
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// `/metrics` scrape time with many events in the outbox.
    Metrics {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// Deletions as jobs: a batch of `--users` users (one job, run by `serve`'s job
    /// worker), then an organization of `--members` members with `?async=true`, each
    /// timed to the end with its progress sampled on the way.
    Jobs {
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// Many organizations at once against one (PATCH, a token each), and a noisy
    /// neighbour: one organization flooding while another sends 25 PATCH a second.
    Tenants {
        #[arg(long, default_value_t = 16)]
        orgs: usize,
        /// Users per organization.
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value = "10s")]
        duration: String,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// Roles from groups: one member added to and removed from a group of `--members`,
    /// without and with a role rule naming the group, and a mapping change over every
    /// member as a job.
    Roles {
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        #[arg(long, default_value_t = 1)]
        connections: usize,
        #[arg(long, default_value = "10s")]
        duration: String,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// The floor: offboard's PATCH and DELETE statements in a loop directly against
    /// the database (no HTTP, no ORM), as transactions per second: on SQLite one writer,
    /// alone, grouped and through a synchronous driver; on PostgreSQL the PATCH, 16 at once.
    Floor {
        #[arg(long, default_value_t = 2000)]
        users: usize,
        #[arg(long, default_value = "10s")]
        duration: String,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// What recording each SCIM request for connection health and the request inspector
    /// costs: per request, on `--threads` threads at once, and per flush.
    Recording {
        #[arg(long, default_value_t = 16)]
        threads: usize,
        #[arg(long, default_value_t = 600)]
        per_thread: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
    /// Admin deletion of an organization with many members.
    OrgDelete {
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
}

pub(crate) struct Target {
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// A PostgreSQL database made for this run: the server's URL to drop it from, and its
    /// name. Dropped with the target unless `OFFBOARD_BENCH_KEEP` is set.
    made: Option<(String, String)>,
}

impl Drop for Target {
    fn drop(&mut self) {
        let Some((base, name)) = self.made.take() else {
            return;
        };
        // Drop runs inside the bench's runtime: the statement gets a thread and runtime
        // of its own.
        let shown = name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(&base).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the bench's database {shown} could not be dropped; drop it by hand");
        }
    }
}

async fn fresh_database(db: Db) -> Target {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
            if std::env::var("OFFBOARD_BENCH_KEEP").is_ok() {
                // Keep the database for inspection after the run.
                eprintln!("database kept at {}", dir.keep().display());
                return Target {
                    url,
                    _dir: None,
                    made: None,
                };
            }
            Target {
                url,
                _dir: Some(dir),
                made: None,
            }
        }
        Db::Postgres => {
            let base = std::env::var("OFFBOARD_BENCH_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let name = format!(
                "offboard_bench_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            let admin = sea_orm::Database::connect(&base).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            let url = format!("{prefix}/{name}");
            if std::env::var("OFFBOARD_BENCH_KEEP").is_ok() {
                eprintln!("database kept: {name}");
                return Target {
                    url,
                    _dir: None,
                    made: None,
                };
            }
            Target {
                url,
                _dir: None,
                made: Some((base, name)),
            }
        }
    }
}

fn settings(url: &str) -> Settings {
    let url = url.to_string();
    Settings::from_lookup(move |k| match k {
        "OFFBOARD_DATABASE_URL" => Some(url.clone()),
        "OFFBOARD_LISTEN" => Some("127.0.0.1:0".into()),
        "OFFBOARD_ADMIN_JWT_SECRET" => Some(BENCH_SECRET.into()),
        // The bench measures deletion, not the purge task.
        "OFFBOARD_PURGE_INTERVAL" => Some("24h".into()),
        "OFFBOARD_METRICS_LISTEN" => Some("off".into()),
        // One organization sends the whole load; the per-organization limits would cap it.
        "OFFBOARD_RATE_LIMIT_PER_SECOND" | "OFFBOARD_RATE_LIMIT_BURST" => Some("100000".into()),
        "OFFBOARD_MAX_IN_FLIGHT_PER_TOKEN" => Some("1024".into()),
        _ => None,
    })
    .unwrap()
}

/// Inserts `n` members into `org` (and every tenth also into `other`) in bulk.
async fn seed(db: &DatabaseConnection, org: &OrganizationId, other: &OrganizationId, n: usize) {
    seed_tagged(db, org, other, n, "bench").await
}

/// [`seed`] with emails at `{tag}.example`, so two seeded organizations hold different
/// people.
async fn seed_tagged(
    db: &DatabaseConnection,
    org: &OrganizationId,
    other: &OrganizationId,
    n: usize,
    tag: &str,
) {
    let now = Utc::now();
    let txn = db.begin().await.unwrap();
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let mut us = Vec::new();
        let mut ms = Vec::new();
        let mut ss = Vec::new();
        for i in start..end {
            let uid = UserId::new();
            let name = format!("user{i}@{tag}.example");
            us.push(users::ActiveModel {
                id: Set(uid.clone()),
                identity_key: Set(Some(name.clone())),
                email: Set(Some(name.clone())),
                display_name: Set(Some(format!("User {i}"))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                purge_after: Set(None),
                held_identity_key: Set(None),
            });
            let orgs: &[&OrganizationId] = if i % 10 == 0 { &[org, other] } else { &[org] };
            for o in orgs {
                let mid = MembershipId::new();
                ms.push(memberships::ActiveModel {
                    scim_id: Set(mid.to_string()),
                    id: Set(mid),
                    organization_id: Set((*o).clone()),
                    user_id: Set(uid.clone()),
                    status: Set(entity::memberships::Status::Active),
                    roles: Set(json!([])),
                    external_id: Set(Some(format!("ext-{i}"))),
                    user_name: Set(Some(name.clone())),
                    user_name_key: Set(Some(name.clone())),
                    scim: Set(Some(json!({"userName": name, "name": {"givenName": "User", "familyName": i.to_string()}}))),
                    given_name_key: Set(Some("user".into())),
                    family_name_key: Set(Some(i.to_string())),
                    display_name_key: Set(None),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    status_changed_at: Set(now),
                    removed_at: Set(None),
                    purge_after: Set(None),
                    removed_with_account: Set(false),
                    granted_roles: Set(None),
                });
            }
            ss.push(sessions::ActiveModel {
                id: Set(ids::new_id(ids::SESSION)),
                organization_id: Set(org.clone()),
                user_id: Set(uid),
                created_at: Set(now),
                expires_at: Set(now + chrono::Duration::days(1)),
                revoked_at: Set(None),
                revoked_reason: Set(None),
            });
        }
        users::Entity::insert_many(us)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        memberships::Entity::insert_many(ms)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        sessions::Entity::insert_many(ss)
            .exec_without_returning(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
}

async fn org_delete(members: usize, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let settings = settings(&target.url);
    let app = Application::build(settings.clone()).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let db = offboard::db::connect(&target.url, 2).await.unwrap();
    let actor = Actor {
        kind: offboard::store::audit::ActorKind::Cli,
        id: "bench".into(),
        request_id: None,
        client_address: None,
    };
    let name = |n| offboard::domain::organization::OrganizationName::parse(n).unwrap();
    let org = offboard::service::admin::create_organization(
        &db,
        &actor,
        &name("Bench"),
        None,
        Default::default(),
    )
    .await
    .unwrap();
    let other = offboard::service::admin::create_organization(
        &db,
        &actor,
        &name("Other"),
        None,
        Default::default(),
    )
    .await
    .unwrap();
    let t = Instant::now();
    seed(&db, &org.id, &other.id, members).await;
    if matches!(db_kind, Db::Postgres) {
        // A production server's autovacuum analyzes a table after a bulk load; a test
        // server may run without it, and the planner then guesses from empty statistics.
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    eprintln!("seeded {members} members in {:.1?}", t.elapsed());

    let token = admin_jwt();
    offboard::install_crypto_provider();
    let client = reqwest::Client::new();
    let t = Instant::now();
    let res = client
        .delete(format!(
            "http://127.0.0.1:{port}/admin/v1/organizations/{}",
            org.id
        ))
        .bearer_auth(&token)
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    let elapsed = t.elapsed();
    assert_eq!(
        res.status().as_u16(),
        204,
        "{}",
        res.text().await.unwrap_or_default()
    );
    // The dispatcher then fans the deletion's events out (no endpoint: each batch is only
    // marked fanned out); timed from the DELETE's answer until none waits.
    let t = Instant::now();
    while offboard::store::deliveries::has_unfanned(&db)
        .await
        .unwrap()
    {
        if t.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fanned = t.elapsed();
    let events = offboard::store::outbox::list_for_organization(&db, &org.id)
        .await
        .unwrap()
        .len();
    println!(
        "org-delete db={db_kind:?} members={members} time={:.2}s events={events} fanned_out_in={:.2}s",
        elapsed.as_secs_f64(),
        fanned.as_secs_f64()
    );
}

/// Follows a job to its end, printing its progress about every second; the time taken
/// and how many progress readings came in between.
async fn follow(db: &DatabaseConnection, id: &str) -> (f64, usize) {
    let t = Instant::now();
    let mut readings = 0;
    let mut last_print = Instant::now();
    loop {
        let job = offboard::service::jobs::get(db, id).await.unwrap();
        readings += 1;
        if job.status == entity::jobs::JobStatus::Finished {
            assert_eq!(job.failed, 0, "{:?}", job.errors);
            return (t.elapsed().as_secs_f64(), readings);
        }
        if last_print.elapsed() >= std::time::Duration::from_secs(1) {
            eprintln!("  {id}: {}/{}", job.done, job.total);
            last_print = Instant::now();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The app started in this process on a fresh database: the database (kept while the
/// target lives), the app's port, a connection of the bench's own, and the actor the
/// bench acts as.
pub(crate) async fn in_process(db_kind: Db) -> (Target, u16, DatabaseConnection, Actor) {
    let target = fresh_database(db_kind).await;
    let app = Application::build(settings(&target.url)).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let db = offboard::db::connect(&target.url, 2).await.unwrap();
    let actor = Actor {
        kind: offboard::store::audit::ActorKind::Cli,
        id: "bench".into(),
        request_id: None,
        client_address: None,
    };
    (target, port, db, actor)
}

/// An organization made as the operator makes one.
pub(crate) async fn create_org(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &str,
) -> entity::organizations::Model {
    let name = offboard::domain::organization::OrganizationName::parse(name).unwrap();
    offboard::service::admin::create_organization(db, actor, &name, None, Default::default())
        .await
        .unwrap()
}

async fn jobs(users: usize, members: usize, db_kind: Db) {
    let (_target, port, db, actor) = in_process(db_kind).await;
    let create = |n: &'static str| create_org(&db, &actor, n);
    let (org, other) = (create("Batch").await, create("Other").await);
    seed(&db, &org.id, &other.id, users).await;
    let (big, other2) = (create("Big").await, create("Other2").await);
    seed_tagged(&db, &big.id, &other2.id, members, "big").await;
    if matches!(db_kind, Db::Postgres) {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    eprintln!("seeded {users} + {members} members");

    let ids: Vec<String> = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(&org.id))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id.into())
        .collect();
    let job = offboard::service::jobs::create_users_delete(
        &db,
        &actor,
        ids,
        None,
        offboard::service::jobs::MAX_FILE_BATCH,
    )
    .await
    .unwrap();
    let (secs, readings) = follow(&db, &job.id).await;
    println!(
        "jobs batch-delete db={db_kind:?} users={users} time={secs:.2}s rate={:.0}/s progress_readings={readings}",
        users as f64 / secs
    );

    let token = admin_jwt();
    offboard::install_crypto_provider();
    let res = reqwest::Client::new()
        .delete(format!(
            "http://127.0.0.1:{port}/admin/v1/organizations/{}?async=true",
            big.id
        ))
        .bearer_auth(&token)
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    let job: serde_json::Value = res.json().await.unwrap();
    let (secs, readings) = follow(&db, job["id"].as_str().unwrap()).await;
    println!(
        "jobs org-delete db={db_kind:?} members={members} time={secs:.2}s progress_readings={readings}"
    );
}

/// What the bench's receiver saw: when each event arrived, and how many failed checks.
#[derive(Default)]
struct Seen {
    arrivals: HashMap<String, (Instant, serde_json::Value)>,
    bad_signatures: usize,
}

/// The receiver's secret (set once the endpoint exists) and what it saw.
type ReceiverState = (Arc<Mutex<String>>, Arc<Mutex<Seen>>);

async fn receiver(secret: Arc<Mutex<String>>, seen: Arc<Mutex<Seen>>) -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    async fn handle(
        req: HttpRequest,
        body: web::Bytes,
        state: web::Data<ReceiverState>,
    ) -> HttpResponse {
        let h = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (id, ts, sig) = (
            h("webhook-id"),
            h("webhook-timestamp"),
            h("webhook-signature"),
        );
        let secret = state.0.lock().unwrap().clone();
        let ok = ts.parse::<i64>().is_ok_and(|t| {
            offboard::webhook::signer::sign(&secret, &id, t, &body)
                .is_ok_and(|expected| sig.split(' ').any(|s| s == expected))
        });
        let mut seen = state.1.lock().unwrap();
        if !ok {
            seen.bad_signatures += 1;
            return HttpResponse::Unauthorized().finish();
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        seen.arrivals.entry(id).or_insert((Instant::now(), v));
        HttpResponse::NoContent().finish()
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = web::Data::new((secret, seen));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(handle))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/hooks")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn webhooks(users: usize, connections: usize, rate: u32, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let url = target.url.clone();
    let mut s = settings(&url);
    s.webhook.allow_private = true;
    // The backlog is built with no dispatcher, then one is started and timed.
    s.webhook.dispatch = false;
    let app = Application::build(s.clone()).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    offboard::install_crypto_provider();
    let client = reqwest::Client::new();
    let secret = Arc::new(Mutex::new(String::new()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let hook_url = receiver(secret.clone(), seen.clone()).await;
    // One receiver that takes many requests at once: it is given the slots to match.
    let body = json!({"url": hook_url, "max_in_flight": 64});
    let ep = admin_post(&client, &base, "/webhook-endpoints", body).await;
    *secret.lock().unwrap() = ep["secret"].as_str().unwrap().to_string();
    let scim_token = org_with_token(&client, &base, "Bench").await;

    // Backlog: `users` users, 2 events each, written with no dispatcher running.
    let mut ids = Vec::new();
    for chunk in (0..users).collect::<Vec<_>>().chunks(connections) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk {
            let req = client
                .post(format!("{base}/scim/v2/Users"))
                .bearer_auth(&scim_token)
                .header("content-type", "application/scim+json")
                .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}@bench.example")}).to_string());
            set.spawn(async move {
                req.send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            });
        }
        while let Some(r) = set.join_next().await {
            ids.push(r.unwrap()["id"].as_str().unwrap().to_string());
        }
    }
    let backlog = users * 2;
    let db = offboard::db::connect(&url, s.db_max_connections)
        .await
        .unwrap();
    if matches!(db_kind, Db::Postgres) {
        // As in org-delete: production autovacuum would have analyzed the new rows.
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = offboard::webhook::dispatcher::Dispatcher::new(
        db,
        s.webhook.clone(),
        wake.clone(),
        Arc::new(offboard::metrics::Metrics::new()),
    )
    .unwrap();
    if matches!(db_kind, Db::Postgres) {
        // This machine's PostgreSQL runs without autovacuum; a production server's would
        // analyze the deliveries table as it fills. Emulate it.
        let db = offboard::db::connect(&url, 1).await.unwrap();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let _ = db
                    .execute_unprepared("ANALYZE deliveries, delivery_attempts, events")
                    .await;
            }
        });
    }
    let t = Instant::now();
    let running = tokio::spawn(dispatcher.run(stopped));
    while seen.lock().unwrap().arrivals.len() < backlog {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let drain = t.elapsed().as_secs_f64();
    println!(
        "webhooks db={db_kind:?} backlog={backlog} deliveries/s={:.0} (concurrency {})",
        backlog as f64 / drain,
        s.webhook.concurrency
    );

    // Latency: DELETE the users at `rate` per second (each request on its own task, so a
    // slow answer does not slow the pace); time from sending the DELETE until its
    // membership.deleted arrives, verified. The dispatcher is woken as serve wakes it.
    let mut latencies = Vec::new();
    let mut started: HashMap<String, Instant> = HashMap::new();
    let mut pace = tokio::time::interval(std::time::Duration::from_secs_f64(
        1.0 / f64::from(rate.max(1)),
    ));
    let mut set = tokio::task::JoinSet::new();
    for id in &ids {
        pace.tick().await;
        let req = client
            .delete(format!("{base}/scim/v2/Users/{id}"))
            .bearer_auth(&scim_token);
        let wake = wake.clone();
        started.insert(id.clone(), Instant::now());
        set.spawn(async move {
            let t = Instant::now();
            let status = req.send().await.unwrap().status().as_u16();
            assert_eq!(status, 204);
            wake.notify_one();
            t.elapsed().as_secs_f64() * 1000.0
        });
    }
    let mut answered = Vec::new();
    while let Some(ms) = set.join_next().await {
        answered.push(ms.unwrap());
    }
    answered.sort_by(|a, b| a.total_cmp(b));
    let expected = backlog + users * 2; // membership.deleted + user.deleted each
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while seen.lock().unwrap().arrivals.len() < expected {
        assert!(Instant::now() < deadline, "not every event arrived");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for (at, body) in seen.lock().unwrap().arrivals.values() {
        if body["type"] == json!("membership.deleted") {
            // The DELETE named the SCIM id; the event carries it beside the account id.
            let user = body["data"]["membership"]["scim_id"].as_str().unwrap();
            latencies.push(at.duration_since(started[user]).as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let bad = seen.lock().unwrap().bad_signatures;
    println!(
        "delete-to-webhook db={db_kind:?} rate={rate}/s n={} p50={:.1}ms p90={:.1}ms p99={:.1}ms bad_signatures={bad} (the DELETE itself answered p50={:.1}ms p99={:.1}ms)",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        percentile(&answered, 0.5),
        percentile(&answered, 0.99),
    );
    let _ = stop.send(true);
    let _ = running.await;
    // What the outbox costs on disk: bytes per event with its delivery and attempt.
    let db = offboard::db::connect(&url, 1).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
        }
    };
    let events = count("SELECT COUNT(*) FROM events").await;
    let bytes = match db_kind {
        Db::Sqlite => {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_string();
            std::fs::metadata(&path).map(|m| m.len() as i64).unwrap_or(0)
        }
        Db::Postgres => {
            count("SELECT (pg_total_relation_size('events') + pg_total_relation_size('deliveries') + pg_total_relation_size('delivery_attempts'))::bigint").await
        }
    };
    println!(
        "outbox on disk db={db_kind:?}: {events} events, {} deliveries, {} attempts, {:.0} bytes per event{}",
        count("SELECT COUNT(*) FROM deliveries").await,
        count("SELECT COUNT(*) FROM delivery_attempts").await,
        bytes as f64 / events.max(1) as f64,
        if matches!(db_kind, Db::Sqlite) {
            " (whole database file)"
        } else {
            " (the three tables with indexes)"
        },
    );
}

#[tokio::main]
async fn main() {
    offboard::install_crypto_provider();
    // `RUST_LOG=sqlx::query=debug` shows every statement the scenario runs, with its time.
    if std::env::var_os("RUST_LOG").is_some() {
        offboard::telemetry::init(offboard::configuration::LogFormat::Json);
    }
    match Cli::parse().scenario {
        Scenario::OrgDelete { members, db } => org_delete(members, db).await,
        Scenario::Floor {
            users,
            duration,
            db,
        } => {
            let duration = offboard::configuration::parse_duration(&duration).unwrap();
            floor::floor(users, duration, db).await
        }
        Scenario::Recording {
            threads,
            per_thread,
            db,
        } => recording::recording(threads, per_thread, db).await,
        Scenario::Jobs { users, members, db } => jobs(users, members, db).await,
        Scenario::Tenants {
            orgs,
            users,
            connections,
            duration,
            db,
        } => {
            let duration = offboard::configuration::parse_duration(&duration).unwrap();
            tenants::tenants(orgs, users, connections, duration, db).await
        }
        Scenario::Roles {
            members,
            connections,
            duration,
            db,
        } => {
            let duration = offboard::configuration::parse_duration(&duration).unwrap();
            roles::roles_scenario(members, connections, duration, db).await
        }
        Scenario::Reads {
            sizes,
            connections,
            duration,
            db,
        } => {
            let duration = offboard::configuration::parse_duration(&duration).unwrap();
            reads::reads(sizes, connections, duration, db).await
        }
        Scenario::WorstPatch { rounds, db } => reads::worst_patch_scenario(db, rounds).await,
        Scenario::Metrics { events, db } => reads::metrics_scenario(events, db).await,
        Scenario::Webhooks {
            users,
            connections,
            rate,
            db,
        } => webhooks(users, connections, rate, db).await,
        Scenario::Scim {
            target,
            token,
            server_pid,
            db,
            connections,
            duration,
            users,
            group_members,
            webhook,
        } => {
            let duration = offboard::configuration::parse_duration(&duration).unwrap();
            let ok = scim_load(ScimLoad {
                target,
                token,
                server_pid,
                db,
                connections,
                duration,
                users,
                group_members,
                webhook,
            })
            .await;
            if !ok {
                eprintln!("some requests failed (non-2xx): the run fails");
                std::process::exit(1);
            }
        }
    }
}

struct ScimLoad {
    target: Option<String>,
    token: Option<String>,
    server_pid: Option<u32>,
    db: Db,
    connections: usize,
    duration: std::time::Duration,
    users: usize,
    group_members: usize,
    webhook: bool,
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

struct Outcome {
    name: String,
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

/// The server's SQLite writer slot as its `/metrics` reports it: the write transactions
/// that held it, and the seconds they held it and waited for it, in all.
#[derive(Clone, Copy, Default)]
struct SlotReading {
    writes: f64,
    held: f64,
    waited: f64,
}

impl SlotReading {
    async fn read(client: &reqwest::Client, metrics: &Option<String>) -> Self {
        let Some(url) = metrics else {
            return Self::default();
        };
        let text = client.get(url).send().await.unwrap().text().await.unwrap();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        SlotReading {
            writes: value("offboard_sqlite_writer_hold_seconds_count"),
            held: value("offboard_sqlite_writer_hold_seconds_sum"),
            waited: value("offboard_sqlite_writer_wait_seconds_sum"),
        }
    }

    /// Prints what the scenario just run (`seconds` long) did with the slot, and reads
    /// again for the next; nothing for a server without one.
    async fn print(&mut self, client: &reqwest::Client, metrics: &Option<String>, seconds: f64) {
        if metrics.is_none() {
            return;
        }
        let now = Self::read(client, metrics).await;
        let writes = now.writes - self.writes;
        if writes > 0.0 {
            println!(
                "    writer slot: {writes:.0} writes, held {:.2} ms each, {:.0} % of the time; waited for {:.2} ms each",
                (now.held - self.held) / writes * 1e3,
                (now.held - self.held) / seconds * 100.0,
                (now.waited - self.waited) / writes * 1e3,
            );
        }
        *self = now;
    }
}

impl Outcome {
    fn print(&mut self) {
        self.latencies_ms.sort_by(|a, b| a.total_cmp(b));
        let l = &self.latencies_ms;
        println!(
            "{:<28} {:>9.0} req/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            self.name,
            self.requests as f64 / self.seconds,
            percentile(l, 0.5),
            percentile(l, 0.9),
            percentile(l, 0.99),
            self.errors
        );
    }
}

/// Runs `connections` workers for `duration` (or until `make` returns `None`), each
/// sending the request `make(worker, iteration)` builds and timing it.
async fn drive<F>(name: &str, connections: usize, duration: std::time::Duration, make: F) -> Outcome
where
    F: Fn(usize, usize) -> Option<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..connections {
        let make = make.clone();
        set.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            let mut i = 0;
            while Instant::now() < deadline {
                let Some(req) = make(w, i) else { break };
                i += 1;
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    Ok(r) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("  {} -> {}", r.url(), r.status());
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("  error: {e}");
                        }
                    }
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (lat, errors)
        });
    }
    let mut out = Outcome {
        name: name.to_string(),
        requests: 0,
        errors: 0,
        seconds: 0.0,
        latencies_ms: Vec::new(),
    };
    while let Some(r) = set.join_next().await {
        let (lat, errors) = r.unwrap();
        out.requests += lat.len();
        out.errors += errors;
        out.latencies_ms.extend(lat);
    }
    out.seconds = started.elapsed().as_secs_f64();
    out
}

/// Waits until no webhook has arrived for 2 seconds.
async fn settle(seen: &Mutex<Seen>) {
    let arrived = || seen.lock().unwrap().arrivals.len();
    let mut last = arrived();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = arrived();
        if now == last {
            break;
        }
        last = now;
    }
}

/// Waits for the PATCHes' webhooks to stop arriving, then prints the time from each
/// PATCH sent to its event's verified arrival (a PATCH that changed nothing has no event).
async fn patch_to_webhook(sent: &Mutex<HashMap<String, Instant>>, seen: &Mutex<Seen>) -> bool {
    settle(seen).await;
    let sent = sent.lock().unwrap();
    let seen = seen.lock().unwrap();
    let mut latencies: Vec<f64> = seen
        .arrivals
        .values()
        .filter(|(_, body)| {
            matches!(
                body["type"].as_str(),
                Some("membership.deactivated" | "membership.reactivated")
            )
        })
        .filter_map(|(at, body)| {
            let from = sent.get(body["data"]["request_id"].as_str()?)?;
            Some(at.duration_since(*from).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{:<28} {:>9} events p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  bad signatures {}",
        "  PATCH -> verified webhook",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        seen.bad_signatures
    );
    !latencies.is_empty() && seen.bad_signatures == 0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `offboard serve` (the release binary next to this example, or
/// `OFFBOARD_BENCH_SERVER`) on `target`, with `/metrics` on `metrics_port` when given;
/// returns the child, its SCIM base URL and a SCIM token.
async fn start_offboard_on(
    target: Target,
    metrics_port: Option<u16>,
) -> (std::process::Child, String, String, Target) {
    // OFFBOARD_BENCH_SERVER names another build (an earlier release, measured beside
    // this one in the same run).
    let bin = match std::env::var_os("OFFBOARD_BENCH_SERVER") {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("offboard")
        }
    };
    assert!(
        bin.exists(),
        "build the server first: cargo build --release ({})",
        bin.display()
    );
    let port = free_port();
    let child = std::process::Command::new(bin)
        .arg("serve")
        .env("OFFBOARD_DATABASE_URL", &target.url)
        .env("OFFBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "OFFBOARD_METRICS_LISTEN",
            format!("127.0.0.1:{}", metrics_port.unwrap_or(0)),
        )
        // The load comes from one organization; the per-organization limits would cap it.
        .env("OFFBOARD_RATE_LIMIT_PER_SECOND", "100000")
        .env("OFFBOARD_RATE_LIMIT_BURST", "100000")
        .env("OFFBOARD_MAX_IN_FLIGHT_PER_TOKEN", "1024")
        .env("OFFBOARD_ADMIN_JWT_SECRET", BENCH_SECRET)
        // `scim --webhook`'s receiver listens on loopback.
        .env("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = org_with_token(&client, &base, "Bench").await;
    (child, format!("{base}/scim/v2"), token, target)
}

/// An admin token for the servers the bench starts (an hour).
pub(crate) fn admin_jwt() -> String {
    offboard::auth::issue_admin_token(BENCH_SECRET, "bench", std::time::Duration::from_secs(3600))
        .unwrap()
}

/// POSTs `body` to the admin API of the `serve` at `base` and returns its JSON answer.
async fn admin_post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    client
        .post(format!("{base}/admin/v1{path}"))
        .bearer_auth(admin_jwt())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Makes an organization (with the bench's guard) and a SCIM token for it through the
/// admin API of the `serve` at `base`; returns the token.
async fn org_with_token(client: &reqwest::Client, base: &str, name: &str) -> String {
    let org = admin_post(
        client,
        base,
        "/organizations",
        json!({"name": name, "deprovision_guard": bench_guard()}),
    )
    .await;
    let path = format!("/organizations/{}/scim-tokens", org["id"].as_str().unwrap());
    let tok = admin_post(client, base, &path, json!({})).await;
    tok["token"].as_str().unwrap().to_string()
}

async fn scim_load(cfg: ScimLoad) -> bool {
    offboard::install_crypto_provider();
    let (mut child, base, token, pid, _db, metrics) = match (&cfg.target, &cfg.token) {
        (Some(t), Some(k)) => (
            None,
            t.trim_end_matches('/').to_string(),
            k.clone(),
            cfg.server_pid,
            None,
            None,
        ),
        (Some(_), None) => panic!("--target needs --token"),
        _ => {
            let metrics_port = free_port();
            let target = fresh_database(cfg.db).await;
            let (child, base, token, db) = start_offboard_on(target, Some(metrics_port)).await;
            let pid = child.id();
            // The writer slot exists on SQLite only.
            let metrics =
                (cfg.db == Db::Sqlite).then(|| format!("http://127.0.0.1:{metrics_port}/metrics"));
            (Some(child), base, token, Some(pid), Some(db), metrics)
        }
    };
    let label = if cfg.target.is_some() {
        "peer".to_string()
    } else {
        format!("offboard/{:?}", cfg.db)
    };
    println!(
        "== {label}: {} connections, {:?} per scenario, {} users",
        cfg.connections, cfg.duration, cfg.users
    );
    if let Some((rss, _)) = pid.and_then(memory_mib) {
        println!("idle RSS {rss:.1} MiB");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(cfg.connections)
        .build()
        .unwrap();
    let json_ct = "application/scim+json";
    assert!(
        !(cfg.webhook && cfg.target.is_some()),
        "--webhook measures offboard only"
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    if cfg.webhook {
        let base = base.trim_end_matches("/scim/v2");
        let secret = Arc::new(Mutex::new(String::new()));
        let url = receiver(secret.clone(), seen.clone()).await;
        let body = json!({"url": url, "max_in_flight": 64});
        let ep = admin_post(&client, base, "/webhook-endpoints", body).await;
        *secret.lock().unwrap() = ep["secret"].as_str().unwrap().to_string();
    }
    // When each PATCH was sent, by its X-Request-Id (which its events carry).
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();

    // Seed users (standard POST /Users).
    let names: Arc<Vec<String>> = Arc::new(
        (0..cfg.users)
            .map(|i| format!("load{i}-{}@bench.example", ulid::Ulid::new()))
            .collect(),
    );
    let ids: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut slot = SlotReading::read(&client, &metrics).await;
    let seed = {
        let (client, base, token, names, ids, next) = (
            client.clone(),
            base.clone(),
            token.clone(),
            names.clone(),
            ids.clone(),
            next.clone(),
        );
        drive("seed: POST /Users", cfg.connections, std::time::Duration::from_secs(3600), move |_, _| {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let name = names.get(i)?;
            let _ = &ids;
            Some(client.post(format!("{base}/Users")).bearer_auth(&token).header("content-type", json_ct)
                .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true, "name": {"givenName": "Load", "familyName": "Test"}, "emails": [{"value": name, "primary": true, "type": "work"}]}).to_string()))
        }).await
    };
    let mut seed = seed;
    seed.print();
    slot.print(&client, &metrics, seed.seconds).await;
    // Resolve ids by listing (works on any server).
    let mut start = 1;
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/Users?startIndex={start}&count=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        ids.lock().unwrap().extend(
            items
                .iter()
                .filter_map(|u| u["id"].as_str().map(str::to_string)),
        );
        start += items.len();
    }
    let ids: Arc<Vec<String>> = Arc::new(ids.lock().unwrap().clone());
    let mut all_ok = seed.errors == 0;
    if cfg.webhook {
        // The seed's events are delivered before the PATCH load starts.
        settle(&seen).await;
    }

    // (a) PATCH active=false / true in the Entra dialect.
    let mut patch = {
        let (client, base, token, ids, sent) = (
            client.clone(),
            base.clone(),
            token.clone(),
            ids.clone(),
            sent.clone(),
        );
        let webhook = cfg.webhook;
        drive("PATCH active (Entra)", cfg.connections, cfg.duration, move |w, i| {
            let id = &ids[(w * 7919 + i * 104729) % ids.len()];
            let value = if i % 2 == 0 { "False" } else { "True" };
            let req = client.patch(format!("{base}/Users/{id}")).bearer_auth(&token).header("content-type", json_ct)
                .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": value}]}).to_string());
            // Only `--webhook` tags and records each PATCH; other runs send what they always did.
            if !webhook {
                return Some(req);
            }
            let request_id = format!("bench-{w}-{i}");
            sent.lock().unwrap().insert(request_id.clone(), Instant::now());
            Some(req.header("x-request-id", request_id))
        }).await
    };
    patch.print();
    slot.print(&client, &metrics, patch.seconds).await;
    all_ok &= patch.errors == 0;
    if cfg.webhook {
        all_ok &= patch_to_webhook(&sent, &seen).await;
    }

    // (c) userName lookups, as Okta does before creating.
    let mut lookup = {
        let (client, base, token, names) =
            (client.clone(), base.clone(), token.clone(), names.clone());
        drive(
            "GET filter userName eq",
            cfg.connections,
            cfg.duration,
            move |w, i| {
                let name = &names[(w * 31 + i * 17) % names.len()];
                Some(
                    client
                        .get(format!("{base}/Users"))
                        .bearer_auth(&token)
                        .query(&[
                            ("filter", format!("userName eq \"{name}\"")),
                            ("startIndex", "1".into()),
                            ("count", "100".into()),
                        ]),
                )
            },
        )
        .await
    };
    lookup.print();
    slot.print(&client, &metrics, lookup.seconds).await;
    all_ok &= lookup.errors == 0;

    // (g) Group PATCH of one member, in a small group and in a large one.
    if cfg.group_members > 0 && cfg.group_members < ids.len() {
        for size in [10, cfg.group_members] {
            let members: Vec<serde_json::Value> =
                ids[..size].iter().map(|id| json!({"value": id})).collect();
            let created: serde_json::Value = client.post(format!("{base}/Groups")).bearer_auth(&token).header("content-type", json_ct)
                .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("Load {size}"), "members": []}).to_string())
                .send().await.unwrap().json().await.unwrap();
            let gid = created["id"].as_str().unwrap().to_string();
            for chunk in members.chunks(1000) {
                let r = client.patch(format!("{base}/Groups/{gid}")).bearer_auth(&token).header("content-type", json_ct)
                    .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": chunk}]}).to_string())
                    .send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
            }
            let outsiders: Arc<Vec<String>> = Arc::new(ids[cfg.group_members..].to_vec());
            let mut g = {
                let (client, base, token) = (client.clone(), base.clone(), token.clone());
                drive(&format!("group PATCH 1 of {size}"), cfg.connections, cfg.duration, move |w, i| {
                    // Each worker adds then removes its own outsider, so changes never collide.
                    let id = &outsiders[w % outsiders.len()];
                    let op = if i % 2 == 0 {
                        json!({"op": "add", "path": "members", "value": [{"value": id}]})
                    } else {
                        json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")})
                    };
                    Some(client.patch(format!("{base}/Groups/{gid}")).bearer_auth(&token).header("content-type", json_ct)
                        .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]}).to_string()))
                }).await
            };
            g.print();
            slot.print(&client, &metrics, g.seconds).await;
            all_ok &= g.errors == 0;
        }
    }

    // (b) DELETE /Users/{id} (the last membership: the account is deleted too).
    let mut delete = {
        let (client, base, token, ids) = (client.clone(), base.clone(), token.clone(), ids.clone());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        drive(
            "DELETE /Users (cascade)",
            cfg.connections,
            cfg.duration,
            move |_, _| {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let id = ids.get(i)?;
                Some(
                    client
                        .delete(format!("{base}/Users/{id}"))
                        .bearer_auth(&token),
                )
            },
        )
        .await
    };
    delete.print();
    slot.print(&client, &metrics, delete.seconds).await;
    all_ok &= delete.errors == 0;

    if let Some((rss, peak)) = pid.and_then(memory_mib) {
        println!("server RSS {rss:.1} MiB, peak {peak:.1} MiB");
    }
    if let Some(c) = child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    all_ok
}
