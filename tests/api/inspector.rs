//! The SCIM request inspector: an organization's recent requests as its IdP sent them,
//! personal values redacted, errors answered, paged newest first; full bodies only in an
//! audited window; bounded per organization.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, SCIM_JSON, TestApp, expect_json, fixture};

async fn requests(app: &TestApp, org: &Org, query: &str) -> Value {
    let res = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/requests{query}", org.id),
            None,
        )
        .await;
    expect_json(res, 200).await
}

fn data(page: &Value) -> Vec<Value> {
    page["data"].as_array().cloned().unwrap_or_default()
}

db_test!(the_inspector_shows_what_the_idp_sent_with_personal_values_redacted);
async fn the_inspector_shows_what_the_idp_sent_with_personal_values_redacted(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let create = fixture("entra/create_user.json");
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", SCIM_JSON)
        .header("x-request-id", "entra-trace-1")
        .body(create.to_string())
        .send()
        .await
        .unwrap();
    let id = expect_json(res, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let disable = fixture("entra/disable_user.json");
    let res = app
        .scim_send(Method::PATCH, &org, &format!("/Users/{id}"), Some(&disable))
        .await;
    assert_eq!(res.status(), 200);
    // A broken body: refused, and the refusal is what the operator looks for.
    let res = app
        .scim_send(
            Method::POST,
            &org,
            "/Users",
            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 42, "displayName": "Mallory Secret"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .scim_send(
            Method::GET,
            &org,
            "/Users?filter=userName%20eq%20%22hidden%40example.com%22&count=5",
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // Another organization's traffic is not this one's.
    let res = app.scim_send(Method::GET, &other, "/Users", None).await;
    assert_eq!(res.status(), 200);

    let page = requests(&app, &org, "").await;
    let rows = data(&page);
    let text = page.to_string();
    for personal in [
        create["userName"].as_str().unwrap(),
        create["emails"][0]["value"].as_str().unwrap(),
        create["externalId"].as_str().unwrap(),
        "Mallory Secret",
        "hidden@example.com",
    ] {
        assert!(!text.contains(personal), "{personal} is kept in {text}");
    }
    assert_eq!(rows.len(), 4, "{rows:?}");
    // Newest first.
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["GET", "POST", "PATCH", "POST"]);

    let created = &rows[3];
    assert_eq!(created["status"], 201);
    assert_eq!(created["route"], "/scim/v2/Users");
    assert_eq!(created["request_id"], "entra-trace-1");
    assert_eq!(created["error"], Value::Null);
    assert_eq!(created["full_body"], Value::Null);
    assert!(created["latency_ms"].as_i64().unwrap() >= 0);
    let body = &created["body"];
    assert_eq!(body["schemas"], create["schemas"], "schema URNs are kept");
    assert_eq!(body["active"], true);
    assert_eq!(body["userName"], "…");
    assert_eq!(body["emails"][0]["value"], "…");
    assert_eq!(body["emails"][0]["primary"], true);
    assert_eq!(body["name"]["givenName"], "…");

    let patched = &rows[2];
    assert_eq!(patched["route"], "/scim/v2/Users/{id}");
    assert_eq!(patched["path"], format!("/scim/v2/Users/{id}"));
    assert_eq!(patched["body"], disable, "a deactivation is shown as sent");

    let refused = &rows[1];
    assert_eq!(refused["status"], 400);
    assert!(refused["error"]["scim_type"].is_string(), "{refused}");
    assert!(refused["error"]["detail"].is_string(), "{refused}");
    assert_eq!(refused["body"]["userName"], "…");

    let listed = &rows[0];
    assert_eq!(listed["body"], Value::Null);
    assert_eq!(listed["query"], "filter=userName eq \"…\"&count=5");

    // The token that made them, never the token itself.
    let tokens = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/organizations/{}/scim-tokens", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(
        rows.iter()
            .all(|r| r["scim_token_id"] == tokens["data"][0]["id"])
    );
    assert!(!text.contains(&org.token));

    // Filters and pages.
    let refusals = data(&requests(&app, &org, "?status=4xx").await);
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["id"], refused["id"]);
    let created_only = data(&requests(&app, &org, "?status=201").await);
    assert_eq!(created_only.len(), 1);
    let first = requests(&app, &org, "?limit=3").await;
    assert_eq!(data(&first).len(), 3);
    let after = first["next_after"].as_str().unwrap();
    let second = data(&requests(&app, &org, &format!("?limit=3&after={after}")).await);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["id"], created["id"]);

    // The other organization sees only its own request.
    assert_eq!(data(&requests(&app, &other, "").await).len(), 1);
}

