//! Suspension: a ban without data loss, in every organization, lifted by the operator or
//! by its expiry; SCIM `active` stays what each IdP set.

use chrono::{Duration, Utc};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, user_body};

/// One account in two organizations (linked through a verified domain), with a session
/// in each: (org a, org b, account id, session in a, session in b).
async fn shared_account(app: &TestApp) -> (Org, Org, String, String, String) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let in_a = app.create_user(&a, &user_body("sam@example.com")).await;
    let in_b = app.create_user(&b, &user_body("sam@example.com")).await;
    let user = app.account_of(&a, &in_a).await;
    assert_eq!(app.account_of(&b, &in_b).await, user);
    let sa = app.create_session(&a, &user).await;
    let sb = app.create_session(&b, &user).await;
    (a, b, user, sa, sb)
}

async fn post(app: &TestApp, path: &str, body: Option<&Value>) -> reqwest::Response {
    app.admin_send(Method::POST, path, body).await
}

async fn new_session(app: &TestApp, org: &Org, user: &str) -> reqwest::Response {
    let body =
        json!({"user_id": user, "organization_id": org.id, "expires_at": "2999-01-01T00:00:00Z"});
    post(app, "/sessions", Some(&body)).await
}

fn types_since(types: &[String], n: usize) -> Vec<&str> {
    types[n..].iter().map(String::as_str).collect()
}

