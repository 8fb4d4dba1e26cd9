//! Content directives on the operator's deletions: accepted in both spellings, refused
//! when they are not booleans, recorded in the audit row and carried to the application
//! in `membership.deleted` and `user.deleted`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, user_body};
use crate::receiver::Mode;
use crate::webhooks::{WAIT, endpoint};

async fn audit_rows(app: &TestApp, action: &str) -> Vec<Value> {
    let res = app
        .admin_send(Method::GET, "/audit-log?limit=1000", None)
        .await;
    let page = expect_json(res, 200).await;
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["action"] == json!(action))
        .cloned()
        .collect()
}

/// A user of `org`, returned as (SCIM id, account id).
async fn member(app: &TestApp, org: &Org, name: &str) -> (String, String) {
    let scim = app.create_user(org, &user_body(name)).await;
    let account = app.account_of(org, &scim).await;
    (scim, account)
}

db_test!(
    directives_travel_signed_to_the_application_in_both_deletion_events,
    [("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")]
);
async fn directives_travel_signed_to_the_application_in_both_deletion_events(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = member(&app, &org, "gone@example.com").await;
    let (_, receiver) = endpoint(
        &app,
        Mode::Accept,
        json!({"event_types": ["membership.deleted", "user.deleted"]}),
    )
    .await;

    let body = json!({"confirm": true, "deleteAll": true, "hard_delete_comments": true});
    let res = app
        .admin_send(Method::DELETE, &format!("/users/{user}"), Some(&body))
        .await;
    assert_eq!(res.status(), 204);

    receiver.wait_for_events(2, WAIT).await;
    assert_eq!(receiver.rejected_signatures(), 0);
    let want = json!({
        "delete_all": true,
        "mark_messages_deleted": false,
        "hard_delete_posts": false,
        "hard_delete_comments": true
    });
    let got: Vec<(String, Value)> = receiver
        .accepted()
        .iter()
        .map(|r| {
            (
                r.body["type"].as_str().expect("type").to_string(),
                r.body["data"]["content"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("membership.deleted".to_string(), want.clone()),
            ("user.deleted".to_string(), want.clone())
        ]
    );
    let rows = audit_rows(&app, "user.delete").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["details"]["content"], want);
}

db_test!(per_organization_removal_carries_the_camel_case_directives);
async fn per_organization_removal_carries_the_camel_case_directives(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = member(&app, &org, "left@example.com").await;
    let body = json!({
        "confirm": true,
        "markMessageDeleted": true,
        "hardDeletePost": true,
        "transfer_resources_to_department_id": "dept_eng001"
    });
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/users/{user}", org.id),
            Some(&body),
        )
        .await;
    assert_eq!(res.status(), 204);
    let want = json!({
        "delete_all": false,
        "mark_messages_deleted": true,
        "hard_delete_posts": true,
        "hard_delete_comments": false
    });
    let payloads = app.event_payloads(&org).await;
    let of = |t: &str| {
        payloads
            .iter()
            .find(|p| p["type"] == json!(t))
            .unwrap_or_else(|| panic!("no {t}"))["data"]
            .clone()
    };
    let deleted = of("membership.deleted");
    assert_eq!(deleted["content"], want);
    assert_eq!(
        deleted["transfer_resources_to_department_id"],
        json!("dept_eng001")
    );
    // That was the account's last membership: it went too, with the same directives.
    assert_eq!(of("user.deleted")["content"], want);
    let rows = audit_rows(&app, "membership.delete").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["details"]["content"], want);
}

db_test!(a_deletion_without_directives_carries_no_content);
async fn a_deletion_without_directives_carries_no_content(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = member(&app, &org, "plain@example.com").await;
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    for p in app.event_payloads(&org).await {
        assert!(p["data"].get("content").is_none(), "{p}");
    }
}

db_test!(bad_directives_are_refused_and_change_nothing);
async fn bad_directives_are_refused_and_change_nothing(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = member(&app, &org, "stays@example.com").await;
    let before = app.event_types(&org).await;
    let cases = [
        (
            json!({"confirm": true, "deleteAll": "true"}),
            "INVALID_CONTENT_DIRECTIVE",
            Some("deleteAll"),
        ),
        (
            json!({"confirm": true, "hard_delete_posts": 1}),
            "INVALID_CONTENT_DIRECTIVE",
            Some("hard_delete_posts"),
        ),
        (
            json!({"confirm": true, "hardDeleteComment": null}),
            "INVALID_CONTENT_DIRECTIVE",
            Some("hardDeleteComment"),
        ),
        (
            json!({"confirm": true, "delete_all": true, "deleteAll": true}),
            "INVALID_CONTENT_DIRECTIVE",
            Some("delete_all"),
        ),
        (
            json!({"confirm": true, "deleteEverything": true}),
            "VALIDATION_ERROR",
            None,
        ),
        (
            json!({"hard_delete_posts": true}),
            "CONFIRMATION_REQUIRED",
            None,
        ),
    ];
    let paths = [
        format!("/users/{user}"),
        format!("/organizations/{}/users/{user}", org.id),
    ];
    for path in &paths {
        for (body, code, field) in &cases {
            let res = app.admin_send(Method::DELETE, path, Some(body)).await;
            let err = expect_json(res, 422).await;
            assert_eq!(err["error"]["code"], json!(code), "{path} {body}: {err}");
            if let Some(f) = field {
                assert_eq!(err["error"]["details"]["field"], json!(f), "{err}");
            }
        }
    }
    let account = app.admin_user(&user).await;
    assert_eq!(account["status"], json!("ACTIVE"));
    assert_eq!(account["memberships"][0]["status"], json!("ACTIVE"));
    assert_eq!(app.event_types(&org).await, before, "no event");
    assert!(audit_rows(&app, "user.delete").await.is_empty());
    assert!(audit_rows(&app, "membership.delete").await.is_empty());
}
