//! The IdP dialects, driven by the literal fixture bodies.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, fixture};

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

/// One IdP conversation: the create body, then each request as the IdP sends it, and
/// what the membership must be afterwards.
struct Dialect {
    name: &'static str,
    create: &'static str,
    /// (method, path after `/Users/{id}`, fixture)
    steps: &'static [(&'static str, &'static str, &'static str)],
    status: &'static str,
    /// The events after `user.created`, `membership.created`.
    events: &'static [&'static str],
    /// Whether the user's session in this organization survives.
    session_survives: bool,
}

const DIALECTS: &[Dialect] = &[
    Dialect {
        name: "Entra: Replace with the string \"False\"",
        create: "entra/create_user.json",
        steps: &[("PATCH", "", "entra/disable_user.json")],
        status: "INACTIVE",
        events: &["membership.deactivated", "sessions.revoked"],
        session_survives: false,
    },
    Dialect {
        name: "Entra with aadOptscim062020: a boolean, no path case quirks",
        create: "entra/create_user.json",
        steps: &[(
            "PATCH",
            "?aadOptscim062020",
            "entra/disable_user_aadoptscim062020.json",
        )],
        status: "INACTIVE",
        events: &["membership.deactivated", "sessions.revoked"],
        session_survives: false,
    },
    Dialect {
        name: "Entra: attribute updates leave the status alone",
        create: "entra/create_user.json",
        steps: &[("PATCH", "", "entra/update_user_attributes.json")],
        status: "ACTIVE",
        events: &["membership.updated"],
        session_survives: true,
    },
    Dialect {
        name: "Okta: replace with a value object",
        create: "okta/create_user.json",
        steps: &[("PATCH", "", "okta/deactivate_user.json")],
        status: "INACTIVE",
        events: &["membership.deactivated", "sessions.revoked"],
        session_survives: false,
    },
    Dialect {
        name: "Okta: PUT of the whole user with active false",
        create: "okta/create_user.json",
        steps: &[("PUT", "", "okta/replace_user_inactive.json")],
        status: "INACTIVE",
        // The body also renames the user.
        events: &[
            "membership.deactivated",
            "sessions.revoked",
            "membership.updated",
        ],
        session_survives: false,
    },
    Dialect {
        name: "Okta: deactivate, then reactivate",
        create: "okta/create_user.json",
        steps: &[
            ("PATCH", "", "okta/deactivate_user.json"),
            ("PATCH", "", "okta/reactivate_user.json"),
        ],
        status: "ACTIVE",
        events: &[
            "membership.deactivated",
            "sessions.revoked",
            "membership.reactivated",
        ],
        session_survives: false,
    },
];

db_test!(every_dialect_leaves_the_state_sessions_and_events_the_idp_meant);
async fn every_dialect_leaves_the_state_sessions_and_events_the_idp_meant(app: TestApp) {
    for (i, d) in DIALECTS.iter().enumerate() {
        let org = app.create_org(&format!("Dialect {i}")).await;
        let elsewhere = app.create_org(&format!("Elsewhere {i}")).await;
        let id = app.create_user(&org, &fixture(d.create)).await;
        let account = app.account_of(&org, &id).await;
        let session = app.create_session(&org, &account).await;
        for (method, suffix, body) in d.steps {
            let path = format!("/Users/{id}{suffix}");
            let res = match *method {
                "PATCH" => app.patch(&org, &path, &fixture(body)).await,
                _ => app.put(&org, &path, &fixture(body)).await,
            };
            assert_eq!(res.status(), 200, "{}: {method} {body}", d.name);
        }
        let got = app.get_json(&org, &format!("/Users/{id}")).await;
        assert_eq!(got["active"], json!(d.status == "ACTIVE"), "{}", d.name);
        let view = app.admin_user(&account).await;
        assert_eq!(
            view["memberships"][0]["status"],
            json!(d.status),
            "{}",
            d.name
        );
        assert_eq!(
            app.session_active(&session).await,
            d.session_survives,
            "{}: session",
            d.name
        );
        let mut expected = vec!["user.created", "membership.created"];
        expected.extend(d.events);
        assert_eq!(app.event_types(&org).await, expected, "{}", d.name);
        assert!(
            app.event_types(&elsewhere).await.is_empty(),
            "{}: another organization saw events",
            d.name
        );
    }
}

