//! Connection health: an organization's SCIM tokens' last request, counts by status
//! class and the state derived from them, recorded in memory and flushed periodically.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json};

async fn connection(app: &TestApp, org: &Org) -> Value {
    let res = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/connection", org.id),
            None,
        )
        .await;
    expect_json(res, 200).await
}

/// A SCIM GET as Okta sends it; returns the status.
async fn okta_get(app: &TestApp, org: &Org, path: &str) -> u16 {
    app.client
        .get(app.scim(path))
        .bearer_auth(&org.token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn metrics(app: &TestApp) -> String {
    let addr = app.metrics_address.as_ref().unwrap();
    app.client
        .get(format!("{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

db_test!(
    a_connection_goes_from_never_connected_to_healthy_failing_and_quiet,
    [
        ("OFFBOARD_CONNECTION_QUIET_AFTER", "3s"),
        ("OFFBOARD_CONNECTION_FLUSH_INTERVAL", "100ms"),
    ]
);
async fn a_connection_goes_from_never_connected_to_healthy_failing_and_quiet(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let c = connection(&app, &org).await;
    assert_eq!(c["state"], "never_connected");
    let tokens = c["scim_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["last_used_at"], Value::Null);
    assert!(!c.to_string().contains(&org.token), "never the token");

    assert_eq!(okta_get(&app, &org, "/Users?count=1").await, 200);
    let c = connection(&app, &org).await;
    assert_eq!(c["state"], "healthy");
    let t = &c["scim_tokens"][0];
    assert_eq!(
        t["last_request"]["route"], "/scim/v2/Users",
        "the route pattern, never the raw path"
    );
    assert_eq!(t["last_request"]["method"], "GET");
    assert_eq!(t["last_request"]["status"], 200);
    assert_eq!(t["client"], "okta");
    assert_eq!(t["user_agent"], "Okta SCIM Client 1.0.0");
    assert_eq!(
        t["last_24h"],
        json!({"succeeded": 1, "client_errors": 0, "server_errors": 0,
               "refused": {"expired": 0, "network": 0}})
    );
    // Another organization's traffic is its own.
    assert_eq!(connection(&app, &other).await["state"], "never_connected");

    // Errors dominate: failing.
    for _ in 0..6 {
        assert_eq!(okta_get(&app, &org, "/Users/nobody").await, 404);
    }
    let c = connection(&app, &org).await;
    assert_eq!(c["state"], "failing");
    assert_eq!(
        c["scim_tokens"][0]["last_request"]["route"],
        "/scim/v2/Users/{id}"
    );
    assert_eq!(c["scim_tokens"][0]["last_hour"]["client_errors"], 6);

    // Flushed to the database by the periodic task (not by the requests).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let row = entity::scim_tokens::Entity::find()
            .filter(entity::scim_tokens::Column::OrganizationId.eq(org.id.as_str()))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let stats = entity::connection_stats::Entity::find()
            .filter(entity::connection_stats::Column::TokenId.eq(row.id.as_str()))
            .all(&app.db)
            .await
            .unwrap();
        let flushed: i64 = stats.iter().map(|s| s.succeeded + s.client_errors).sum();
        if row.last_status == Some(404) && flushed == 7 {
            assert_eq!(
                row.last_user_agent.as_deref(),
                Some("Okta SCIM Client 1.0.0")
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never flushed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if app.metrics_address.is_some() {
        let text = metrics(&app).await;
        assert!(
            text.contains("offboard_scim_connections{state=\"failing\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("offboard_scim_connections{state=\"never_connected\"} 1"),
            "{text}"
        );
    }

    // Nothing for longer than OFFBOARD_CONNECTION_QUIET_AFTER: quiet.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(connection(&app, &org).await["state"], "quiet");

    // Unknown organization: 404; a revoked token is not listed.
    let res = app
        .admin_send(
            Method::GET,
            "/organizations/org_01JZZZZZZZZZZZZZZZZZZZZZZZ/connection",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
    let tok = c["scim_tokens"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/scim-tokens/{tok}", org.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert!(
        connection(&app, &org).await["scim_tokens"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
