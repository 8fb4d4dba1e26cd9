//! The IdP dialects, driven by the literal fixture bodies.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, fixture};

db_test!(entra_disable_with_string_false_deactivates);
async fn entra_disable_with_string_false_deactivates(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let id = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("entra/disable_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let got: Value = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(got["active"], json!(false));
    assert_eq!(
        app.admin_user(&app.account_of(&org, &id).await).await["memberships"][0]["status"],
        json!("INACTIVE")
    );
}

db_test!(entra_disable_with_the_aadoptscim062020_flag_deactivates);
async fn entra_disable_with_the_aadoptscim062020_flag_deactivates(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let id = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}?aadOptscim062020"),
            &fixture("entra/disable_user_aadoptscim062020.json"),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["active"], json!(false));
}

db_test!(entra_attribute_updates_apply_every_operation);
async fn entra_attribute_updates_apply_every_operation(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let id = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("entra/update_user_attributes.json"),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(
        body["emails"][0]["value"],
        json!("updatedEmail@microsoft.com")
    );
    assert_eq!(body["name"]["familyName"], json!("updatedFamilyName"));
    let ext = &body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["department"], json!("Engineering"));
    assert_eq!(
        ext["manager"]["value"],
        json!("usr_01J9MANAGER00000000000000")
    );
    assert!(body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
    assert_eq!(
        body["active"],
        json!(true),
        "attribute updates leave the status alone"
    );

    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("entra/update_user_dotted.json"),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["name"]["givenName"], json!("updatedGivenName"));
    assert_eq!(body["name"]["formatted"], json!("givenName familyName"));
    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.updated",
            "membership.updated"
        ]
    );
}

db_test!(okta_lookup_then_create_then_deactivate);
async fn okta_lookup_then_create_then_deactivate(app: TestApp) {
    let org = app.create_org("Okta org").await;
    let lookup =
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    let res = app.get(&org, lookup).await;
    let list = expect_json(res, 200).await;
    assert_eq!(list["totalResults"], json!(0));
    assert_eq!(list["startIndex"], json!(1));
    assert_eq!(list["itemsPerPage"], json!(0));
    assert_eq!(list["Resources"], json!([]));

    let res = app
        .post(&org, "/Users", &fixture("okta/create_user.json"))
        .await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("location").is_some());
    let created: Value = res.json().await.unwrap();
    assert!(
        created.get("password").is_none(),
        "passwords are never returned"
    );
    assert_eq!(created["externalId"], json!("00ujl29u0le5T6Aj10h7"));
    let id = created["id"].as_str().unwrap();

    // Okta's spec test looks the user up with an upper-cased userName.
    let res = app
        .get(
            &org,
            "/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100",
        )
        .await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], json!(1));
    let first = &list["Resources"][0];
    for key in ["id", "userName", "active"] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert!(first["name"]["givenName"].is_string() && first["name"]["familyName"].is_string());
    assert!(first["emails"][0]["value"].is_string());

    // A duplicate create is 409 uniqueness.
    let res = app
        .post(&org, "/Users", &fixture("okta/create_user.json"))
        .await;
    crate::helpers::assert_scim_error(res, 409, Some("uniqueness")).await;

    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get(&org, lookup).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["Resources"][0]["active"], json!(false));
}