db_test!(nulls_inside_complex_values_are_unassigned_on_post_put_and_patch);
async fn nulls_inside_complex_values_are_unassigned_on_post_put_and_patch(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let body = fixture("entra/create_user_with_nulls.json");
    let res = app.post(&org, "/Users", &body).await;
    let created = expect_json(res, 201).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["name"],
        json!({"formatted": "Daniel Mcgee", "familyName": "OMalley", "givenName": "Darl"})
    );
    assert_eq!(
        created["addresses"][1],
        json!({"formatted": "18522 Lisa Unions\nEast Gregory, CT 52311", "type": "other", "primary": false})
    );
    assert!(created.get("roles").is_none(), "an empty list is none");
    let res = app.put(&org, &format!("/Users/{id}"), &body).await;
    assert_eq!(
        expect_json(res, 200).await["addresses"],
        created["addresses"]
    );
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "value": {"name": {"honorificPrefix": null, "givenName": "Dara"}}},
            {"op": "replace", "path": "addresses", "value": [{"country": null, "locality": "Cork"}]},
            {"op": "replace", "path": "title", "value": null}
        ]
    });
    let res = app.patch(&org, &format!("/Users/{id}"), &patch).await;
    let patched = expect_json(res, 200).await;
    assert_eq!(patched["name"]["givenName"], json!("Dara"));
    assert!(patched["name"].get("honorificPrefix").is_none());
    assert_eq!(patched["addresses"], json!([{"locality": "Cork"}]));
    assert!(
        patched.get("title").is_none(),
        "replace with null unassigns"
    );
}

const CUSTOM_EXT: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

db_test!(custom_attributes_are_kept_returned_patched_and_bounded);
async fn custom_attributes_are_kept_returned_patched_and_bounded(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let mut body = fixture("entra/create_user.json");
    body["shoeSize"] = json!(44);
    body[CUSTOM_EXT] = json!({"costCenter": "CC-1", "unset": null});
    body["schemas"]
        .as_array_mut()
        .unwrap()
        .push(json!(CUSTOM_EXT));
    let created = expect_json(app.post(&org, "/Users", &body).await, 201).await;
    let id = created["id"].as_str().unwrap().to_string();
    let got = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(got["shoeSize"], json!(44));
    assert_eq!(got[CUSTOM_EXT], json!({"costCenter": "CC-1"}));
    assert!(
        got["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(CUSTOM_EXT))
    );

    // Entra's flat form of an extension attribute, as a PATCH path and as a no-path key.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": format!("{CUSTOM_EXT}:costCenter"), "value": "CC-2"},
            {"op": "Add", "value": {format!("{CUSTOM_EXT}:building"): "B7"}},
            {"op": "Remove", "path": "SHOESIZE"}
        ]
    });
    let patched = expect_json(app.patch(&org, &format!("/Users/{id}"), &patch).await, 200).await;
    assert_eq!(
        patched[CUSTOM_EXT],
        json!({"costCenter": "CC-2", "building": "B7"})
    );
    assert!(patched.get("shoeSize").is_none());
    let again = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(again[CUSTOM_EXT], patched[CUSTOM_EXT], "stored as answered");
    assert!(again.get("shoeSize").is_none());

    // A PUT replaces them with what it carries.
    let mut put = fixture("entra/create_user.json");
    put[format!("{CUSTOM_EXT}:costCenter")] = json!("CC-3");
    let replaced = expect_json(app.put(&org, &format!("/Users/{id}"), &put).await, 200).await;
    assert_eq!(replaced[CUSTOM_EXT], json!({"costCenter": "CC-3"}));

    // Bounded per record: too much is refused and changes nothing.
    let mut huge = fixture("entra/create_user.json");
    huge["notes"] = json!("x".repeat(20_000));
    crate::helpers::assert_scim_error(
        app.put(&org, &format!("/Users/{id}"), &huge).await,
        400,
        Some("invalidValue"),
    )
    .await;
    let after = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(after[CUSTOM_EXT], json!({"costCenter": "CC-3"}));
    // Another organization's view of the same person does not have them.
    let other = app.create_org("Other").await;
    let theirs = app
        .create_user(&other, &fixture("entra/create_user.json"))
        .await;
    assert!(
        app.get_json(&other, &format!("/Users/{theirs}"))
            .await
            .get(CUSTOM_EXT)
            .is_none()
    );
}
