//! The deprovisioning rules of SPEC's table, end to end.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, fixture, membership_in, patch_body, user_body};

db_test!(deactivating_ends_access_keeps_the_account_and_reactivation_reverses_it);
async fn deactivating_ends_access_keeps_the_account_and_reactivation_reverses_it(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("okta/create_user.json"))
        .await;
    let user = app.account_of(&org, &id).await;
    let session = app.create_session(&org, &user).await;
    assert!(app.session_active(&session).await);

    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["active"], json!(false));

    let got: Value = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(
        got["active"],
        json!(false),
        "a deactivated user is still returned by GET"
    );
    assert!(!app.session_active(&session).await, "sessions revoked");
    let account = app.admin_user(&user).await;
    assert_eq!(account["status"], json!("ACTIVE"));
    assert_eq!(account["memberships"][0]["status"], json!("INACTIVE"));

    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/reactivate_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let account = app.admin_user(&user).await;
    assert_eq!(account["memberships"][0]["status"], json!("ACTIVE"));

    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.deactivated",
            "sessions.revoked",
            "membership.reactivated"
        ]
    );
    let payloads = app.event_payloads(&org).await;
    assert_eq!(
        payloads[2]["data"]["membership"]["status"],
        json!("INACTIVE")
    );
    assert_eq!(
        payloads[2]["data"]["membership"]["previous_status"],
        json!("ACTIVE")
    );
    assert_eq!(payloads[2]["data"]["sessions_revoked"], json!(1));
    assert_eq!(payloads[2]["organization_id"], json!(org.id));
    assert_eq!(
        app.audit_actions(&org).await,
        [
            "organization.create",
            "scim_token.create",
            "scim.user.create",
            "session.create",
            "scim.user.patch",
            "scim.user.patch"
        ]
    );
}

db_test!(repeated_deactivation_is_a_no_op_that_emits_nothing);
async fn repeated_deactivation_is_a_no_op_that_emits_nothing(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("a@example.com")).await;
    for _ in 0..3 {
        let res = app
            .patch(
                &org,
                &format!("/Users/{id}"),
                &fixture("entra/disable_user.json"),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.deactivated"
        ]
    );
}

db_test!(deleting_the_last_membership_erases_the_account_and_keeps_a_tombstone);
async fn deleting_the_last_membership_erases_the_account_and_keeps_a_tombstone(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    let user = app.account_of(&org, &id).await;
    assert_ne!(user, id, "the IdP never sees the account id");
    let session = app.create_session(&org, &user).await;

    let res = app.delete(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&org, &format!("/Users/{id}")).await.status(), 404);
    assert!(!app.session_active(&session).await);

    let account = app.admin_user(&user).await;
    assert_eq!(account["status"], json!("DELETED"));
    assert_eq!(account["email"], Value::Null);
    assert_eq!(account["display_name"], json!("Deleted User"));
    assert!(account["deleted_at"].is_string());
    let m = &account["memberships"][0];
    assert_eq!(m["status"], json!("INACTIVE"));
    assert!(m["removed_at"].is_string());
    assert_eq!(m["user_name"], Value::Null);
    assert_eq!(m["external_id"], Value::Null);

    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.deleted",
            "sessions.revoked",
            "user.deleted"
        ]
    );
    let payloads = app.event_payloads(&org).await;
    let deleted = payloads.last().unwrap();
    assert_eq!(deleted["data"]["organization"], json!({"id": org.id}));
    // Ids only: the record, the IdP's externalId included, was erased with the account.
    assert_eq!(
        deleted["data"]["user"],
        json!({"id": user, "external_id": null})
    );
    assert_eq!(deleted["data"]["source"], json!("scim.delete"));
    let text = serde_json::to_string(&payloads).unwrap();
    assert!(
        !text.to_lowercase().contains("testuser.com"),
        "no personal data in events"
    );

    // A second DELETE answers 404 and emits nothing.
    assert_eq!(
        app.delete(&org, &format!("/Users/{id}")).await.status(),
        404
    );
    assert_eq!(app.event_types(&org).await.len(), 5);

    // The same userName later creates a new account.
    let again = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    assert_ne!(again, id);
}

db_test!(deleting_a_user_of_two_organizations_removes_only_that_membership);
async fn deleting_a_user_of_two_organizations_removes_only_that_membership(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    app.verify_domain(&a, "example.com").await;
    app.verify_domain(&b, "EXAMPLE.com").await;
    let id_a = app.create_user(&a, &user_body("Shared@Example.com")).await;
    let id_b = app.create_user(&b, &user_body("shared@example.COM")).await;
    assert_ne!(id_a, id_b, "each organization has its own SCIM id");
    let user = app.account_of(&a, &id_a).await;
    assert_eq!(
        app.account_of(&b, &id_b).await,
        user,
        "a verified email links to one account"
    );
    let session_b = app.create_session(&b, &user).await;

    assert_eq!(
        app.delete(&a, &format!("/Users/{id_a}")).await.status(),
        204
    );

    let account = app.admin_user(&user).await;
    assert_eq!(account["status"], json!("ACTIVE"));
    assert_eq!(account["email"], json!("Shared@Example.com"));
    let in_a = membership_in(&account, &a.id);
    let in_b = membership_in(&account, &b.id);
    assert!(in_a["removed_at"].is_string());
    assert_eq!(in_b["status"], json!("ACTIVE"));
    assert!(in_b["removed_at"].is_null());
    assert!(
        app.session_active(&session_b).await,
        "sessions elsewhere stay"
    );

    let got: Value = app.get_json(&b, &format!("/Users/{id_b}")).await;
    assert_eq!(got["userName"], json!("shared@example.COM"));
    assert_eq!(
        app.event_types(&a).await,
        ["user.created", "membership.created", "membership.deleted"]
    );
    assert_eq!(app.event_types(&b).await, ["membership.created"]);
}

