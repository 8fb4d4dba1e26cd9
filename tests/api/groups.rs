//! SCIM Groups: Okta Group Push and Entra group provisioning, from their fixtures, and
//! the group side of deprovisioning.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{
    Org, TestApp, assert_scim_error, expect_json, fixture, fixture_with, patch_body, user_body,
};

async fn create_group(app: &TestApp, org: &Org, body: &Value) -> String {
    let v = expect_json(app.post(org, "/Groups", body).await, 201).await;
    assert!(v["id"].as_str().unwrap().starts_with("grp_"));
    v["id"].as_str().unwrap().to_string()
}

async fn member_ids(app: &TestApp, org: &Org, group: &str) -> Vec<String> {
    let g = app.get_json(org, &format!("/Groups/{group}")).await;
    let mut ids: Vec<String> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The organization's group events as (type, member's SCIM id).
async fn group_events(app: &TestApp, org: &Org) -> Vec<(String, Option<String>)> {
    app.event_payloads(org)
        .await
        .into_iter()
        .filter(|p| p["type"].as_str().unwrap().starts_with("group."))
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["data"]["membership"]["scim_id"]
                    .as_str()
                    .map(str::to_string),
            )
        })
        .collect()
}

db_test!(okta_group_push_adds_removes_replaces_renames_and_deletes);
async fn okta_group_push_adds_removes_replaces_renames_and_deletes(app: TestApp) {
    let org = app.create_org("Acme").await;
    let ana = app.create_user(&org, &user_body("ana@example.com")).await;
    let bo = app.create_user(&org, &user_body("bo@example.com")).await;
    let group = create_group(&app, &org, &fixture("okta/create_group.json")).await;
    let path = format!("/Groups/{group}");

    let add = |id: &str, name: &str| {
        fixture_with(
            "okta/add_group_members.json",
            &[("USER_ID", id), ("USER_NAME", name)],
        )
    };
    let res = app.patch(&org, &path, &add(&ana, "ana@example.com")).await;
    assert_eq!(res.status().as_u16(), 204);
    // Adding a member already there is a no-op.
    let res = app.patch(&org, &path, &add(&ana, "ana@example.com")).await;
    assert_eq!(res.status().as_u16(), 204);
    app.patch(&org, &path, &add(&bo, "bo@example.com")).await;
    let mut both = vec![ana.clone(), bo.clone()];
    both.sort();
    assert_eq!(member_ids(&app, &org, &group).await, both);
    let g = app.get_json(&org, &path).await;
    let ana_member = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == json!(ana))
        .unwrap();
    assert_eq!(ana_member["display"], json!("ana@example.com"));
    // The user's read-only `groups` names the group, on GET and in lists.
    let user = app.get_json(&org, &format!("/Users/{ana}")).await;
    assert_eq!(user["groups"][0]["value"], json!(group));
    assert_eq!(user["groups"][0]["display"], json!("Test SCIMv2"));
    let list = app
        .get_json(&org, "/Users?filter=userName%20eq%20%22ana@example.com%22")
        .await;
    assert_eq!(list["Resources"][0]["groups"][0]["value"], json!(group));
    let list = app.get_json(&org, "/Users?excludedAttributes=groups").await;
    assert!(list["Resources"][0].get("groups").is_none());
    // And in the answer to a PATCH that changes the user.
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ana A"}]});
    let res = app.patch(&org, &format!("/Users/{ana}"), &rename).await;
    let patched: Value = expect_json(res, 200).await;
    assert_eq!(patched["groups"][0]["value"], json!(group));
    assert_eq!(patched["groups"][0]["display"], json!("Test SCIMv2"));
    assert!(
        ana_member["$ref"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{ana}"))
    );

    let res = app
        .patch(
            &org,
            &path,
            &fixture_with("okta/remove_group_member.json", &[("USER_ID", &ana)]),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(member_ids(&app, &org, &group).await, vec![bo.clone()]);

    // Replace the list with ana alone: bo removed, ana added, nothing else.
    let res = app
        .patch(
            &org,
            &path,
            &fixture_with(
                "okta/replace_group_members.json",
                &[("USER_ID", &ana), ("USER_NAME", "ana@example.com")],
            ),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(member_ids(&app, &org, &group).await, vec![ana.clone()]);

    let res = app
        .patch(
            &org,
            &path,
            &fixture_with("okta/rename_group.json", &[("GROUP_ID", &group)]),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let g = app.get_json(&org, &path).await;
    assert_eq!(g["displayName"], json!("Test SCIMv2 (renamed)"));
    assert_eq!(g["id"], json!(group));
    assert_eq!(
        member_ids(&app, &org, &group).await,
        vec![ana.clone()],
        "a rename keeps members"
    );

    assert_eq!(app.delete(&org, &path).await.status().as_u16(), 204);
    assert_scim_error(app.get(&org, &path).await, 404, None).await;

    let events = group_events(&app, &org).await;
    let expected: Vec<(String, Option<String>)> = vec![
        ("group.created".into(), None),
        ("group.member_added".into(), Some(ana.clone())),
        ("group.member_added".into(), Some(bo.clone())),
        ("group.member_removed".into(), Some(ana.clone())),
        ("group.member_removed".into(), Some(bo.clone())),
        ("group.member_added".into(), Some(ana.clone())),
        ("group.updated".into(), None),
        ("group.deleted".into(), None),
    ];
    assert_eq!(events, expected);
}

db_test!(entra_removes_exactly_the_listed_members_in_both_flag_modes);
async fn entra_removes_exactly_the_listed_members_in_both_flag_modes(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let ids: Vec<String> = create_users(
        &app,
        &org,
        &["a@contoso.com", "b@contoso.com", "c@contoso.com"],
    )
    .await;
    let group = create_group(&app, &org, &fixture("entra/create_group.json")).await;
    let path = format!("/Groups/{group}");
    for id in &ids {
        let res = app
            .patch(
                &org,
                &path,
                &fixture_with("entra/add_group_member.json", &[("USER_ID", id)]),
            )
            .await;
        assert_eq!(res.status().as_u16(), 204);
    }
    let res = app
        .patch(
            &org,
            &path,
            &fixture_with("entra/remove_group_member.json", &[("USER_ID", &ids[0])]),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let mut rest = vec![ids[1].clone(), ids[2].clone()];
    rest.sort();
    assert_eq!(
        member_ids(&app, &org, &group).await,
        rest,
        "exactly that member, never the whole list"
    );
    let res = app
        .patch(
            &org,
            &path,
            &fixture_with(
                "entra/remove_group_member_aadoptscim062020.json",
                &[("USER_ID", &ids[1])],
            ),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(member_ids(&app, &org, &group).await, vec![ids[2].clone()]);

    // Entra's lookup: filter by displayName with members excluded.
    let list = app
        .get_json(
            &org,
            "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1%22",
        )
        .await;
    assert_eq!(list["totalResults"], json!(1));
    assert!(list["Resources"][0].get("members").is_none());
    assert_eq!(
        list["Resources"][0]["externalId"],
        json!("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
    );
    let list = app
        .get_json(
            &org,
            &format!("/Groups?filter=members.value%20eq%20%22{}%22", ids[2]),
        )
        .await;
    assert_eq!(list["totalResults"], json!(1));
    let none = app
        .get_json(
            &org,
            &format!("/Groups?filter=members.value%20eq%20%22{}%22", ids[0]),
        )
        .await;
    assert_eq!(none["totalResults"], json!(0));
}

async fn create_users(app: &TestApp, org: &Org, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for n in names {
        out.push(app.create_user(org, &user_body(n)).await);
    }
    out
}

db_test!(members_must_be_users_of_the_same_organization_and_bad_changes_change_nothing);
async fn members_must_be_users_of_the_same_organization_and_bad_changes_change_nothing(
    app: TestApp,
) {
    let org = app.create_org("A").await;
    let other = app.create_org("B").await;
    let mine = app.create_user(&org, &user_body("mine@example.com")).await;
    let theirs = app
        .create_user(&other, &user_body("theirs@example.com"))
        .await;
    let group = create_group(&app, &org, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops", "members": [{"value": mine}]})).await;
    let path = format!("/Groups/{group}");
    let before = app.events(&org).await.len();

    // Another organization's user in the same PATCH as a valid change: nothing applies.
    let body = patch_body(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "members", "value": [{"value": theirs}]}
    ]));
    assert_scim_error(
        app.patch(&org, &path, &body).await,
        400,
        Some("invalidValue"),
    )
    .await;
    let body =
        patch_body(json!([{"op": "add", "path": "members", "value": [{"value": "usr_unknown"}]}]));
    assert_scim_error(
        app.patch(&org, &path, &body).await,
        400,
        Some("invalidValue"),
    )
    .await;
    let body = patch_body(json!([{"op": "remove", "path": "members[value eq \"usr_unknown\"]"}]));
    assert_scim_error(app.patch(&org, &path, &body).await, 400, Some("noTarget")).await;
    let create = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "X", "members": [{"value": theirs}]});
    assert_scim_error(
        app.post(&org, "/Groups", &create).await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert_scim_error(
        app.post(
            &org,
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    let g = app.get_json(&org, &path).await;
    assert_eq!(g["displayName"], json!("Ops"));
    assert_eq!(member_ids(&app, &org, &group).await, vec![mine.clone()]);
    assert_eq!(app.events(&org).await.len(), before, "nothing was emitted");

    // The other organization's token cannot see the group.
    assert_scim_error(app.get(&other, &path).await, 404, None).await;
    // If-Match on groups.
    let etag = g["meta"]["version"].as_str().unwrap().to_string();
    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Ops 2"}]));
    let res = app.patch_if_match(&org, &path, "W/\"999\"", &rename).await;
    assert_scim_error(res, 412, None).await;
    let res = app.patch_if_match(&org, &path, &etag, &rename).await;
    assert_eq!(res.status().as_u16(), 204);
    // attributes on a PATCH asks for the resource back.
    let res = app
        .patch(
            &org,
            &format!("{path}?excludedAttributes=members"),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "Ops 3"}])),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["displayName"], json!("Ops 3"));
    assert!(body.get("members").is_none());
}

db_test!(deleting_a_user_takes_it_out_of_the_organizations_groups);
async fn deleting_a_user_takes_it_out_of_the_organizations_groups(app: TestApp) {
    let org = app.create_org("Acme").await;
    let ana = app.create_user(&org, &user_body("ana@example.com")).await;
    let bo = app.create_user(&org, &user_body("bo@example.com")).await;
    let ana_user = app.account_of(&org, &ana).await;
    let members = json!([{"value": ana}, {"value": bo}]);
    let g1 = create_group(&app, &org, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "One", "members": members})).await;
    let g2 = create_group(&app, &org, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Two", "members": [{"value": ana}]})).await;
    assert_eq!(
        app.delete(&org, &format!("/Users/{ana}"))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(member_ids(&app, &org, &g1).await, vec![bo.clone()]);
    assert!(member_ids(&app, &org, &g2).await.is_empty());
    let events = app.events(&org).await;
    let tail: Vec<(&str, Option<&str>)> = events[events.len() - 4..]
        .iter()
        .map(|(t, u)| (t.as_str(), u.as_deref()))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("group.member_removed", Some(ana_user.as_str())),
            ("group.member_removed", Some(ana_user.as_str())),
            ("membership.deleted", Some(ana_user.as_str())),
            ("user.deleted", Some(ana_user.as_str())),
        ]
    );
    let payloads = app.event_payloads(&org).await;
    let removed: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["type"] == json!("group.member_removed"))
        .collect();
    let mut groups: Vec<&str> = removed
        .iter()
        .map(|p| p["data"]["group"]["id"].as_str().unwrap())
        .collect();
    groups.sort();
    let mut expected = vec![g1.as_str(), g2.as_str()];
    expected.sort();
    assert_eq!(groups, expected);

    // Deleting the organization removes its groups.
    app.admin_delete_confirmed(&format!("/organizations/{}", org.id), json!({}))
        .await;
    let last = app.event_payloads(&org).await.pop().unwrap();
    assert_eq!(last["type"], json!("organization.deleted"));
    assert_eq!(last["data"]["groups_deleted"], json!(2));
}
