//! RFC 7644, section by section, for Users and Groups: what a SCIM client may rely on.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, assert_scim_error, expect_json, patch_body};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn user(name: &str, given: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": name,
        "name": {"givenName": given, "familyName": "Doe"},
        "title": "Engineer",
        "emails": [
            {"value": name, "type": "work", "primary": true},
            {"value": format!("home-{name}"), "type": "home"}
        ],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "42"}
    })
}

async fn list(app: &TestApp, org: &Org, query: &str) -> Value {
    app.get_json(org, &format!("/Users?{query}")).await
}

fn ids_of(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or("").to_string())
        .collect()
}

db_test!(users_follow_rfc_7644_section_by_section);
async fn users_follow_rfc_7644_section_by_section(app: TestApp) {
    let org = app.create_org("Acme").await;

    // §3.3 Creating: 201, Location = meta.location, ETag = meta.version.
    let res = app
        .post(&org, "/Users", &user("ann@example.com", "Ann"))
        .await;
    assert_eq!(res.status().as_u16(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let ann: Value = res.json().await.unwrap();
    let id = ann["id"].as_str().unwrap().to_string();
    assert_eq!(ann["meta"]["location"], json!(location));
    assert_eq!(ann["meta"]["version"], json!(etag));
    assert_eq!(ann["meta"]["resourceType"], json!("User"));
    assert!(ann["meta"]["created"].is_string());
    assert_eq!(ann[ENTERPRISE]["department"], json!("R&D"));
    // A second user with the same userName: 409 uniqueness.
    let res = app
        .post(&org, "/Users", &user("ANN@example.com", "Other"))
        .await;
    assert_scim_error(res, 409, Some("uniqueness")).await;
    for (name, given) in [
        ("bob@example.com", "Bob"),
        ("cat@example.org", "Cat"),
        ("dan@example.com", "Dan"),
        ("eve@example.org", "Eve"),
    ] {
        app.create_user(&org, &user(name, given)).await;
    }

    // §3.4.1 Retrieving a known resource.
    let got = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(got["meta"]["version"], json!(etag));

    // §3.4.2.2 Filtering: every operator, logic and grouping, value paths.
    let cases: &[(&str, &[&str])] = &[
        ("userName eq \"bob@example.com\"", &["bob@example.com"]),
        (
            "userName ne \"bob@example.com\"",
            &[
                "ann@example.com",
                "cat@example.org",
                "dan@example.com",
                "eve@example.org",
            ],
        ),
        (
            "userName co \"example.org\"",
            &["cat@example.org", "eve@example.org"],
        ),
        ("userName sw \"d\"", &["dan@example.com"]),
        (
            "userName ew \".org\"",
            &["cat@example.org", "eve@example.org"],
        ),
        (
            "name.givenName gt \"Cat\"",
            &["dan@example.com", "eve@example.org"],
        ),
        (
            "name.givenName le \"Bob\"",
            &["ann@example.com", "bob@example.com"],
        ),
        (
            "title pr",
            &[
                "ann@example.com",
                "bob@example.com",
                "cat@example.org",
                "dan@example.com",
                "eve@example.org",
            ],
        ),
        (
            "userName sw \"a\" or userName sw \"e\"",
            &["ann@example.com", "eve@example.org"],
        ),
        (
            "userName ew \".org\" and not (name.givenName eq \"Cat\")",
            &["eve@example.org"],
        ),
        (
            "emails[type eq \"work\" and value co \"dan\"]",
            &["dan@example.com"],
        ),
        (
            "emails[type eq \"home\"].value sw \"home-b\"",
            &["bob@example.com"],
        ),
    ];
    for (filter, expected) in cases {
        let q = format!("filter={}", urlencode(filter));
        let got = list(&app, &org, &q).await;
        assert_eq!(ids_of(&got), *expected, "{filter}");
        assert_eq!(got["totalResults"], json!(expected.len()), "{filter}");
    }
    for bad in [
        "userName zz \"x\"",
        "userName eq",
        "(userName eq \"a\"",
        "nope eq \"x\"",
    ] {
        let res = app
            .get(&org, &format!("/Users?filter={}", urlencode(bad)))
            .await;
        assert_scim_error(res, 400, Some("invalidFilter")).await;
    }

    // §3.4.2.3 Sorting and §3.4.2.4 pagination (1-based, stable).
    let sorted = list(&app, &org, "sortBy=name.givenName&sortOrder=descending").await;
    assert_eq!(ids_of(&sorted)[0], "eve@example.org");
    let page = list(&app, &org, "startIndex=2&count=2").await;
    assert_eq!(
        (
            page["totalResults"].clone(),
            page["startIndex"].clone(),
            page["itemsPerPage"].clone()
        ),
        (json!(5), json!(2), json!(2))
    );
    assert_eq!(ids_of(&page), vec!["bob@example.com", "cat@example.org"]);
    let last = list(&app, &org, "startIndex=5&count=10").await;
    assert_eq!(ids_of(&last), vec!["eve@example.org"]);
    let none = list(&app, &org, "count=0").await;
    assert_eq!(
        (none["totalResults"].clone(), none["itemsPerPage"].clone()),
        (json!(5), json!(0))
    );

    // §3.4.2.5 attributes / excludedAttributes; id and schemas always come back.
    let only = app
        .get_json(&org, &format!("/Users/{id}?attributes=userName"))
        .await;
    assert_eq!(only["userName"], json!("ann@example.com"));
    assert!(only["id"].is_string() && only["schemas"].is_array());
    assert!(only.get("emails").is_none() && only.get("name").is_none());
    let without = app
        .get_json(
            &org,
            &format!("/Users/{id}?excludedAttributes=emails,{ENTERPRISE}"),
        )
        .await;
    assert!(without.get("emails").is_none() && without.get(ENTERPRISE).is_none());
    assert!(without["name"].is_object());

    // §3.4.3 POST .search.
    let found = expect_json(
        app.post(&org, "/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"c\"", "attributes": ["userName"]})).await,
        200,
    )
    .await;
    assert_eq!(ids_of(&found), vec!["cat@example.org"]);

    // §3.5.1 Replacing with PUT: the body replaces the record; the version moves.
    let mut replacement = user("ann@example.com", "Annie");
    replacement["title"] = json!("Manager");
    let replaced = expect_json(
        app.put(&org, &format!("/Users/{id}"), &replacement).await,
        200,
    )
    .await;
    assert_eq!(replaced["name"]["givenName"], json!("Annie"));
    assert_ne!(replaced["meta"]["version"], json!(etag));

    // §3.5.2 PATCH: add, replace and remove on simple, complex, multi-valued and
    // extension attributes, in one atomic request.
    let body = patch_body(json!([
        {"op": "add", "path": "nickName", "value": "Nan"},
        {"op": "replace", "path": "name.familyName", "value": "Smith"},
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 0100", "type": "work"}]},
        {"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
        {"op": "remove", "path": "title"}
    ]));
    let patched = expect_json(app.patch(&org, &format!("/Users/{id}"), &body).await, 200).await;
    assert_eq!(patched["nickName"], json!("Nan"));
    assert_eq!(
        patched["name"],
        json!({"givenName": "Annie", "familyName": "Smith"})
    );
    assert_eq!(patched["phoneNumbers"][0]["value"], json!("+1 555 0100"));
    assert_eq!(patched["emails"].as_array().unwrap().len(), 1);
    assert_eq!(patched[ENTERPRISE]["department"], json!("Sales"));
    assert_eq!(patched[ENTERPRISE]["employeeNumber"], json!("42"));
    assert!(patched.get("title").is_none());
    // One bad operation and none applies.
    let body = patch_body(json!([
        {"op": "replace", "path": "nickName", "value": "Changed"},
        {"op": "replace", "path": "nosuch.attr", "value": 1}
    ]));
    assert_scim_error(
        app.patch(&org, &format!("/Users/{id}"), &body).await,
        400,
        Some("invalidPath"),
    )
    .await;
    let after = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(after["nickName"], json!("Nan"));
    // §3.14 versions: a stale If-Match is 412.
    let res = app
        .patch_if_match(
            &org,
            &format!("/Users/{id}"),
            &etag,
            &patch_body(json!([{"op": "replace", "path": "nickName", "value": "X"}])),
        )
        .await;
    assert_scim_error(res, 412, None).await;

    // §3.12 errors: malformed JSON, unknown resource.
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 400, Some("invalidSyntax")).await;
    assert_scim_error(app.get(&org, "/Users/usr_nosuch").await, 404, None).await;

    // §3.6 Deleting: 204, then 404 on every method.
    assert_eq!(
        app.delete(&org, &format!("/Users/{id}"))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_scim_error(app.get(&org, &format!("/Users/{id}")).await, 404, None).await;
    assert_scim_error(app.delete(&org, &format!("/Users/{id}")).await, 404, None).await;
    let res = app
        .scim_send(
            Method::PATCH,
            &org,
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "replace", "path": "nickName", "value": "Z"}]),
            )),
        )
        .await;
    assert_scim_error(res, 404, None).await;
}

