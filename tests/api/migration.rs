//! Upgrading a database made by the previous release (schema of migration 10, accounts
//! linked by userName across organizations): every id an IdP holds keeps answering in
//! its organization, and accounts that linked organizations are split, with the split in
//! the audit log.

use chrono::{Duration, Utc};
use migration::{Migrator, MigratorTrait};
use reqwest::Method;
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use crate::helpers::{Backend, Org, TestApp, database_url, expect_json, spawn_app_at};

async fn insert(db: &DatabaseConnection, table: &str, row: &[(&str, SimpleExpr)]) {
    let mut q = Query::insert();
    q.into_table(Alias::new(table))
        .columns(row.iter().map(|(c, _)| Alias::new(*c)))
        .values_panic(row.iter().map(|(_, v)| v.clone()));
    db.execute(&q).await.unwrap();
}

fn v<T: Into<sea_orm::Value>>(x: T) -> SimpleExpr {
    SimpleExpr::Value(x.into())
}

fn record(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "emails": [{"value": user_name, "primary": true}],
        "name": {"givenName": "Legacy", "familyName": "User"},
    })
}

struct Legacy {
    orgs: Vec<Org>,
}

/// Writes what the previous release wrote: organizations with tokens, accounts keyed by
/// userName, memberships whose SCIM id was the account id, sessions, a group.
async fn previous_release(db: &DatabaseConnection) -> Legacy {
    Migrator::up(db, Some(10)).await.unwrap();
    let t0 = Utc::now() - Duration::days(10);
    let mut orgs = Vec::new();
    for (i, name) in ["A", "B", "C"].iter().enumerate() {
        let id = format!("org_legacy{i}");
        insert(
            db,
            "organizations",
            &[
                ("id", v(id.as_str())),
                ("name", v(*name)),
                ("deactivated_retention_secs", v(Option::<i64>::None)),
                ("event_seq", v(0i64)),
                ("created_at", v(t0)),
                ("updated_at", v(t0)),
            ],
        )
        .await;
        let token = format!("scim_legacy-token-{i}");
        insert(
            db,
            "scim_tokens",
            &[
                ("id", v(format!("tok_legacy{i}"))),
                ("organization_id", v(id.as_str())),
                ("token_hash", v(offboard::store::tokens::hash(&token))),
                ("created_at", v(t0)),
            ],
        )
        .await;
        orgs.push(Org { id, token });
    }
    let account = |id: &'static str, key: &'static str| async move {
        insert(
            db,
            "users",
            &[
                ("id", v(id)),
                ("identity_key", v(key)),
                ("email", v(key)),
                ("display_name", v("Legacy User")),
                ("created_at", v(t0)),
                ("updated_at", v(t0)),
            ],
        )
        .await;
    };
    account("usr_legacyshared", "shared@example.com").await;
    account("usr_legacysolo", "solo@example.com").await;
    account("usr_legacymoved", "moved@example.com").await;
    let membership = |n: u32, org: usize, user: &'static str, key: &'static str, removed: bool| {
        let org_id = format!("org_legacy{org}");
        async move {
            let at = t0 + Duration::minutes(i64::from(n));
            insert(
                db,
                "memberships",
                &[
                    ("id", v(format!("mem_legacy{n:02}"))),
                    ("organization_id", v(org_id)),
                    ("user_id", v(user)),
                    ("status", v(if removed { "INACTIVE" } else { "ACTIVE" })),
                    ("roles", v(json!([]))),
                    ("external_id", v(Option::<String>::None)),
                    ("user_name", v((!removed).then_some(key))),
                    ("user_name_key", v((!removed).then_some(key))),
                    ("scim", v((!removed).then(|| record(key)))),
                    ("version", v(1i64)),
                    ("created_at", v(at)),
                    ("updated_at", v(at)),
                    ("status_changed_at", v(at)),
                    ("removed_at", v(removed.then_some(at))),
                ],
            )
            .await;
        }
    };
    // shared: A and B (linked by userName alone); solo: A; moved: removed from A, live in C.
    membership(1, 0, "usr_legacyshared", "shared@example.com", false).await;
    membership(2, 1, "usr_legacyshared", "shared@example.com", false).await;
    membership(3, 0, "usr_legacysolo", "solo@example.com", false).await;
    membership(4, 0, "usr_legacymoved", "moved@example.com", true).await;
    membership(5, 2, "usr_legacymoved", "moved@example.com", false).await;
    for (sid, org) in [("ses_legacya", 0), ("ses_legacyb", 1)] {
        insert(
            db,
            "sessions",
            &[
                ("id", v(sid)),
                ("organization_id", v(format!("org_legacy{org}"))),
                ("user_id", v("usr_legacyshared")),
                ("created_at", v(t0)),
                ("expires_at", v(t0 + Duration::days(3650))),
            ],
        )
        .await;
    }
    insert(
        db,
        "groups",
        &[
            ("id", v("grp_legacyb")),
            ("organization_id", v("org_legacy1")),
            ("display_name", v("Engineering")),
            ("external_id", v(Option::<String>::None)),
            (
                "scim",
                v(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"})),
            ),
            ("version", v(1i64)),
            ("created_at", v(t0)),
            ("updated_at", v(t0)),
        ],
    )
    .await;
    insert(
        db,
        "group_members",
        &[
            ("group_id", v("grp_legacyb")),
            ("user_id", v("usr_legacyshared")),
            ("organization_id", v("org_legacy1")),
            ("created_at", v(t0)),
        ],
    )
    .await;
    Legacy { orgs }
}

async fn split_target(app: &TestApp, org: &Org, from: &str) -> String {
    let rows = offboard::store::audit::list_for_organization(&app.db, &org.org_id())
        .await
        .unwrap();
    let split = rows
        .iter()
        .find(|r| r.action == "account.split" && r.target_id == from)
        .unwrap_or_else(|| panic!("no split of {from} in {}", org.id));
    assert_eq!(split.actor_type, entity::audit_log::ActorKind::System);
    split.details["to_user_id"].as_str().unwrap().to_string()
}

async fn upgrading_keeps_every_idp_id_and_splits_linked_accounts(backend: Backend) {
    let (url, dir) = database_url(backend).await;
    let db = offboard::db::connect(&url, 1).await.unwrap();
    let legacy = previous_release(&db).await;
    drop(db);
    let app = spawn_app_at(url, dir, &[]).await;
    let [a, b, c] = [&legacy.orgs[0], &legacy.orgs[1], &legacy.orgs[2]];

    // Every id an IdP held still answers in its organization, with its record.
    for (org, id, name) in [
        (a, "usr_legacyshared", "shared@example.com"),
        (b, "usr_legacyshared", "shared@example.com"),
        (a, "usr_legacysolo", "solo@example.com"),
        (c, "usr_legacymoved", "moved@example.com"),
    ] {
        let got = app.get_json(org, &format!("/Users/{id}")).await;
        assert_eq!(got["id"], json!(id));
        assert_eq!(got["userName"], json!(name));
        let q = format!("/Users?filter=userName%20eq%20%22{name}%22");
        assert_eq!(app.get_json(org, &q).await["totalResults"], json!(1));
    }
    assert_eq!(app.get(a, "/Users/usr_legacymoved").await.status(), 404);
    let group = app.get_json(b, "/Groups/grp_legacyb").await;
    assert_eq!(group["members"][0]["value"], json!("usr_legacyshared"));
    let user = app.get_json(b, "/Users/usr_legacyshared").await;
    assert_eq!(user["groups"][0]["value"], json!("grp_legacyb"));

    // The account that linked A and B is split: A keeps it, B has its own now.
    let b_account = split_target(&app, b, "usr_legacyshared").await;
    assert_ne!(b_account, "usr_legacyshared");
    let kept = app.admin_user("usr_legacyshared").await;
    assert_eq!(kept["memberships"].as_array().unwrap().len(), 1);
    assert_eq!(kept["memberships"][0]["organization_id"], json!(a.id));
    assert_eq!(kept["linked"], json!(false));
    let split = app.admin_user(&b_account).await;
    assert_eq!(split["status"], json!("ACTIVE"));
    assert_eq!(split["email"], json!("shared@example.com"));
    assert_eq!(
        split["memberships"][0]["scim_id"],
        json!("usr_legacyshared")
    );
    let session = |id: &str| {
        let path = format!("/sessions/{id}");
        let app = &app;
        async move { expect_json(app.admin_send(Method::GET, &path, None).await, 200).await }
    };
    assert_eq!(
        session("ses_legacya").await["user_id"],
        json!("usr_legacyshared")
    );
    assert_eq!(session("ses_legacyb").await["user_id"], json!(b_account));

    // The account whose only live membership is in C stays with C; A's removed
    // membership went to a tombstone of A's own.
    let a_moved = split_target(&app, a, "usr_legacymoved").await;
    assert_eq!(app.admin_user(&a_moved).await["status"], json!("DELETED"));
    assert_eq!(
        app.admin_user("usr_legacymoved").await["status"],
        json!("ACTIVE")
    );

    // The cascade follows the split: B's DELETE deletes B's account only.
    assert_eq!(app.delete(b, "/Users/usr_legacyshared").await.status(), 204);
    assert_eq!(app.admin_user(&b_account).await["status"], json!("DELETED"));
    assert_eq!(
        app.admin_user("usr_legacyshared").await["status"],
        json!("ACTIVE")
    );
    assert!(session("ses_legacya").await["active"].as_bool().unwrap());
    assert!(!session("ses_legacyb").await["active"].as_bool().unwrap());
    assert!(
        app.get_json(b, "/Groups/grp_legacyb").await["members"]
            .as_array()
            .is_none_or(|m| m.is_empty())
    );
    // Nothing links by userName any more: a new organization gets its own account.
    let d = app.create_org("D").await;
    let id = app
        .create_user(&d, &crate::helpers::user_body("solo@example.com"))
        .await;
    assert_ne!(app.account_of(&d, &id).await, "usr_legacysolo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_a_previous_release_database_on_sqlite() {
    upgrading_keeps_every_idp_id_and_splits_linked_accounts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn upgrading_a_previous_release_database_on_postgres() {
    upgrading_keeps_every_idp_id_and_splits_linked_accounts(Backend::Postgres).await;
}

/// Several processes starting at once on a new database (instances of `serve`, or a
/// command run while `serve` starts) apply each migration once: none fails half-way
/// because another applied the same migration first.
async fn processes_starting_together_migrate_once(backend: Backend) {
    let (url, _dir) = crate::helpers::database_url(backend).await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
                .arg("migrate")
                .env("OFFBOARD_DATABASE_URL", &url)
                .env("RUST_LOG", "warn")
                .output()
        })
        .collect();
    for out in futures_util::future::join_all(runs).await {
        let out = out.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = offboard::db::connect(&url, 1).await.unwrap();
    let state = offboard::db::migration_state(&db).await.unwrap();
    assert_eq!(state.pending(), 0);
    assert_eq!(state.applied, state.known);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_together_migrate_once_on_sqlite() {
    processes_starting_together_migrate_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn processes_starting_together_migrate_once_on_postgres() {
    processes_starting_together_migrate_once(Backend::Postgres).await;
}
