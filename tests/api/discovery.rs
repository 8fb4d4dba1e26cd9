//! Discovery documents tell the truth about what is supported.

use serde_json::json;

use crate::db_test;
use crate::helpers::TestApp;

db_test!(discovery_endpoints_describe_the_service);
async fn discovery_endpoints_describe_the_service(app: TestApp) {
    let spc = app.public_json("/ServiceProviderConfig").await;
    assert_eq!(spc["patch"]["supported"], json!(true));
    assert_eq!(spc["filter"]["supported"], json!(true));
    assert_eq!(spc["bulk"]["supported"], json!(false));
    assert_eq!(spc["etag"]["supported"], json!(true));
    assert_eq!(spc["changePassword"]["supported"], json!(false));

    let schemas = app.public_json("/Schemas").await;
    // User, the enterprise extension, Group.
    assert_eq!(schemas["totalResults"], json!(3));
    let group = app
        .public_json("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await;
    let members = group["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == json!("members"))
        .unwrap();
    assert_eq!(members["multiValued"], json!(true));
    let rt = app.public_json("/ResourceTypes/Group").await;
    assert_eq!(rt["endpoint"], json!("/Groups"));
    let user = app
        .public_json("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let attrs = user["attributes"].as_array().unwrap();
    let user_name = attrs
        .iter()
        .find(|a| a["name"] == json!("userName"))
        .unwrap();
    assert_eq!(user_name["uniqueness"], json!("server"));
    assert_eq!(user_name["required"], json!(true));
    let password = attrs
        .iter()
        .find(|a| a["name"] == json!("password"))
        .unwrap();
    assert_eq!(password["returned"], json!("never"));
    let groups = attrs.iter().find(|a| a["name"] == json!("groups")).unwrap();
    assert_eq!(groups["mutability"], json!("readOnly"));

    let rt = app.public_json("/ResourceTypes/User").await;
    assert_eq!(rt["endpoint"], json!("/Users"));
    let res = app
        .client
        .get(app.scim("/Schemas/urn:nope"))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_scim_error(res, 404, None).await;
}

db_test!(known_paths_refuse_other_methods_with_405_and_root_search_spans_types);
async fn known_paths_refuse_other_methods_with_405_and_root_search_spans_types(app: TestApp) {
    for (method, path) in [
        ("POST", "/ServiceProviderConfig"),
        ("DELETE", "/Schemas"),
        ("PUT", "/ResourceTypes"),
        ("DELETE", "/Users"),
        ("PUT", "/Groups"),
    ] {
        let res = app
            .client
            .request(method.parse().unwrap(), app.scim(path))
            .send()
            .await
            .unwrap();
        crate::helpers::assert_scim_error(res, 405, None).await;
    }
    let org = app.create_org("Acme").await;
    let bulk =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []});
    crate::helpers::assert_scim_error(app.post(&org, "/Bulk", &bulk).await, 501, None).await;
    let id = app
        .create_user(&org, &crate::helpers::user_body("kim@example.com"))
        .await;
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops", "members": [{"value": id}]});
    crate::helpers::expect_json(app.post(&org, "/Groups", &group).await, 201).await;
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    let all = crate::helpers::expect_json(app.post(&org, "/.search", &search).await, 200).await;
    assert_eq!(all["totalResults"], json!(2), "{all}");
    let only_users = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"kim@example.com\""});
    let found =
        crate::helpers::expect_json(app.post(&org, "/.search", &only_users).await, 200).await;
    assert_eq!(found["totalResults"], json!(1));
    assert_eq!(found["Resources"][0]["id"], json!(id));

    // `active` is the membership's status: removing it is refused, nothing changes.
    let body = crate::helpers::patch_body(json!([{"op": "remove", "path": "active"}]));
    let res = app.patch(&org, &format!("/Users/{id}"), &body).await;
    crate::helpers::assert_scim_error(res, 400, Some("invalidValue")).await;
    assert_eq!(
        app.get_json(&org, &format!("/Users/{id}")).await["active"],
        json!(true)
    );
}

async fn location_with_forwarded_headers(app: &TestApp) -> String {
    let org = app.create_org("Acme").await;
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", crate::helpers::SCIM_JSON)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "scim.example.com")
        .body(crate::helpers::user_body("kim@example.com").to_string())
        .send()
        .await
        .unwrap();
    let body = crate::helpers::expect_json(res, 201).await;
    body["meta"]["location"].as_str().unwrap().to_string()
}

db_test!(forwarded_headers_are_ignored_unless_trusted);
async fn forwarded_headers_are_ignored_unless_trusted(app: TestApp) {
    let location = location_with_forwarded_headers(&app).await;
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
}

db_test!(
    forwarded_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored,
    [("OFFBOARD_TRUSTED_PROXIES", "10.0.0.0/8")]
);
async fn forwarded_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored(app: TestApp) {
    let location = location_with_forwarded_headers(&app).await;
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
}

db_test!(
    a_trusted_proxys_forwarded_headers_shape_meta_location,
    [("OFFBOARD_TRUSTED_PROXIES", "127.0.0.1")]
);
async fn a_trusted_proxys_forwarded_headers_shape_meta_location(app: TestApp) {
    let location = location_with_forwarded_headers(&app).await;
    assert!(
        location.starts_with("https://scim.example.com/scim/v2/Users/mem_"),
        "{location}"
    );
}

db_test!(
    the_public_url_shapes_meta_location_whatever_the_request_says,
    [
        ("OFFBOARD_PUBLIC_URL", "https://idp-facing.example.org/"),
        ("OFFBOARD_TRUSTED_PROXIES", "127.0.0.1")
    ]
);
async fn the_public_url_shapes_meta_location_whatever_the_request_says(app: TestApp) {
    let location = location_with_forwarded_headers(&app).await;
    assert!(
        location.starts_with("https://idp-facing.example.org/scim/v2/Users/mem_"),
        "{location}"
    );
    let config = app.public_json("/ServiceProviderConfig").await;
    assert!(
        config
            .to_string()
            .contains("https://idp-facing.example.org/scim/v2"),
        "{config}"
    );
}
