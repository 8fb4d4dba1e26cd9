//! Probes and metrics.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, user_body};

async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(format!("{}/metrics", app.metrics_address.as_ref().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.text().await.unwrap()
}

/// Waits out the database gauges' cache, so the next scrape reads them again.
async fn past_gauge_ttl() {
    tokio::time::sleep(offboard::metrics::GAUGE_TTL + std::time::Duration::from_millis(100)).await;
}

/// The value of the sample whose line starts with `prefix` (name and labels); `None`
/// when the series is absent (which a test must expect, not read as 0).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

db_test!(probes_answer_and_metrics_move_when_a_user_is_deprovisioned);
async fn probes_answer_and_metrics_move_when_a_user_is_deprovisioned(app: TestApp) {
    let res = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "database": "ok", "migrations": "current"})
    );

    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &user_body("metrics.person@example.com"))
        .await;
    let before = scrape(&app).await;
    let patch =
        r#"offboard_http_requests_total{method="PATCH",route="/scim/v2/Users/{id}",status="200"}"#;
    let deactivated = r#"offboard_events{event_type="membership.deactivated"}"#;
    assert_eq!(sample(&before, deactivated), None, "no such event yet");

    let res = app.deactivate(&org, &id).await;
    assert_eq!(res.status().as_u16(), 200);
    past_gauge_ttl().await;
    let after = scrape(&app).await;
    assert_eq!(
        sample(&after, patch),
        Some(sample(&before, patch).unwrap_or(0.0) + 1.0)
    );
    assert_eq!(sample(&after, deactivated), Some(1.0));
    assert!(after.contains("offboard_http_request_duration_seconds_bucket"));
    assert!(after.contains("offboard_outbox_depth"));
    assert!(after.contains(r#"offboard_webhook_deliveries{status="dead"}"#));
    assert!(after.contains("offboard_webhook_oldest_pending_age_seconds"));
    // Labels carry route patterns, never ids, tokens or personal data.
    for secret in [
        id.as_str(),
        org.token.as_str(),
        org.id.as_str(),
        "metrics.person",
    ] {
        assert!(!after.contains(secret), "{secret} leaked into /metrics");
    }
}

db_test!(the_sqlite_writer_slot_is_timed);
async fn the_sqlite_writer_slot_is_timed(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &user_body("writer.person@example.com"))
        .await;
    let count = |text: &str, name: &str| sample(text, &format!("{name}_count"));
    let (hold, wait) = (
        "offboard_sqlite_writer_hold_seconds",
        "offboard_sqlite_writer_wait_seconds",
    );
    let before = scrape(&app).await;
    let res = app.deactivate(&org, &id).await;
    assert_eq!(res.status().as_u16(), 200);
    let after = scrape(&app).await;
    // The slot is this process's: other tests' writes count too, so only "at least one
    // more" is this PATCH's. On PostgreSQL there is no slot, but the series is there.
    for name in [hold, wait] {
        let (was, now) = (count(&before, name), count(&after, name));
        assert!(now.is_some(), "{name} is not in /metrics");
        if app.dir.is_some() {
            assert!(
                now.unwrap() >= was.unwrap() + 1.0,
                "{name}: {was:?} then {now:?}"
            );
        }
    }
    assert!(after.contains(&format!("{hold}_bucket{{le=\"0.0001\"}}")));
}

db_test!(metrics_stay_off_the_scim_port_and_labels_never_grow_with_input);
async fn metrics_stay_off_the_scim_port_and_labels_never_grow_with_input(app: TestApp) {
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        404,
        "/metrics is not on the IdPs' port"
    );

    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("INVENT{i}").as_bytes()).unwrap();
        app.client
            .request(method, format!("{}/scim/v2/Users", app.address))
            .send()
            .await
            .unwrap();
    }
    let text = scrape(&app).await;
    assert!(!text.contains("INVENT"), "a client chose a label");
    let other =
        r#"offboard_http_requests_total{method="OTHER",route="/scim/v2/Users",status="405"}"#;
    assert_eq!(sample(&text, other), Some(50.0));
    let series = text
        .lines()
        .filter(|l| l.starts_with("offboard_http_requests_total{"))
        .count();
    assert!(series < 10, "{series} request series");
}

db_test!(database_gauges_are_read_at_most_once_per_interval);
async fn database_gauges_are_read_at_most_once_per_interval(app: TestApp) {
    let org = app.create_org("Acme").await;
    let created = r#"offboard_events{event_type="membership.created"}"#;
    let first = scrape(&app).await;
    assert_eq!(sample(&first, created), None);
    app.create_user(&org, &user_body("gauge@example.com")).await;
    let cached = scrape(&app).await;
    assert_eq!(
        sample(&cached, created),
        None,
        "a scrape within the interval reuses the gauges"
    );
    past_gauge_ttl().await;
    let fresh = scrape(&app).await;
    assert_eq!(sample(&fresh, created), Some(1.0));
}
