//! JumpCloud's lifecycle, step by step as its custom SCIM integration article describes
//! it. JumpCloud publishes no literal bodies, so the fixtures under
//! `scim-fixtures/jumpcloud/` are RFC 7644's own examples (see the fixtures' README); what
//! these tests add is JumpCloud's sequence: the test connection's create-then-delete, PUT
//! updates, deactivation where DELETE is turned off, and group disassociation.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture, fixture_with, patch_body, user_body};

async fn create_group(app: &TestApp, org: &Org, member: &str) -> String {
    let body = fixture_with("jumpcloud/create_group.json", &[("USER_ID", member)]);
    let v = expect_json(app.post(org, "/Groups", &body).await, 201).await;
    v["id"].as_str().expect("group id").to_string()
}

async fn group_names(app: &TestApp, org: &Org, user: &str) -> Vec<String> {
    let u = app.get_json(org, &format!("/Users/{user}")).await;
    u["groups"]
        .as_array()
        .map(|gs| {
            gs.iter()
                .map(|g| g["value"].as_str().expect("group value").to_string())
                .collect()
        })
        .unwrap_or_default()
}

db_test!(jumpcloud_test_connection_creates_a_user_then_deletes_it);
async fn jumpcloud_test_connection_creates_a_user_then_deletes_it(app: TestApp) {
    let org = app.create_org("JumpCloud org").await;
    let res = app
        .post(&org, "/Users", &fixture("jumpcloud/create_user.json"))
        .await;
    let created = expect_json(res, 201).await;
    assert_eq!(created["userName"], json!("bjensen"));
    assert_eq!(created["externalId"], json!("bjensen"));
    assert_eq!(created["active"], json!(true), "active defaults to true");
    let id = created["id"].as_str().expect("id").to_string();
    let account = app.account_of(&org, &id).await;

    assert_eq!(
        app.delete(&org, &format!("/Users/{id}")).await.status(),
        204
    );
    assert_eq!(app.get(&org, &format!("/Users/{id}")).await.status(), 404);
    let user = app.admin_user(&account).await;
    assert_eq!(
        user["status"],
        json!("DELETED"),
        "the test user leaves no account"
    );
    assert_eq!(
        app.event_types(&org).await,
        [
            "user.created",
            "membership.created",
            "membership.deleted",
            "user.deleted"
        ]
    );

    // The next test connection creates the same user again, as a new one.
    let again = app
        .create_user(&org, &fixture("jumpcloud/create_user.json"))
        .await;
    assert_ne!(again, id);
}

db_test!(jumpcloud_update_replaces_the_user_and_keeps_it_active);
async fn jumpcloud_update_replaces_the_user_and_keeps_it_active(app: TestApp) {
    let org = app.create_org("JumpCloud org").await;
    let id = app
        .create_user(&org, &fixture("jumpcloud/create_user.json"))
        .await;
    let body = fixture_with("jumpcloud/replace_user.json", &[("USER_ID", &id)]);
    let res = app.put(&org, &format!("/Users/{id}"), &body).await;
    let got = expect_json(res, 200).await;
    assert_eq!(got["id"], json!(id));
    assert_eq!(got["name"]["middleName"], json!("Jane"));
    let emails: Vec<&Value> = got["emails"].as_array().expect("emails").iter().collect();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[1]["value"], json!("babs@jensen.org"));
    assert_eq!(
        got["active"],
        json!(true),
        "a PUT without active keeps access"
    );
    assert_eq!(
        app.event_types(&org).await,
        ["user.created", "membership.created", "membership.updated"]
    );
}

db_test!(jumpcloud_deactivates_where_delete_is_off_and_the_state_follows);
async fn jumpcloud_deactivates_where_delete_is_off_and_the_state_follows(app: TestApp) {
    let org = app.create_org("JumpCloud org").await;
    let id = app
        .create_user(&org, &fixture("jumpcloud/create_user.json"))
        .await;
    let account = app.account_of(&org, &id).await;
    let session = app.create_session(&org, &account).await;

    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("jumpcloud/deactivate_user.json"),
        )
        .await;
    assert_eq!(expect_json(res, 200).await["active"], json!(false));
    assert!(!app.session_active(&session).await, "access ends at once");
    let user = app.admin_user(&account).await;
    assert_eq!(user["status"], json!("ACTIVE"), "the account stays");
    assert_eq!(user["memberships"][0]["status"], json!("INACTIVE"));

    // JumpCloud re-associating the user sends the same shape with true.
    let reactivate = patch_body(json!([{"op": "replace", "path": "active", "value": true}]));
    let res = app.patch(&org, &format!("/Users/{id}"), &reactivate).await;
    assert_eq!(expect_json(res, 200).await["active"], json!(true));
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
}

db_test!(jumpcloud_group_disassociation_deactivates_only_uncovered_members);
async fn jumpcloud_group_disassociation_deactivates_only_uncovered_members(app: TestApp) {
    let org = app.create_org("JumpCloud org").await;
    let babs = app
        .create_user(&org, &fixture("jumpcloud/create_user.json"))
        .await;
    let kim = app.create_user(&org, &user_body("kim@example.com")).await;
    // Two managed groups: Babs is only in the first, Kim in both.
    let first = create_group(&app, &org, &babs).await;
    let second = create_group(&app, &org, &kim).await;
    let add = fixture_with("jumpcloud/add_group_member.json", &[("USER_ID", &kim)]);
    let res = app.patch(&org, &format!("/Groups/{first}"), &add).await;
    assert!(res.status().is_success(), "add member: {}", res.status());

    // The first group is disassociated from the app: JumpCloud removes its members,
    // deactivates the one no other managed group covers, and deletes the group.
    for member in [&babs, &kim] {
        let remove = fixture_with("jumpcloud/remove_group_member.json", &[("USER_ID", member)]);
        let res = app.patch(&org, &format!("/Groups/{first}"), &remove).await;
        assert!(res.status().is_success(), "remove member: {}", res.status());
    }
    let res = app
        .patch(
            &org,
            &format!("/Users/{babs}"),
            &fixture("jumpcloud/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.delete(&org, &format!("/Groups/{first}")).await.status(),
        204
    );
    assert_eq!(
        app.get(&org, &format!("/Groups/{first}")).await.status(),
        404
    );

    let babs_now = app.get_json(&org, &format!("/Users/{babs}")).await;
    assert_eq!(babs_now["active"], json!(false));
    assert!(group_names(&app, &org, &babs).await.is_empty());
    let kim_now = app.get_json(&org, &format!("/Users/{kim}")).await;
    assert_eq!(kim_now["active"], json!(true), "still covered by a group");
    assert_eq!(group_names(&app, &org, &kim).await, [second]);

    let types = app.event_types(&org).await;
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("group.member_removed"), 2);
    assert_eq!(count("group.deleted"), 1);
    assert_eq!(count("membership.deactivated"), 1);
}