db_test!(groups_follow_rfc_7644_section_by_section);
async fn groups_follow_rfc_7644_section_by_section(app: TestApp) {
    let org = app.create_org("Acme").await;
    let a = app.create_user(&org, &user("a@example.com", "A")).await;
    let b = app.create_user(&org, &user("b@example.com", "B")).await;

    // §3.3
    let res = app.post(&org, "/Groups", &json!({"schemas": [GROUP], "displayName": "Admins", "externalId": "ext-1", "members": [{"value": a}]})).await;
    assert_eq!(res.status().as_u16(), 201);
    assert!(res.headers().contains_key("location") && res.headers().contains_key("etag"));
    let g: Value = res.json().await.unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["members"][0]["value"], json!(a));
    assert_eq!(g["meta"]["resourceType"], json!("Group"));
    app.post(
        &org,
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Readers"}),
    )
    .await;

    // §3.4.2 filters, sort, paging, attributes.
    let by_name = app
        .get_json(&org, "/Groups?filter=displayName%20eq%20%22Admins%22")
        .await;
    assert_eq!(by_name["totalResults"], json!(1));
    let by_ext = app
        .get_json(&org, "/Groups?filter=externalId%20eq%20%22ext-1%22")
        .await;
    assert_eq!(by_ext["Resources"][0]["id"], json!(id));
    let co = app
        .get_json(&org, "/Groups?filter=displayName%20co%20%22ead%22")
        .await;
    assert_eq!(co["Resources"][0]["displayName"], json!("Readers"));
    let sorted = app
        .get_json(
            &org,
            "/Groups?sortBy=displayName&sortOrder=descending&count=1",
        )
        .await;
    assert_eq!(
        (
            sorted["totalResults"].clone(),
            sorted["Resources"][0]["displayName"].clone()
        ),
        (json!(2), json!("Readers"))
    );
    let slim = app
        .get_json(&org, &format!("/Groups/{id}?attributes=displayName"))
        .await;
    assert!(slim.get("members").is_none() && slim["displayName"] == json!("Admins"));

    // §3.5.1 PUT replaces the members too.
    let put = expect_json(
        app.put(
            &org,
            &format!("/Groups/{id}"),
            &json!({"schemas": [GROUP], "displayName": "Admins", "members": [{"value": b}]}),
        )
        .await,
        200,
    )
    .await;
    let members: Vec<&str> = put["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![b.as_str()]);
    assert!(
        put.get("externalId").is_none(),
        "PUT replaces: what it omits is gone"
    );

    // §3.5.2 PATCH add / replace / remove.
    let body = patch_body(json!([
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "replace", "path": "displayName", "value": "Admin team"},
        {"op": "add", "path": "externalId", "value": "ext-2"}
    ]));
    assert_eq!(
        app.patch(&org, &format!("/Groups/{id}"), &body)
            .await
            .status()
            .as_u16(),
        204
    );
    let g = app.get_json(&org, &format!("/Groups/{id}")).await;
    assert_eq!(
        (g["displayName"].clone(), g["externalId"].clone()),
        (json!("Admin team"), json!("ext-2"))
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    let body = patch_body(json!([{"op": "remove", "path": "members"}]));
    assert_eq!(
        app.patch(&org, &format!("/Groups/{id}"), &body)
            .await
            .status()
            .as_u16(),
        204
    );
    assert!(
        app.get_json(&org, &format!("/Groups/{id}")).await["members"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let body = patch_body(json!([{"op": "remove", "path": "displayName"}]));
    assert_scim_error(
        app.patch(&org, &format!("/Groups/{id}"), &body).await,
        400,
        Some("invalidValue"),
    )
    .await;

    // §3.6
    assert_eq!(
        app.delete(&org, &format!("/Groups/{id}"))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_scim_error(app.get(&org, &format!("/Groups/{id}")).await, 404, None).await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