db_test!(asking_for_requests_wrongly_is_refused_and_unknown_organizations_are_not_found);
async fn asking_for_requests_wrongly_is_refused_and_unknown_organizations_are_not_found(
    app: TestApp,
) {
    let org = app.create_org("Acme").await;
    for bad in [
        "?status=6xx",
        "?status=abc",
        "?status=99",
        "?limit=0",
        "?nope=1",
    ] {
        let res = app
            .admin_send(
                Method::GET,
                &format!("/organizations/{}/requests{bad}", org.id),
                None,
            )
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = app
        .admin_send(Method::GET, "/organizations/org_nope/requests", None)
        .await;
    assert_eq!(res.status(), 404);
}

db_test!(full_bodies_are_kept_only_inside_an_audited_window_of_at_most_a_day);
async fn full_bodies_are_kept_only_inside_an_audited_window_of_at_most_a_day(app: TestApp) {
    let org = app.create_org("Acme").await;
    let path = format!("/organizations/{}", org.id);
    for bad in [
        json!("25h"),
        json!("yesterday"),
        json!("2000-01-01T00:00:00Z"),
        json!(3),
    ] {
        let res = app
            .admin_send(
                Method::PATCH,
                &path,
                Some(&json!({"inspect_full_bodies_until": bad})),
            )
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let updated = expect_json(
        app.admin_send(
            Method::PATCH,
            &path,
            Some(&json!({"inspect_full_bodies_until": "1h"})),
        )
        .await,
        200,
    )
    .await;
    assert!(updated["inspect_full_bodies_until"].is_string());
    assert!(
        app.audit_actions(&org)
            .await
            .contains(&"organization.update".to_string())
    );
    let audit = offboard::store::audit::list_for_organization(&app.db, &org.org_id())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.details["inspect_full_bodies_until"].is_string()),
        "the window is audited"
    );

    let create = fixture("okta/create_user.json");
    app.create_user(&org, &create).await;
    let rows = data(&requests(&app, &org, "").await);
    let full = rows[0]["full_body"].as_str().unwrap();
    let sent: Value = serde_json::from_str(full).unwrap();
    assert_eq!(sent, create, "inside the window the body is kept as sent");
    assert_eq!(
        rows[0]["body"]["userName"], "…",
        "the redacted form is kept too"
    );

    expect_json(
        app.admin_send(
            Method::PATCH,
            &path,
            Some(&json!({"inspect_full_bodies_until": null})),
        )
        .await,
        200,
    )
    .await;
    let res = app
        .scim_send(
            Method::PATCH,
            &org,
            "/Users/unknown",
            Some(&fixture("okta/deactivate_user.json")),
        )
        .await;
    assert_eq!(res.status(), 404);
    let rows = data(&requests(&app, &org, "").await);
    assert_eq!(rows[0]["status"], 404);
    assert_eq!(rows[0]["full_body"], Value::Null, "the window is closed");
}

db_test!(
    the_inspector_keeps_only_each_organizations_newest_requests,
    [("OFFBOARD_INSPECTOR_KEEP", "3")]
);
async fn the_inspector_keeps_only_each_organizations_newest_requests(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    app.scim_send(Method::GET, &other, "/Users", None).await;
    for i in 1..=5 {
        let res = app
            .scim_send(Method::GET, &org, &format!("/Users?count={i}"), None)
            .await;
        assert_eq!(res.status(), 200);
        // Each flushed on its own, so pruning runs between them.
        requests(&app, &org, "").await;
    }
    let rows = data(&requests(&app, &org, "").await);
    let queries: Vec<&str> = rows.iter().map(|r| r["query"].as_str().unwrap()).collect();
    assert_eq!(queries, ["count=5", "count=4", "count=3"]);
    assert_eq!(data(&requests(&app, &other, "").await).len(), 1);
}
