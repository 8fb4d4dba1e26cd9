//! `offboard doctor` as an operator runs it, beside a running app: what it says of a
//! sound deployment, and each thing it must catch.

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_SECRET, Backend, TestApp, spawn_app_with, user_body};
use crate::receiver::{Mode, Receiver};

fn db_url(app: &TestApp) -> String {
    let dir = app.dir.as_ref().expect("a SQLite app");
    format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display())
}

/// Runs `offboard doctor --json` (and `extra` arguments) with these settings; returns
/// whether it succeeded and its report.
async fn doctor(url: &str, extra: &[&str], env: &[(&str, &str)]) -> (bool, Value) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_offboard"));
    cmd.arg("doctor")
        .arg("--json")
        .args(extra)
        .env("OFFBOARD_DATABASE_URL", url)
        .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
        .env("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run offboard doctor");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.success(), report["ok"] == json!(true));
    (out.status.success(), report)
}

fn status_of<'a>(report: &'a Value, check: &str) -> Vec<(&'a str, &'a str)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with(check))
        .map(|c| {
            (
                c["status"].as_str().unwrap(),
                c["message"].as_str().unwrap(),
            )
        })
        .collect()
}

/// Adds an endpoint for the receiver, which then verifies with its secret.
async fn add_endpoint(app: &TestApp, receiver: &Receiver) -> String {
    let res = app
        .admin_send(
            Method::POST,
            "/webhook-endpoints",
            Some(&json!({"url": receiver.url})),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap_or_else(|| panic!("{body}"));
    receiver.set_secrets(&[secret]);
    body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_passes_a_sound_deployment_and_names_what_needs_attention() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("OFFBOARD_WEBHOOK_DISPATCH", "false"),
        ],
    )
    .await;
    let org = app.create_org("Acme").await;
    app.create_user(&org, &user_body("kim@example.com")).await;
    let receiver = Receiver::start("unused", Mode::Accept).await;
    let ep = add_endpoint(&app, &receiver).await;

    let (ok, report) = doctor(&db_url(&app), &[], &[]).await;
    assert!(ok, "{report:#}");
    for check in [
        "config.admin_credentials",
        "config.listen",
        "config.deletion_grace",
        "database.reachable",
        "database.migrations",
        "database.journal_mode",
        "scim_tokens",
        "webhooks.dead_deliveries",
        "guard.held",
    ] {
        assert_eq!(status_of(&report, check)[0].0, "ok", "{check}: {report:#}");
    }
    let endpoint = status_of(&report, &format!("webhooks.endpoint.{ep}"));
    assert_eq!(endpoint[0].0, "ok", "{report:#}");
    assert!(
        receiver.received().is_empty(),
        "without --send-test nothing is sent (and the dispatcher is off)"
    );
    assert!(
        !report.to_string().contains(ADMIN_SECRET),
        "never the secret"
    );

    // --send-test: the receiver gets the signed test event.
    let (ok, report) = doctor(&db_url(&app), &["--send-test"], &[]).await;
    assert!(ok, "{report:#}");
    assert!(
        status_of(&report, &format!("webhooks.endpoint.{ep}"))[0]
            .1
            .contains("accepted")
    );
    assert_eq!(
        receiver.accepted().len(),
        1,
        "signed with the endpoint's secret"
    );
    assert_eq!(receiver.accepted()[0].body["type"], "webhook.test");

    // A receiver that refuses, a host that does not resolve: failing lines, failing exit.
    receiver.set_mode(Mode::Fail(500));
    let res = app
        .admin_send(
            Method::POST,
            "/webhook-endpoints",
            Some(&json!({"url": receiver.url})),
        )
        .await;
    let gone = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        &format!(
            "UPDATE webhook_endpoints SET url = 'http://nowhere.invalid/hook' WHERE id = '{gone}'"
        ),
    )
    .await
    .unwrap();
    let (ok, report) = doctor(&db_url(&app), &["--send-test"], &[]).await;
    assert!(!ok);
    let refused = status_of(&report, &format!("webhooks.endpoint.{ep}"));
    assert_eq!(refused[0].0, "fail");
    assert!(refused[0].1.contains("HTTP 500"), "{report:#}");
    let unresolved = status_of(&report, &format!("webhooks.endpoint.{gone}"));
    assert_eq!(unresolved[0].0, "fail");
    assert!(unresolved[0].1.contains("does not resolve"), "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_warns_of_unused_tokens_dead_deliveries_and_held_deprovisionings() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("OFFBOARD_WEBHOOK_POLL_INTERVAL", "50ms"),
            ("OFFBOARD_WEBHOOK_RETRY_SCHEDULE", "20ms"),
        ],
    )
    .await;
    // A receiver that refuses everything: its deliveries die after one retry.
    let receiver = Receiver::start("unused", Mode::Fail(500)).await;
    add_endpoint(&app, &receiver).await;
    let org = app
        .create_org_with(
            "Acme",
            json!({"deprovision_guard": {"max_count": 1, "max_percent": 0}}),
        )
        .await;
    let a = app.create_user(&org, &user_body("a@example.com")).await;
    let b = app.create_user(&org, &user_body("b@example.com")).await;
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(
        app.patch(&org, &format!("/Users/{a}"), &off).await.status(),
        200
    );
    assert_eq!(
        app.patch(&org, &format!("/Users/{b}"), &off).await.status(),
        429
    );
    // A token made long ago and never used.
    let idle = app.create_org("Idle").await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE scim_tokens SET created_at = '2020-01-01T00:00:00+00:00' WHERE organization_id = '{}'",
            idle.id
        ))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let report = loop {
        let (ok, report) = doctor(&db_url(&app), &[], &[]).await;
        assert!(ok, "warnings do not fail: {report:#}");
        if status_of(&report, "webhooks.dead_deliveries")[0].0 == "warn" {
            break report;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery died: {report:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        status_of(&report, "webhooks.dead_deliveries")[0]
            .1
            .contains("dead")
    );
    let held = status_of(&report, "guard.held");
    assert_eq!(held[0].0, "warn");
    assert!(held[0].1.contains(&org.id), "{report:#}");
    let tokens = status_of(&report, "scim_token.");
    assert_eq!(tokens.len(), 1, "{report:#}");
    assert!(tokens[0].1.contains(&idle.id) && tokens[0].1.contains("never used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_fails_on_what_would_stop_offboard() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    // A secret too short: the configuration is the failing line.
    let (ok, report) = doctor(
        &db_url(&app),
        &[],
        &[("OFFBOARD_ADMIN_JWT_SECRET", "short")],
    )
    .await;
    assert!(!ok);
    assert_eq!(status_of(&report, "config")[0].0, "fail");
    // A listen address that is not one.
    let (ok, report) = doctor(&db_url(&app), &[], &[("OFFBOARD_LISTEN", "8080")]).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "config.listen")[0].0, "fail");
    // A database written by a newer release.
    app.db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_from_the_future', 0)",
        )
        .await
        .unwrap();
    let (ok, report) = doctor(&db_url(&app), &[], &[]).await;
    assert!(!ok);
    let m = status_of(&report, "database.migrations");
    assert_eq!(m[0].0, "fail");
    assert!(m[0].1.contains("newer"), "{report:#}");
    // And `serve` and `migrate` refuse it, saying so.
    for command in ["migrate", "serve"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .arg(command)
            .env("OFFBOARD_DATABASE_URL", db_url(&app))
            .env("OFFBOARD_LISTEN", "127.0.0.1:0")
            .env("OFFBOARD_METRICS_LISTEN", "off")
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "migrated by a newer offboard (migration m20991231_000001_from_the_future)"
            ),
            "{command}: {err}"
        );
    }
    // A database that is not there is not created.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let (ok, report) = doctor(
        &format!("sqlite://{}?mode=rwc", missing.display()),
        &[],
        &[],
    )
    .await;
    assert!(!ok);
    assert_eq!(status_of(&report, "database.reachable")[0].0, "fail");
    assert!(!missing.exists(), "the doctor changes nothing");
    // PostgreSQL that does not answer.
    let (ok, report) = doctor("postgres://postgres@127.0.0.1:1/none", &[], &[]).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "database.reachable")[0].0, "fail");
}

