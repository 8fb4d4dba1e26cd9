//! A token never sees or touches another organization's data, on any /Users route.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, fixture, patch_body, user_body};

db_test!(one_organizations_token_cannot_read_or_change_anothers_users);
async fn one_organizations_token_cannot_read_or_change_anothers_users(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let id = app.create_user(&a, &user_body("only-a@example.com")).await;
    let path = format!("/Users/{id}");

    assert_eq!(app.get(&b, &path).await.status(), 404);
    assert_eq!(
        app.patch(&b, &path, &fixture("okta/deactivate_user.json"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.put(&b, &path, &user_body("only-a@example.com"))
            .await
            .status(),
        404
    );
    assert_eq!(app.delete(&b, &path).await.status(), 404);
    let list: Value = app.get_json(&b, "/Users").await;
    assert_eq!(list["totalResults"], json!(0));
    let list: Value = app
        .get_json(&b, &format!("/Users?filter=id%20eq%20%22{id}%22"))
        .await;
    assert_eq!(list["totalResults"], json!(0));
    let res = app
        .client
        .post(app.scim("/Users/.search"))
        .bearer_auth(&b.token)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"only-a@example.com\""}).to_string())
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], json!(0));

    let got: Value = app.get_json(&a, &path).await;
    assert_eq!(got["active"], json!(true));
    assert!(app.event_types(&b).await.is_empty());
}

db_test!(each_organization_keeps_its_own_record_of_a_shared_account);
async fn each_organization_keeps_its_own_record_of_a_shared_account(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let id = app.create_user(&a, &user_body("shared@example.com")).await;
    let mut body_b = user_body("shared@example.com");
    body_b["displayName"] = json!("Name in B");
    assert_eq!(app.create_user(&b, &body_b).await, id);

    let res = app
        .patch(
            &b,
            &format!("/Users/{id}"),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "Renamed by B"}])),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.patch(
        &b,
        &format!("/Users/{id}"),
        &fixture("okta/deactivate_user.json"),
    )
    .await;

    let seen_by_a: Value = app.get_json(&a, &format!("/Users/{id}")).await;
    assert!(
        seen_by_a.get("displayName").is_none(),
        "A never sees B's copy"
    );
    assert_eq!(
        seen_by_a["active"],
        json!(true),
        "B's deactivation leaves A's membership alone"
    );
    let seen_by_b: Value = app.get_json(&b, &format!("/Users/{id}")).await;
    assert_eq!(seen_by_b["displayName"], json!("Renamed by B"));
    assert_eq!(seen_by_b["active"], json!(false));
}
