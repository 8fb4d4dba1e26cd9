//! Events an application can act on alone: the organization's view of the user, where
//! the change came from (source, SCIM token, request); and erasure: once a record is
//! erased, no stored event keeps the personal data it carried.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture, fixture_with};

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Entra's create body, with a department and a custom attribute its admin mapped.
fn ada() -> Value {
    let mut body = fixture("entra/create_user.json");
    body["userName"] = json!("ada@example.com");
    body["emails"] = json!([{"primary": true, "type": "work", "value": "ada@example.com"}]);
    body["name"] = json!({"givenName": "Ada", "familyName": "Lovelace"});
    body["displayName"] = json!("Ada Lovelace");
    body[ENTERPRISE] = json!({"department": "Engines"});
    body[CUSTOM] = json!({"costCenter": "CC-42"});
    body
}

async fn payloads_of(app: &TestApp, org: &Org, t: &str) -> Vec<Value> {
    app.event_payloads(org)
        .await
        .into_iter()
        .filter(|e| e["type"] == t)
        .collect()
}

async fn one(app: &TestApp, org: &Org, t: &str) -> Value {
    let mut all = payloads_of(app, org, t).await;
    assert_eq!(all.len(), 1, "one {t}");
    all.remove(0)
}

async fn token_id(app: &TestApp, org: &Org) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::scim_tokens::Entity::find()
        .filter(entity::scim_tokens::Column::OrganizationId.eq(org.id.as_str()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

db_test!(events_carry_the_organizations_view_and_where_the_change_came_from);
async fn events_carry_the_organizations_view_and_where_the_change_came_from(app: TestApp) {
    let org = app.create_org("Acme").await;
    let tok = token_id(&app, &org).await;
    let res = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .header("x-request-id", "req-create-ada")
        .body(ada().to_string())
        .send()
        .await
        .unwrap();
    let id = expect_json(res, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = app.account_of(&org, &id).await;

    let created = one(&app, &org, "membership.created").await;
    let d = &created["data"];
    assert_eq!(d["source"], "scim.post");
    assert_eq!(d["scim_token_id"], json!(tok));
    assert_eq!(d["request_id"], "req-create-ada");
    assert_eq!(
        d["user"],
        json!({
            "id": user,
            "external_id": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "user_name": "ada@example.com",
            "email": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "display_name": "Ada Lovelace",
            "active": true,
            "status": "ACTIVE",
            "groups": [],
            "enterprise": {"department": "Engines"},
            "custom_attributes": {CUSTOM: {"costCenter": "CC-42"}},
        })
    );
    assert_eq!(
        one(&app, &org, "user.created").await["data"]["user"],
        d["user"]
    );

    // In a group, then deactivated (Entra's dialect): the view as it is now.
    let group = fixture("okta/create_group.json");
    let g = expect_json(app.post(&org, "/Groups", &group).await, 201).await;
    let gid = g["id"].as_str().unwrap();
    let add = fixture_with(
        "okta/add_group_members.json",
        &[("USER_ID", &id), ("USER_NAME", "ada@example.com")],
    );
    let res = app.patch(&org, &format!("/Groups/{gid}"), &add).await;
    assert!(res.status().is_success());
    let disable = fixture_with("entra/disable_user.json", &[("USER_ID", &id)]);
    let res = app.patch(&org, &format!("/Users/{id}"), &disable).await;
    assert!(res.status().is_success());
    let off = one(&app, &org, "membership.deactivated").await;
    let v = &off["data"]["user"];
    assert_eq!(v["active"], false);
    assert_eq!(v["status"], "INACTIVE");
    assert_eq!(
        v["groups"],
        json!([{"id": gid, "display_name": g["displayName"]}])
    );
    assert_eq!(v["custom_attributes"][CUSTOM]["costCenter"], "CC-42");
    assert_eq!(off["data"]["source"], "scim.patch");
    assert_eq!(off["data"]["scim_token_id"], json!(tok));
    assert!(
        off["data"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    // An attribute change: the updated record.
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.familyName", "value": "Byron"}]});
    let res = app.patch(&org, &format!("/Users/{id}"), &rename).await;
    assert!(res.status().is_success());
    let updated = one(&app, &org, "membership.updated").await;
    assert_eq!(updated["data"]["user"]["name"]["familyName"], "Byron");
    assert_eq!(updated["data"]["user"]["status"], "INACTIVE");

    // Deleted: ids only (without a grace period the record, its externalId included, is
    // erased by the DELETE; with one, `external_id` stays until the purge, below).
    let res = app.delete(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status().as_u16(), 204);
    let deleted = one(&app, &org, "membership.deleted").await;
    assert_eq!(
        deleted["data"]["user"],
        json!({"id": user, "external_id": null})
    );
    assert_eq!(deleted["data"]["source"], "scim.delete");
    let gone = one(&app, &org, "user.deleted").await;
    assert_eq!(gone["data"]["user"], deleted["data"]["user"]);

    // The operator's change: source admin, no SCIM token.
    let id2 = app
        .create_user(&org, &crate::helpers::user_body("bo@example.com"))
        .await;
    let user2 = app.account_of(&org, &id2).await;
    app.admin_delete_confirmed(
        &format!("/organizations/{}/users/{user2}", org.id),
        json!({}),
    )
    .await;
    let by_admin = payloads_of(&app, &org, "membership.deleted").await;
    let last = by_admin.last().unwrap();
    assert_eq!(last["data"]["source"], "admin");
    assert_eq!(last["data"]["scim_token_id"], Value::Null);
    // An organization's deletion says so.
    app.admin_delete_confirmed(&format!("/organizations/{}", org.id), json!({}))
        .await;
    let end = one(&app, &org, "organization.deleted").await;
    assert_eq!(end["data"]["source"], "organization_deletion");
}

/// Every stored event about `user`, as text.
async fn stored_about(app: &TestApp, user: &str) -> Vec<String> {
    offboard::store::outbox::for_user(&app.db, &ids::UserId::named(user).expect("a user id"), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload.to_string())
        .collect()
}

/// Entra's attribute update of the member `id` (Ada): its `membership.updated` says what
/// Ada's email, name and department were before.
async fn entra_updates(app: &TestApp, org: &Org, id: &str) {
    let res = app
        .patch(
            org,
            &format!("/Users/{id}"),
            &fixture("entra/update_user_attributes.json"),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let updated = payloads_of(app, org, "membership.updated").await;
    let last = updated.last().expect("membership.updated");
    assert_eq!(last["data"]["user"]["email"], "updatedEmail@microsoft.com");
    let previous = &last["data"]["previous_attributes"];
    assert_eq!(previous["email"], "ada@example.com", "{last}");
    assert_eq!(previous["name"]["familyName"], "Lovelace", "{last}");
    assert_eq!(previous["enterprise"]["department"], "Engines", "{last}");
}

fn assert_no_personal_data(events: &[String]) {
    assert!(!events.is_empty());
    for text in events {
        for personal in [
            "updatedEmail@microsoft.com",
            "updatedFamilyName",
            "ada@example.com",
            "Ada",
            "Lovelace",
            "Engines",
            "CC-42",
            "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        ] {
            assert!(!text.contains(personal), "{personal} kept in {text}");
        }
    }
}

db_test!(
    a_purge_erases_the_personal_data_of_stored_events,
    [("OFFBOARD_DELETION_GRACE", "1d")]
);
async fn a_purge_erases_the_personal_data_of_stored_events(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let id = app.create_user(&org, &ada()).await;
    let user = app.account_of(&org, &id).await;
    let keep = app
        .create_user(&other, &crate::helpers::user_body("keep@example.com"))
        .await;
    entra_updates(&app, &org, &id).await;
    let res = app.delete(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status().as_u16(), 204);
    // Within the grace period the account can be restored: its events still describe it,
    // and its deletion carries the id its IdP gave it.
    let before = stored_about(&app, &user).await;
    assert!(before.iter().any(|t| t.contains("ada@example.com")));
    let deleted = one(&app, &org, "membership.deleted").await;
    assert_eq!(
        deleted["data"]["user"],
        json!({"id": user, "external_id": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"})
    );
    let report = app
        .purge_at(chrono::Utc::now() + chrono::Duration::days(2))
        .await;
    assert_eq!(report.accounts_erased, 1);
    let after = stored_about(&app, &user).await;
    assert_eq!(
        after.len(),
        before.len(),
        "events are kept, their personal data is not"
    );
    assert_no_personal_data(&after);
    // What is left still names the user.
    for text in &after {
        let e: Value = serde_json::from_str(text).unwrap();
        if e["data"]["user"].is_object() && e["type"] != "sessions.revoked" {
            assert_eq!(
                e["data"]["user"],
                json!({"id": user, "external_id": null}),
                "{text}"
            );
        }
    }
    // Someone else's events are untouched.
    let keep_user = app.account_of(&other, &keep).await;
    assert!(
        stored_about(&app, &keep_user)
            .await
            .iter()
            .any(|t| t.contains("keep@example.com"))
    );
}

db_test!(an_immediate_deletion_erases_the_personal_data_of_stored_events_at_once);
async fn an_immediate_deletion_erases_the_personal_data_of_stored_events_at_once(app: TestApp) {
    // No grace period (the default): the record is erased by the DELETE itself.
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &ada()).await;
    let user = app.account_of(&org, &id).await;
    entra_updates(&app, &org, &id).await;
    let res = app.delete(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status().as_u16(), 204);
    assert_no_personal_data(&stored_about(&app, &user).await);

    // The operator's deletion of an account everywhere: the same.
    let id = app.create_user(&org, &ada()).await;
    let user = app.account_of(&org, &id).await;
    entra_updates(&app, &org, &id).await;
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/users/{user}"),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_no_personal_data(&stored_about(&app, &user).await);
}

db_test!(a_removal_erases_the_organizations_events_of_an_account_that_lives_on_elsewhere);
async fn a_removal_erases_the_organizations_events_of_an_account_that_lives_on_elsewhere(
    app: TestApp,
) {
    // One account in two organizations that both verified example.com. The first deletes
    // it: the account lives on in the second, but what the first organization's events
    // said of its member is erased with its record, at once (no grace period).
    let (acme, other) = app.orgs_sharing_a_domain("Acme", "Other").await;
    let in_acme = app.create_user(&acme, &ada()).await;
    let in_other = app.create_user(&other, &ada()).await;
    let user = app.account_of(&acme, &in_acme).await;
    assert_eq!(app.account_of(&other, &in_other).await, user, "one account");
    entra_updates(&app, &acme, &in_acme).await;
    let res = app.delete(&acme, &format!("/Users/{in_acme}")).await;
    assert_eq!(res.status().as_u16(), 204);

    let stored =
        offboard::store::outbox::for_user(&app.db, &ids::UserId::named(&user).unwrap(), 1000)
            .await
            .unwrap();
    let (acme_events, other_events): (Vec<_>, Vec<_>) = stored
        .into_iter()
        .partition(|e| e.organization_id.as_str() == acme.id);
    let texts = |events: Vec<entity::events::Model>| -> Vec<String> {
        events.into_iter().map(|e| e.payload.to_string()).collect()
    };
    assert_no_personal_data(&texts(acme_events));
    assert!(
        texts(other_events)
            .iter()
            .any(|t| t.contains("ada@example.com")),
        "the organization the account still belongs to keeps its own events"
    );
}

db_test!(an_update_says_what_it_changed_and_names_the_user_as_it_now_is);
async fn an_update_says_what_it_changed_and_names_the_user_as_it_now_is(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("okta/create_user.json"))
        .await;
    // Okta's PUT deactivating the user; its externalId changed meanwhile.
    let mut body = fixture("okta/replace_user_inactive.json");
    body["externalId"] = json!("00unew0000000000000");
    let res = app.put(&org, &format!("/Users/{id}"), &body).await;
    assert_eq!(res.status().as_u16(), 200);
    let deactivated = one(&app, &org, "membership.deactivated").await;
    let updated = one(&app, &org, "membership.updated").await;
    for e in [&deactivated, &updated] {
        assert_eq!(
            e["data"]["user"]["external_id"], "00unew0000000000000",
            "{e}"
        );
        let previous = e["data"]["previous_attributes"]
            .as_object()
            .expect("previous_attributes");
        assert_eq!(previous["external_id"], "00ujl29u0le5T6Aj10h7");
        assert_eq!(previous["active"], true);
        assert_eq!(previous["status"], "ACTIVE");
        // Only what changed: the userName and email did not.
        assert!(!previous.contains_key("user_name"), "{e}");
        assert!(!previous.contains_key("email"), "{e}");
    }
    // Reactivated with nothing else changed: only the status.
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/reactivate_user.json"),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let reactivated = one(&app, &org, "membership.reactivated").await;
    assert_eq!(
        reactivated["data"]["previous_attributes"],
        json!({"active": false, "status": "INACTIVE"})
    );
    // Creation has nothing before it.
    for t in ["user.created", "membership.created"] {
        let e = one(&app, &org, t).await;
        assert!(e["data"].get("previous_attributes").is_none(), "{e}");
    }
}
