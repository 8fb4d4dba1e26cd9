//! Every class of bad input gets its RFC 7644 status and scimType, and changes nothing.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, assert_scim_error, patch_body, user_body};

db_test!(bad_requests_get_scim_errors_and_change_nothing);
async fn bad_requests_get_scim_errors_and_change_nothing(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("a@example.com")).await;
    let user = format!("/Users/{id}");
    let before: Value = app.get_json(&org, &user).await;
    let events_before = app.event_types(&org).await;

    // Malformed JSON.
    let res = app
        .client
        .patch(app.scim(&user))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body("{\"Operations\": [")
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 400, Some("invalidSyntax")).await;

    // Wrong content type.
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", "text/plain")
        .body(user_body("b@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 415, None).await;

    // Oversized body (the test app's limit is 64 KiB).
    let mut big = user_body("c@example.com");
    big["displayName"] = json!("x".repeat(70_000));
    let res = app.post(&org, "/Users", &big).await;
    assert_scim_error(res, 413, Some("tooMany")).await;

    // Deep nesting beyond serde_json's recursion limit.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 400, Some("invalidSyntax")).await;

    for (ops, status, scim_type) in [
        (
            json!([{"op": "deactivate", "path": "active", "value": false}]),
            400,
            "invalidSyntax",
        ),
        (
            json!([{"op": "replace", "path": "nosuch.attr", "value": 1}]),
            400,
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": 1}]),
            400,
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "id", "value": "usr_other"}]),
            400,
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "groups", "value": []}]),
            400,
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "nope"}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": 42}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            400,
            "invalidValue",
        ),
        (
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            400,
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "title", "value": 7}]),
            400,
            "invalidValue",
        ),
    ] {
        let res = app.patch(&org, &user, &patch_body(ops.clone())).await;
        let status_got = res.status().as_u16();
        let body = assert_scim_error(res, status, Some(scim_type)).await;
        assert_eq!(status_got, status, "{ops} -> {body}");
    }

    // PATCH without the PatchOp schema.
    let res = app
        .patch(
            &org,
            &user,
            &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_scim_error(res, 400, Some("invalidSyntax")).await;

    // A key that cannot be an attribute name, and wrong types, in a create. (Unknown
    // attributes are kept: see `dialects::custom_attributes_…`.)
    let mut unknown = user_body("d@example.com");
    unknown["shoe size"] = json!(44);
    assert_scim_error(
        app.post(&org, "/Users", &unknown).await,
        400,
        Some("invalidSyntax"),
    )
    .await;
    let mut wrong = user_body("e@example.com");
    wrong["active"] = json!("maybe");
    assert_scim_error(
        app.post(&org, "/Users", &wrong).await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        app.post(&org, "/Users", &json!({"name": {"givenName": "x"}}))
            .await,
        400,
        Some("invalidValue"),
    )
    .await;

    // Bad filters and paging parameters.
    for q in [
        "/Users?filter=userName%20eq",
        "/Users?filter=nosuch%20eq%20%22x%22",
        "/Users?filter=userName%20zz%20%22x%22",
        "/Users?filter=(userName%20eq%20%22x%22",
    ] {
        assert_scim_error(app.get(&org, q).await, 400, Some("invalidFilter")).await;
    }
    let deep_filter = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    let res = app
        .client
        .get(app.scim("/Users"))
        .query(&[("filter", deep_filter)])
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 400, Some("invalidFilter")).await;
    assert_scim_error(
        app.get(&org, "/Users?count=ten").await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        app.get(&org, "/Users?startIndex=1.5").await,
        400,
        Some("invalidValue"),
    )
    .await;

    // Negative and huge paging values are interpreted as RFC 7644 §3.4.2.4 says.
    let list: Value = app.get_json(&org, "/Users?startIndex=-4&count=-1").await;
    assert_eq!(
        (list["startIndex"].clone(), list["itemsPerPage"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(list["totalResults"], json!(1));
    let list: Value = app
        .get_json(
            &org,
            "/Users?startIndex=99999999999999999999&count=99999999999999999999",
        )
        .await;
    assert_eq!(list["Resources"], json!([]));

    // Unknown id, unknown endpoint.
    assert_scim_error(app.get(&org, "/Users/usr_nope").await, 404, None).await;
    assert_scim_error(app.delete(&org, "/Users/usr_nope").await, 404, None).await;
    assert_scim_error(app.get(&org, "/Nothing").await, 404, None).await;

    let after: Value = app.get_json(&org, &user).await;
    assert_eq!(before, after, "no bad request changed the user");
    assert_eq!(
        events_before,
        app.event_types(&org).await,
        "no bad request wrote an event"
    );
    let list: Value = app.get_json(&org, "/Users").await;
    assert_eq!(
        list["totalResults"],
        json!(1),
        "no bad request created a user"
    );
}

db_test!(missing_or_invalid_tokens_get_401_with_www_authenticate);
async fn missing_or_invalid_tokens_get_401_with_www_authenticate(app: TestApp) {
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic dXNlcjpwYXNz"),
        Some(app.admin_token.as_str()),
    ] {
        let mut req = app.client.get(app.scim("/Users"));
        if let Some(a) = auth {
            let value = if a.starts_with("Bearer") || a.starts_with("Basic") {
                a.to_string()
            } else {
                format!("Bearer {a}")
            };
            req = req.header("authorization", value);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            res.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"offboard\""
        );
        assert_scim_error(res, 401, None).await;
    }
}