db_test!(put_with_active_false_deprovisions_like_patch);
async fn put_with_active_false_deprovisions_like_patch(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("okta/create_user.json"))
        .await;
    let res = app
        .put(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/replace_user_inactive.json"),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["name"]["givenName"], json!("Another"));
    assert!(body.get("password").is_none());
    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.deactivated",
            "membership.updated"
        ]
    );
}

db_test!(if_match_with_a_stale_version_is_refused_with_412);
async fn if_match_with_a_stale_version_is_refused_with_412(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("a@example.com")).await;
    let res = app.get(&org, &format!("/Users/{id}")).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, "W/\"1\"");
    let body = patch_body(json!([{"op": "replace", "path": "displayName", "value": "New"}]));
    let res = app
        .patch_if_match(&org, &format!("/Users/{id}"), &etag, &body)
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch_if_match(
            &org,
            &format!("/Users/{id}"),
            &etag,
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    crate::helpers::assert_scim_error(res, 412, None).await;
    let got: Value = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(
        got["active"],
        json!(true),
        "the refused PATCH changed nothing"
    );
    assert_eq!(got["meta"]["version"], json!("W/\"2\""));
}

db_test!(deactivating_in_one_organization_revokes_only_that_organizations_sessions);
async fn deactivating_in_one_organization_revokes_only_that_organizations_sessions(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("both@example.com")).await;
    let id_b = app.create_user(&b, &user_body("both@example.com")).await;
    let user = app.account_of(&a, &id_a).await;
    assert_eq!(app.account_of(&b, &id_b).await, user);
    let sessions_a = [
        app.create_session(&a, &user).await,
        app.create_session(&a, &user).await,
    ];
    let session_b = app.create_session(&b, &user).await;

    for (dialect, path) in [
        ("okta/deactivate_user.json", format!("/Users/{id_a}")),
        (
            "entra/disable_user_aadoptscim062020.json",
            format!("/Users/{id_a}?aadOptscim062020"),
        ),
    ] {
        let res = app.patch(&a, &path, &fixture(dialect)).await;
        assert_eq!(res.status(), 200, "{dialect}");
        for s in &sessions_a {
            assert!(
                !app.session_active(s).await,
                "{dialect}: A's session revoked"
            );
        }
        assert!(
            app.session_active(&session_b).await,
            "{dialect}: B's session stays"
        );
        let view = app.admin_user(&user).await;
        let status = |org: &str| membership_in(&view, org)["status"].clone();
        assert_eq!(status(&a.id), json!("INACTIVE"), "{dialect}");
        assert_eq!(status(&b.id), json!("ACTIVE"), "{dialect}");
        // Reactivate for the next dialect.
        app.patch(
            &a,
            &format!("/Users/{id_a}"),
            &fixture("okta/reactivate_user.json"),
        )
        .await;
    }
    let payloads = app.event_payloads(&a).await;
    let deactivated: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["type"] == json!("membership.deactivated"))
        .collect();
    assert_eq!(deactivated.len(), 2, "one per dialect");
    assert_eq!(deactivated[0]["data"]["sessions_revoked"], json!(2));
    assert_eq!(deactivated[1]["data"]["sessions_revoked"], json!(0));
    assert!(
        app.event_types(&b)
            .await
            .iter()
            .all(|t| t != "membership.deactivated" && t != "sessions.revoked"),
        "B hears nothing of A's deactivation"
    );
}

db_test!(put_with_active_false_revokes_sessions_and_reports_it);
async fn put_with_active_false_revokes_sessions_and_reports_it(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("okta/create_user.json"))
        .await;
    let user = app.account_of(&org, &id).await;
    let session = app.create_session(&org, &user).await;
    let res = app
        .put(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/replace_user_inactive.json"),
        )
        .await;
    assert_eq!(expect_json(res, 200).await["active"], json!(false));
    assert!(!app.session_active(&session).await);
    assert_eq!(
        app.admin_user(&user).await["memberships"][0]["status"],
        json!("INACTIVE")
    );
    let payloads = app.event_payloads(&org).await;
    let types: Vec<&str> = payloads
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "user.created",
            "membership.created",
            "membership.deactivated",
            "sessions.revoked",
            "membership.updated"
        ]
    );
    assert_eq!(payloads[2]["data"]["sessions_revoked"], json!(1));
    assert_eq!(payloads[3]["data"]["count"], json!(1));
}

db_test!(delete_checks_if_match);
async fn delete_checks_if_match(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("im@example.com")).await;
    let path = format!("/Users/{id}");
    app.patch(
        &org,
        &path,
        &patch_body(json!([{"op": "replace", "path": "displayName", "value": "v2"}])),
    )
    .await;
    let stale = app
        .client
        .delete(app.scim(&path))
        .bearer_auth(&org.token)
        .header("if-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    crate::helpers::assert_scim_error(stale, 412, None).await;
    assert_eq!(
        app.get_json(&org, &path).await["active"],
        json!(true),
        "nothing deleted"
    );
    assert_eq!(app.event_types(&org).await.len(), 3, "no event");
    let current = app
        .client
        .delete(app.scim(&path))
        .bearer_auth(&org.token)
        .header("if-match", "W/\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 204);
    assert_eq!(app.get(&org, &path).await.status(), 404);
}
