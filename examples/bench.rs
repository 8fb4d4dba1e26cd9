//! Benchmarks (not timed tests): `cargo run --release --example bench -- <scenario>`.
//!
//! `org-delete --members 100000 [--db sqlite|postgres]` seeds an organization of that many
//! members straight into a fresh database (10 % of them also members of a second
//! organization, every member with one session), starts the real app, and times the
//! admin `DELETE /admin/v1/organizations/{id}` over HTTP.
//! PostgreSQL: `OFFBOARD_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! names a server where the bench may create a database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use entity::{memberships, sessions, users};
use offboard::configuration::Settings;
use offboard::startup::Application;
use offboard::store::audit::Actor;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait,
};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Scenario {
    /// Admin deletion of an organization with many members.
    OrgDelete {
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        #[arg(long, value_enum, default_value_t = Db::Sqlite)]
        db: Db,
    },
}

struct Target {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn fresh_database(db: Db) -> Target {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
            Target {
                url,
                _dir: Some(dir),
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
            Target {
                url: format!("{prefix}/{name}"),
                _dir: None,
            }
        }
    }
}

fn settings(url: &str) -> Settings {
    let url = url.to_string();
    Settings::from_lookup(move |k| match k {
        "OFFBOARD_DATABASE_URL" => Some(url.clone()),
        "OFFBOARD_LISTEN" => Some("127.0.0.1:0".into()),
        "OFFBOARD_ADMIN_JWT_SECRET" => Some("bench-secret".into()),
        // The bench measures deletion, not the purge task.
        "OFFBOARD_PURGE_INTERVAL" => Some("24h".into()),
        _ => None,
    })
    .unwrap()
}

/// Inserts `n` members into `org` (and every tenth also into `other`) in bulk.
async fn seed(db: &DatabaseConnection, org: &str, other: &str, n: usize) {
    let now = Utc::now();
    let txn = db.begin().await.unwrap();
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let mut us = Vec::new();
        let mut ms = Vec::new();
        let mut ss = Vec::new();
        for i in start..end {
            let uid = offboard::ids::new_id(offboard::ids::USER);
            let name = format!("user{i}@bench.example");
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
            let orgs: &[&str] = if i % 10 == 0 { &[org, other] } else { &[org] };
            for o in orgs {
                ms.push(memberships::ActiveModel {
                    id: Set(offboard::ids::new_id(offboard::ids::MEMBERSHIP)),
                    organization_id: Set(o.to_string()),
                    user_id: Set(uid.clone()),
                    status: Set("ACTIVE".into()),
                    roles: Set(json!([])),
                    external_id: Set(Some(format!("ext-{i}"))),
                    user_name: Set(Some(name.clone())),
                    user_name_key: Set(Some(name.clone())),
                    scim: Set(Some(json!({"userName": name, "name": {"givenName": "User", "familyName": i.to_string()}}))),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    status_changed_at: Set(now),
                    removed_at: Set(None),
                    purge_after: Set(None),
                    removed_with_account: Set(false),
                });
            }
            ss.push(sessions::ActiveModel {
                id: Set(offboard::ids::new_id(offboard::ids::SESSION)),
                organization_id: Set(org.to_string()),
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
        kind: "cli",
        id: "bench".into(),
        request_id: None,
    };
    let org = offboard::service::admin::create_organization(&db, &actor, "Bench", None)
        .await
        .unwrap();
    let other = offboard::service::admin::create_organization(&db, &actor, "Other", None)
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

    let token = offboard::auth::issue_admin_token(
        "bench-secret",
        "bench",
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
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
    let events = offboard::store::outbox::list_for_organization(&db, &org.id)
        .await
        .unwrap()
        .len();
    println!(
        "org-delete db={db_kind:?} members={members} time={:.2}s events={events}",
        elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    match Cli::parse().scenario {
        Scenario::OrgDelete { members, db } => org_delete(members, db).await,
    }
}
