//! `examples/consumer.rs` as an application team runs it (a process of its own, started
//! with its documented settings) against the real app: signed webhooks verified,
//! redeliveries applied once, and a consumer that sees only part of the stream (its
//! endpoint filters types, as after downtime it would miss events) catching up from the
//! pull feed and applying everything in order.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{Backend, expect_json, fixture, spawn_app_with, user_body};

/// An example program as `cargo test` builds it (examples are built, not run, beside
/// the test binary's folder). A run of the test binary alone (`cargo test --test api`)
/// may find none, or one older than its source: it says so rather than run it.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let folder = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = folder.join("examples").join(name);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    assert!(
        modified(&path) >= modified(&source),
        "{} is missing or older than its source: run `cargo test` (which builds the examples) or `cargo build --example {name}`",
        path.display()
    );
    path
}

/// The consumer's members as (user name, status), sorted.
async fn members(db: &sea_orm::DatabaseConnection) -> Vec<(String, String)> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT user_name, status FROM members ORDER BY user_name",
        ))
        .await
        .unwrap_or_default();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "user_name").unwrap_or_default(),
                r.try_get::<String>("", "status").unwrap(),
            )
        })
        .collect()
}

async fn wait_for(db: &sea_orm::DatabaseConnection, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = members(db).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "consumer state {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_consumer_applies_every_event_once_and_in_order() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("OFFBOARD_WEBHOOK_POLL_INTERVAL", "50ms"),
        ],
    )
    .await;
    let org = app.create_org("Acme").await;
    let key = expect_json(
        app.admin_send(
            Method::POST,
            "/api-keys",
            Some(
                &json!({"name": "consumer", "scopes": ["events:read"], "organization_id": org.id}),
            ),
        )
        .await,
        201,
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    // The consumer hears deactivations only: everything else it must catch up on.
    let port = crate::processes::free_port();
    let ep = expect_json(
        app.admin_send(
            Method::POST,
            "/webhook-endpoints",
            Some(&json!({
                "url": format!("http://127.0.0.1:{port}/webhook"),
                "event_types": ["membership.deactivated"],
                "organization_id": org.id,
            })),
        )
        .await,
        201,
    )
    .await;
    // Started as its header says, with its own defaults for what it does not need set.
    let dir = tempfile::tempdir().unwrap();
    let mut consumer = tokio::process::Command::new(example_binary("consumer"))
        .current_dir(dir.path())
        .env("OFFBOARD_URL", &app.address)
        .env("CONSUMER_API_KEY", &key)
        .env("CONSUMER_SECRET", ep["secret"].as_str().unwrap())
        .env("CONSUMER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(consumer.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the consumer starts")
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some(format!("listening on http://127.0.0.1:{port}/webhook").as_str())
    );
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = printed.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    let consumer_db = format!("sqlite://{}/consumer.db?mode=rwc", dir.path().display());
    let db = sea_orm::Database::connect(&consumer_db).await.unwrap();

    let mut ids = Vec::new();
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        ids.push(app.create_user(&org, &user_body(name)).await);
    }
    let deactivate = fixture("okta/deactivate_user.json");
    app.patch(&org, &format!("/Users/{}", ids[1]), &deactivate)
        .await;
    wait_for(
        &db,
        &[
            ("a@example.com", "ACTIVE"),
            ("b@example.com", "INACTIVE"),
            ("c@example.com", "ACTIVE"),
        ],
    )
    .await;

    // More it does not hear, then one it does: the gap is filled from the feed, in order.
    assert_eq!(
        app.delete(&org, &format!("/Users/{}", ids[2]))
            .await
            .status(),
        204
    );
    app.create_user(&org, &user_body("d@example.com")).await;
    app.patch(&org, &format!("/Users/{}", ids[0]), &deactivate)
        .await;
    wait_for(
        &db,
        &[
            ("a@example.com", "INACTIVE"),
            ("b@example.com", "INACTIVE"),
            ("d@example.com", "ACTIVE"),
        ],
    )
    .await;
    // It says what it applied, each organization's events in sequence order, each once
    // (the feed's and the webhooks' alike).
    let applied: Vec<String> = printed.lock().unwrap().clone();
    let sequences: Vec<i64> = applied
        .iter()
        .map(|l| {
            assert!(l.starts_with("applied "), "{l}");
            l.split(" #")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        sequences,
        (1..=sequences.len() as i64).collect::<Vec<_>>(),
        "{applied:?}"
    );
    assert!(
        applied
            .iter()
            .any(|l| l.starts_with("applied membership.deactivated ")),
        "{applied:?}"
    );

    // A redelivery (the operator's replay) is recognised by its webhook-id.
    let processed = |db: sea_orm::DatabaseConnection| async move {
        db.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM processed",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
    };
    let before = processed(db.clone()).await;
    let event = app
        .event_payloads(&org)
        .await
        .into_iter()
        .rfind(|e| e["type"] == "membership.deactivated")
        .unwrap();
    let res = app
        .admin_send(
            Method::POST,
            &format!("/events/{}/replay", event["id"].as_str().unwrap()),
            Some(&json!({})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = app
            .admin_send(Method::GET, "/deliveries?status=pending", None)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["data"]
            .as_array()
            .unwrap()
            .is_empty();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "the replay was never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(processed(db.clone()).await, before, "applied once");

    // A request that is not signed with the endpoint's secret changes nothing.
    let res = app
        .client
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("webhook-id", "evt_forged")
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("webhook-signature", "v1,AAAA")
        .body(r#"{"type":"membership.deleted"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(processed(db).await, before);
    consumer.start_kill().unwrap();
}
