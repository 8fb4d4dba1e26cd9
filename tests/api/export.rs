//! The export before erasure: everything offboard holds about one person, and nothing
//! about anyone else; available until the purge erases the data.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, Org, TestApp, expect_json, fixture, spawn_app_with, user_body};

fn with_title(email: &str, title: &str) -> Value {
    let mut body = user_body(email);
    body["title"] = json!(title);
    body
}

async fn export(app: &TestApp, user: &str) -> reqwest::Response {
    app.admin_send(Method::GET, &format!("/users/{user}/export"), None)
        .await
}

async fn group_with(app: &TestApp, org: &Org, name: &str, members: &[&str]) {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members
    });
    expect_json(app.post(org, "/Groups", &body).await, 201).await;
}

db_test!(an_export_holds_each_organizations_record_and_nothing_of_another_person);
async fn an_export_holds_each_organizations_record_and_nothing_of_another_person(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let sam_a = app
        .create_user(&a, &with_title("sam@example.com", "Engineer at A"))
        .await;
    let sam_b = app
        .create_user(&b, &with_title("sam@example.com", "Advisor at B"))
        .await;
    let sam = app.account_of(&a, &sam_a).await;
    // Another person, in the same organization and the same group.
    let kim_a = app
        .create_user(&a, &with_title("kim.other@example.com", "Kim's title"))
        .await;
    group_with(&app, &a, "Platform", &[&sam_a, &kim_a]).await;
    let session = app.create_session(&a, &sam).await;
    let res = app
        .patch(
            &a,
            &format!("/Users/{sam_a}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);

    let doc = expect_json(export(&app, &sam).await, 200).await;
    assert_eq!(doc["account"]["id"], json!(sam));
    assert_eq!(doc["account"]["email"], json!("sam@example.com"));
    let ms = doc["memberships"].as_array().expect("memberships");
    assert_eq!(ms.len(), 2);
    let of = |scim_id: &str| {
        ms.iter()
            .find(|m| m["scim_id"] == json!(scim_id))
            .unwrap_or_else(|| panic!("membership {scim_id}"))
            .clone()
    };
    let in_a = of(&sam_a);
    assert_eq!(in_a["scim_record"]["title"], json!("Engineer at A"));
    assert_eq!(in_a["status"], json!("INACTIVE"));
    assert_eq!(in_a["groups"][0]["display_name"], json!("Platform"));
    assert_eq!(of(&sam_b)["scim_record"]["title"], json!("Advisor at B"));
    let sessions = doc["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], json!(session));
    assert!(sessions[0]["revoked_at"].is_string());
    let events = doc["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for t in [
        "user.created",
        "membership.created",
        "group.member_added",
        "membership.deactivated",
        "sessions.revoked",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    for e in events {
        assert_eq!(e["data"]["user"]["id"], json!(sam), "{e}");
    }
    let audit = doc["audit"].as_array().expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == json!("scim.user.create")),
        "{audit:?}"
    );
    assert_eq!(doc["truncated"], json!([]));
    // Nothing of the other person: not their ids, their email or their record.
    let text = doc.to_string();
    let kim = app.account_of(&a, &kim_a).await;
    for other in [kim.as_str(), kim_a.as_str(), "kim.other", "Kim's title"] {
        assert!(!text.contains(other), "{other} leaked into the export");
    }

    // The export itself is audited.
    let log = expect_json(
        app.admin_send(Method::GET, "/audit-log?limit=1000", None)
            .await,
        200,
    )
    .await;
    let exports: Vec<&Value> = log["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["action"] == json!("user.export"))
        .collect();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0]["target"]["id"], json!(sam));
    assert_eq!(exports[0]["details"]["memberships"], json!(2));

    assert_eq!(
        export(&app, "usr_01J9NOSUCHUSER000000000000")
            .await
            .status(),
        404
    );
}

db_test!(
    an_export_is_available_through_the_grace_period_and_gone_after_the_purge,
    [("OFFBOARD_DELETION_GRACE", "1h")]
);
async fn an_export_is_available_through_the_grace_period_and_gone_after_the_purge(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &with_title("leaving@example.com", "Keeper"))
        .await;
    let user = app.account_of(&org, &id).await;
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    let doc = expect_json(export(&app, &user).await, 200).await;
    assert!(doc["account"]["deleted_at"].is_string());
    assert_eq!(doc["account"]["email"], json!("leaving@example.com"));
    assert_eq!(
        doc["memberships"][0]["scim_record"]["title"],
        json!("Keeper")
    );

    app.purge_at(Utc::now() + Duration::hours(2)).await;
    assert_eq!(
        export(&app, &user).await.status(),
        404,
        "erased: nothing to export"
    );
}

db_test!(without_a_grace_period_a_deleted_account_has_nothing_to_export);
async fn without_a_grace_period_a_deleted_account_has_nothing_to_export(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("gone@example.com")).await;
    let user = app.account_of(&org, &id).await;
    assert_eq!(export(&app, &user).await.status(), 200);
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    assert_eq!(export(&app, &user).await.status(), 404);
}

/// `offboard user export` prints the same document, from the database `serve` uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_export() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("cli@example.com")).await;
    let user = app.account_of(&org, &id).await;
    let dir = app.dir.as_ref().expect("SQLite folder");
    let url = format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display());
    let run = |who: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(["user", "export", who])
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run offboard")
    };
    let out = run(&user);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["account"]["id"], json!(user));
    assert_eq!(doc["memberships"][0]["scim_id"], json!(id));
    let missing = run("usr_01J9NOSUCHUSER000000000000");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("usr_01J9NOSUCHUSER000000000000"));
}
