//! The operator's lists: organizations (paged, name search), an organization's members
//! (by status, searched) and its SCIM tokens (metadata only).

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, fixture, user_body};

async fn get(app: &TestApp, path: &str) -> Value {
    expect_json(app.admin_send(Method::GET, path, None).await, 200).await
}

fn names(page: &Value, field: &str) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_string())
        .collect()
}

db_test!(operators_list_organizations_members_and_tokens);
async fn operators_list_organizations_members_and_tokens(app: TestApp) {
    let acme = app.create_org("Acme Corp").await;
    let shout = app.create_org("ACME 100% Widgets").await;
    let other = app.create_org("Globex").await;
    let gone = app.create_org("Acme Gone").await;
    app.admin_delete_confirmed(&format!("/organizations/{}", gone.id), json!({}))
        .await;

    // Names, case-insensitive; `%` is a character, not a wildcard; deleted ones not listed.
    let found = get(&app, "/organizations?q=acme").await;
    assert_eq!(names(&found, "name"), ["Acme Corp", "ACME 100% Widgets"]);
    let pct = get(&app, "/organizations?q=100%25").await;
    assert_eq!(names(&pct, "name"), ["ACME 100% Widgets"]);
    let first = get(&app, "/organizations?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let after = first["next_after"].as_str().unwrap();
    let rest = get(&app, &format!("/organizations?limit=2&after={after}")).await;
    assert_eq!(names(&rest, "name"), ["Globex"]);
    assert_eq!(rest["next_after"], Value::Null);

    // Members by status and search.
    let a = app.create_user(&acme, &user_body("ada@example.com")).await;
    let b = app.create_user(&acme, &user_body("bob@example.com")).await;
    let c = app.create_user(&acme, &user_body("cy@example.com")).await;
    app.create_user(&other, &user_body("ada@example.com")).await;
    app.patch(
        &acme,
        &format!("/Users/{b}"),
        &fixture("okta/deactivate_user.json"),
    )
    .await;
    assert_eq!(
        app.delete(&acme, &format!("/Users/{c}")).await.status(),
        204
    );
    let base = format!("/organizations/{}/users", acme.id);
    let all = get(&app, &base).await;
    assert_eq!(names(&all, "scim_id"), [a.as_str(), b.as_str()]);
    assert_eq!(
        names(
            &get(&app, &format!("{base}?status=ACTIVE")).await,
            "scim_id"
        ),
        [a.as_str()]
    );
    assert_eq!(
        names(
            &get(&app, &format!("{base}?status=INACTIVE")).await,
            "scim_id"
        ),
        [b.as_str()]
    );
    assert_eq!(
        names(
            &get(&app, &format!("{base}?status=removed")).await,
            "scim_id"
        ),
        [c.as_str()]
    );
    assert_eq!(
        names(&get(&app, &format!("{base}?status=all")).await, "scim_id"),
        [a.as_str(), b.as_str(), c.as_str()]
    );
    assert_eq!(
        names(&get(&app, &format!("{base}?q=BOB")).await, "user_name"),
        ["bob@example.com"]
    );
    let res = app
        .admin_send(Method::GET, &format!("{base}?status=gone"), None)
        .await;
    assert_eq!(res.status().as_u16(), 422);
    let res = app
        .admin_send(
            Method::GET,
            "/organizations/org_01JZZZZZZZZZZZZZZZZZZZZZZZ/users",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);

    // Tokens: metadata, never the token; revoked ones gone.
    let tokens = get(&app, &format!("/organizations/{}/scim-tokens", acme.id)).await;
    assert_eq!(tokens["data"].as_array().unwrap().len(), 1);
    assert!(!tokens.to_string().contains(&acme.token));
    let id = tokens["data"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/scim-tokens/{id}", acme.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let tokens = get(&app, &format!("/organizations/{}/scim-tokens", acme.id)).await;
    assert!(tokens["data"].as_array().unwrap().is_empty());
    let _ = shout;
}