db_test!(suspension_ends_sessions_everywhere_refuses_new_ones_and_leaves_scim_alone);
async fn suspension_ends_sessions_everywhere_refuses_new_ones_and_leaves_scim_alone(app: TestApp) {
    let (a, b, user, sa, sb) = shared_account(&app).await;
    let (before_a, before_b) = (
        app.event_types(&a).await.len(),
        app.event_types(&b).await.len(),
    );

    let body = json!({"reason": "  chargeback fraud  ", "until": null});
    let res = post(&app, &format!("/users/{user}/suspend"), Some(&body)).await;
    let view = expect_json(res, 200).await;
    assert_eq!(view["suspended"], json!(true));
    assert_eq!(view["suspension"]["reason"], json!("chargeback fraud"));
    assert_eq!(view["suspension"]["until"], Value::Null);
    assert_eq!(
        view["status"],
        json!("ACTIVE"),
        "the account and its data stay"
    );
    for m in view["memberships"].as_array().expect("memberships") {
        assert_eq!(m["status"], json!("ACTIVE"), "each IdP's status is kept");
    }
    assert!(!app.session_active(&sa).await && !app.session_active(&sb).await);
    for org in [&a, &b] {
        let res = new_session(&app, org, &user).await;
        let err = expect_json(res, 409).await;
        assert_eq!(err["error"]["code"], json!("USER_SUSPENDED"));
    }
    // SCIM still reads what the IdP set: no drift for the IdP to fight.
    let scim_id = app.get_json(&a, "/Users").await["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        app.get_json(&a, &format!("/Users/{scim_id}")).await["active"],
        json!(true)
    );

    let types_a = app.event_types(&a).await;
    assert_eq!(
        types_since(&types_a, before_a),
        ["user.suspended", "sessions.revoked"]
    );
    let types_b = app.event_types(&b).await;
    assert_eq!(
        types_since(&types_b, before_b),
        ["user.suspended", "sessions.revoked"]
    );
    let suspended = app
        .event_payloads(&a)
        .await
        .into_iter()
        .find(|p| p["type"] == json!("user.suspended"))
        .expect("user.suspended");
    assert_eq!(suspended["data"]["user"]["id"], json!(user));
    assert!(
        !suspended.to_string().contains("chargeback"),
        "the reason stays out of events"
    );

    // Lifted: sessions may start again, and both organizations hear it.
    let res = post(&app, &format!("/users/{user}/unsuspend"), None).await;
    let view = expect_json(res, 200).await;
    assert_eq!(view["suspended"], json!(false));
    assert_eq!(view["suspension"], Value::Null);
    assert_eq!(new_session(&app, &a, &user).await.status(), 201);
    for (org, before) in [(&a, before_a), (&b, before_b)] {
        let types = app.event_types(org).await;
        assert_eq!(types.last().map(String::as_str), Some("user.unsuspended"));
        assert_eq!(types.len(), before + 3);
    }
    let res = post(&app, &format!("/users/{user}/unsuspend"), None).await;
    let err = expect_json(res, 409).await;
    assert_eq!(err["error"]["code"], json!("NOT_SUSPENDED"));
    let res = app
        .admin_send(Method::GET, "/audit-log?limit=1000", None)
        .await;
    let log = expect_json(res, 200).await;
    let actions: Vec<&str> = log["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["target"]["id"] == json!(user))
        .filter_map(|r| r["action"].as_str())
        .filter(|a| a.starts_with("user."))
        .collect();
    assert_eq!(actions, ["user.suspend", "user.unsuspend"]);
}

db_test!(a_suspension_ends_at_its_until_and_the_purge_reports_it);
async fn a_suspension_ends_at_its_until_and_the_purge_reports_it(app: TestApp) {
    let (a, _b, user, _, _) = shared_account(&app).await;
    let until = Utc::now() + Duration::hours(1);
    let body = json!({"until": until.to_rfc3339()});
    let res = post(&app, &format!("/users/{user}/suspend"), Some(&body)).await;
    let view = expect_json(res, 200).await;
    assert!(view["suspension"]["until"].is_string());
    assert_eq!(new_session(&app, &a, &user).await.status(), 409);

    // Before its time nothing ends; at its time the purge ends it.
    let early = app.purge_at(until - Duration::seconds(1)).await;
    assert_eq!(early.suspensions_ended, 0);
    assert_eq!(app.admin_user(&user).await["suspended"], json!(true));
    let report = app.purge_at(until).await;
    assert_eq!(report.suspensions_ended, 1);
    assert_eq!(app.purge_at(until).await.suspensions_ended, 0, "once");
    assert_eq!(app.admin_user(&user).await["suspended"], json!(false));
    let last = app.event_payloads(&a).await.pop().expect("event");
    assert_eq!(last["type"], json!("user.unsuspended"));
    assert_eq!(last["data"]["expired"], json!(true));
    assert_eq!(new_session(&app, &a, &user).await.status(), 201);
}

db_test!(bad_suspensions_are_refused_and_change_nothing);
async fn bad_suspensions_are_refused_and_change_nothing(app: TestApp) {
    let (a, _b, user, sa, _) = shared_account(&app).await;
    let before = app.event_types(&a).await;
    let path = format!("/users/{user}/suspend");
    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    for body in [
        json!({"until": past}),
        json!({"until": "next tuesday"}),
        json!({"until": 1_900_000_000}),
        json!({"reason": "x".repeat(501)}),
        json!({"reason": "a\u{7}b"}),
        json!({"reason": 42}),
        json!({"reason": "ok", "forever": true}),
        json!([]),
    ] {
        let res = post(&app, &path, Some(&body)).await;
        assert_eq!(res.status(), 422, "{body}");
        let err = expect_json(res, 422).await;
        assert_eq!(err["error"]["code"], json!("VALIDATION_ERROR"), "{body}");
    }
    let res = post(
        &app,
        "/users/usr_01J9NOSUCHUSER000000000000/suspend",
        Some(&json!({})),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert!(app.session_active(&sa).await);
    assert_eq!(app.event_types(&a).await, before, "no event");
    assert_eq!(app.admin_user(&user).await["suspended"], json!(false));
    // SCIM tokens cannot reach the admin API.
    let res = app
        .client
        .post(app.admin(&path))
        .bearer_auth(&a.token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);

    // A deleted account cannot be suspended.
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    let res = post(&app, &path, Some(&json!({}))).await;
    let err = expect_json(res, 409).await;
    assert_eq!(err["error"]["code"], json!("USER_DELETED"));
}

db_test!(erasing_a_suspended_account_erases_its_suspension);
async fn erasing_a_suspended_account_erases_its_suspension(app: TestApp) {
    let (_a, _b, user, _, _) = shared_account(&app).await;
    let body = json!({"reason": "reported by a colleague"});
    let res = post(&app, &format!("/users/{user}/suspend"), Some(&body)).await;
    assert_eq!(res.status(), 200);
    let rows = entity::suspensions::Entity::find()
        .all(&app.db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    let rows = entity::suspensions::Entity::find()
        .all(&app.db)
        .await
        .expect("rows");
    assert!(rows.is_empty(), "the reason went with the personal data");
}