/// HTTPS as the doctor sees it: a certificate about to end warns, an expired one or a key
/// that is not the certificate's fails; once SCIM tokens exist, an address IdPs would call
/// over plain HTTP fails, and an https:// one is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_checks_the_certificate_and_the_address_idps_call() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let ca = crate::tls::Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    use chrono::Datelike;
    let pair = |serial, end: (i32, u8, u8)| ca.leaf(serial, end);
    let tls = |cert: &std::path::Path, key: &std::path::Path| {
        [
            ("OFFBOARD_TLS_CERT", cert.display().to_string()),
            ("OFFBOARD_TLS_KEY", key.display().to_string()),
        ]
    };
    let run = async |env: &[(&str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        doctor(&db_url(&app), &[], &env).await
    };

    let (cert, key) = crate::tls::write_pair(
        dir.path(),
        &pair(1, (soon.year(), soon.month() as u8, soon.day() as u8)),
    );
    let (_, report) = run(&tls(&cert, &key)).await;
    let c = status_of(&report, "config.tls");
    assert_eq!(c[0].0, "warn", "{report:#}");
    assert!(c[0].1.contains("expires in"), "{report:#}");

    crate::tls::write_pair(dir.path(), &pair(2, (2021, 1, 1)));
    let (ok, report) = run(&tls(&cert, &key)).await;
    assert!(!ok);
    assert_eq!(status_of(&report, "config.tls")[0].0, "fail");

    let (other_cert, _) = pair(3, (2099, 1, 1));
    let (_, other_key) = pair(4, (2099, 1, 1));
    crate::tls::write_pair(dir.path(), &(other_cert, other_key));
    let (ok, report) = run(&tls(&cert, &key)).await;
    assert!(!ok);
    let c = status_of(&report, "config.tls");
    assert_eq!(c[0].0, "fail");
    assert!(
        c[0].1.contains("is not the key of the certificate"),
        "{report:#}"
    );

    // No token yet: no IdP is expected.
    let http = [("OFFBOARD_PUBLIC_URL", "http://scim.example.com".to_string())];
    let (_, report) = run(&http).await;
    assert_eq!(status_of(&report, "config.public_url")[0].0, "ok");
    app.create_org("Acme").await;
    let (ok, report) = run(&http).await;
    assert!(!ok);
    let c = status_of(&report, "config.public_url");
    assert_eq!(c[0].0, "fail", "{report:#}");
    assert!(c[0].1.contains("https://"), "{report:#}");
    let (_, report) = run(&[(
        "OFFBOARD_PUBLIC_URL",
        "https://scim.example.com".to_string(),
    )])
    .await;
    assert_eq!(status_of(&report, "config.public_url")[0].0, "ok");
}
