//! `examples/consumer.rs` against the real app: signed webhooks verified, redeliveries
//! applied once, and a consumer that sees only part of the stream (its endpoint filters
//! types, as after downtime it would miss events) catching up from the pull feed and
//! applying everything in order.

use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{Backend, expect_json, fixture, spawn_app_with, user_body};

#[path = "../../examples/consumer.rs"]
mod example;

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
    let dir = tempfile::tempdir().unwrap();
    let consumer_db = format!("sqlite://{}/consumer.db?mode=rwc", dir.path().display());
    let (_, server) = example::start(example::Config {
        offboard_url: app.address.clone(),
        api_key: key,
        secret: ep["secret"].as_str().unwrap().to_string(),
        database_url: consumer_db.clone(),
        listen: format!("127.0.0.1:{port}"),
    })
    .await
    .unwrap();
    tokio::spawn(server);
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
}
