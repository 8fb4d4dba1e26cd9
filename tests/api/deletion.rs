//! The operator's deletions: organizations, users everywhere, one user from one
//! organization, and the confirmation they all require.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, membership_in, user_body};

// The seed's own example: department ids belong to the application.
const DEPT: &str = "dept_eng001";

db_test!(deleting_an_organization_keeps_members_of_other_organizations_and_deletes_the_rest);
async fn deleting_an_organization_keeps_members_of_other_organizations_and_deletes_the_rest(
    app: TestApp,
) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let shared_a = app.create_user(&a, &user_body("shared@example.com")).await;
    let shared_b = app.create_user(&b, &user_body("shared@example.com")).await;
    let shared = app.account_of(&a, &shared_a).await;
    assert_eq!(app.account_of(&b, &shared_b).await, shared);
    let only_scim = app.create_user(&a, &user_body("only@example.com")).await;
    let only = app.account_of(&a, &only_scim).await;
    let s_shared_a = app.create_session(&a, &shared).await;
    let s_shared_b = app.create_session(&b, &shared).await;
    let s_only = app.create_session(&a, &only).await;
    let b_events_before = app.event_types(&b).await;

    app.admin_delete_confirmed(&format!("/organizations/{}", a.id), json!({}))
        .await;

    // The member of another organization keeps the account and that membership.
    let view = app.admin_user(&shared).await;
    assert_eq!(view["status"], json!("ACTIVE"));
    assert_eq!(view["email"], json!("shared@example.com"));
    assert!(membership_in(&view, &a.id)["removed_at"].is_string());
    assert_eq!(membership_in(&view, &b.id)["status"], json!("ACTIVE"));
    assert_eq!(membership_in(&view, &b.id)["removed_at"], Value::Null);
    app.get_json(&b, &format!("/Users/{shared_b}")).await;
    assert!(!app.session_active(&s_shared_a).await);
    assert!(app.session_active(&s_shared_b).await, "B's session stays");

    // The member of only this organization is deleted: a tombstone.
    let view = app.admin_user(&only).await;
    assert_eq!(view["status"], json!("DELETED"));
    assert_eq!(view["email"], Value::Null);
    assert_eq!(view["display_name"], json!("Deleted User"));
    assert!(!app.session_active(&s_only).await);

    // The organization and its tokens are gone.
    let res = app.get(&a, "/Users").await;
    assert_eq!(res.status().as_u16(), 401, "A's SCIM token no longer works");
    let res = app
        .admin_send(Method::GET, &format!("/organizations/{}", a.id), None)
        .await;
    assert_eq!(
        expect_json(res, 404).await["error"]["code"],
        json!("NOT_FOUND")
    );

    let events = app.events(&a).await;
    let tail: Vec<(&str, Option<&str>)> = events[4..]
        .iter()
        .map(|(t, u)| (t.as_str(), u.as_deref()))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("membership.deleted", Some(shared.as_str())),
            ("sessions.revoked", Some(shared.as_str())),
            ("membership.deleted", Some(only.as_str())),
            ("sessions.revoked", Some(only.as_str())),
            ("user.deleted", Some(only.as_str())),
            ("organization.deleted", None),
        ]
    );
    let payloads = app.event_payloads(&a).await;
    let last = payloads.last().unwrap();
    assert_eq!(last["data"]["memberships_removed"], json!(2));
    assert_eq!(last["data"]["accounts_deleted"], json!(1));
    assert_eq!(
        app.event_types(&b).await,
        b_events_before,
        "B hears nothing"
    );
    assert!(
        app.audit_actions(&a)
            .await
            .contains(&"organization.delete".to_string())
    );

    // A second deletion finds nothing.
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}", a.id),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

/// Checks the whole envelope, key by key, against the contract.
async fn assert_confirmation_required(res: reqwest::Response, details: Value) {
    assert_eq!(res.status().as_u16(), 422);
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_string();
    let body: Value = res.json().await.unwrap();
    let error = &body["error"];
    let timestamp = error["timestamp"].as_str().unwrap().to_string();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&timestamp).is_ok(),
        "{timestamp}"
    );
    assert_eq!(
        body,
        json!({
            "success": false,
            "error": {
                "code": "CONFIRMATION_REQUIRED",
                "message": "Please confirm this action by setting confirm to true.",
                "system_message": "please confirm this action by setting confirm to true.",
                "type": "client_error",
                "status": 422,
                "details": details,
                "trace_id": request_id,
                "timestamp": timestamp,
            }
        })
    );
}

db_test!(removal_without_confirmation_answers_the_exact_422_envelope_and_changes_nothing);
async fn removal_without_confirmation_answers_the_exact_422_envelope_and_changes_nothing(
    app: TestApp,
) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("kim@example.com")).await;
    let user = app.account_of(&org, &id).await;
    let path = format!("/organizations/{}/users/{user}", org.id);
    for body in [
        None,
        Some(json!({})),
        Some(json!({"confirm": false})),
        Some(json!({"confirm": "true"})),
        Some(json!({"transfer_resources_to_department_id": DEPT})),
    ] {
        let res = app.admin_send(Method::DELETE, &path, body.as_ref()).await;
        assert_confirmation_required(res, json!({"user_id": user})).await;
    }
    let res = app
        .admin_send(Method::DELETE, &format!("/users/{user}"), None)
        .await;
    assert_confirmation_required(res, json!({"user_id": user})).await;
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}", org.id),
            Some(&json!({})),
        )
        .await;
    assert_confirmation_required(res, json!({"organization_id": org.id})).await;
    // A JSON content type with nothing after it is no body: unconfirmed, not malformed.
    for (path, details) in [
        (path.clone(), json!({"user_id": user})),
        (
            format!("/organizations/{}", org.id),
            json!({"organization_id": org.id}),
        ),
    ] {
        let res = app
            .client
            .delete(app.admin(&path))
            .bearer_auth(&app.admin_token)
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        assert_confirmation_required(res, details).await;
    }

    app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(
        app.event_types(&org).await,
        vec!["user.created", "membership.created"]
    );
}

db_test!(removing_a_user_from_an_organization_carries_the_transfer_target);
async fn removing_a_user_from_an_organization_carries_the_transfer_target(app: TestApp) {
    let (org, other) = app.orgs_sharing_a_domain("Acme", "Other").await;
    let id = app.create_user(&org, &user_body("kim@example.com")).await;
    app.create_user(&other, &user_body("kim@example.com")).await;
    let user = app.account_of(&org, &id).await;
    let path = format!("/organizations/{}/users/{user}", org.id);

    for bad in [
        json!("dept_"),
        json!("dept_eng 001"),
        json!(format!("dept_{}", "x".repeat(65))),
        json!("grp_01JDQ8X2M4N6P8R0T2V4X6Z8A0"),
        json!(7),
    ] {
        let res = app
            .admin_send(
                Method::DELETE,
                &path,
                Some(&json!({"confirm": true, "transfer_resources_to_department_id": bad})),
            )
            .await;
        let body = expect_json(res, 422).await;
        assert_eq!(body["error"]["code"], json!("INVALID_DEPARTMENT_ID"));
    }
    let res = app
        .admin_send(
            Method::DELETE,
            &path,
            Some(&json!({"confirm": true, "reason": "x"})),
        )
        .await;
    assert_eq!(
        expect_json(res, 422).await["error"]["code"],
        json!("VALIDATION_ERROR")
    );
    app.get_json(&org, &format!("/Users/{id}")).await;

    app.admin_delete_confirmed(&path, json!({"transfer_resources_to_department_id": DEPT}))
        .await;
    let res = app.get(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status().as_u16(), 404);
    let deleted = app
        .event_payloads(&org)
        .await
        .into_iter()
        .find(|p| p["type"] == json!("membership.deleted"))
        .unwrap();
    assert_eq!(
        deleted["data"]["transfer_resources_to_department_id"],
        json!(DEPT)
    );
    assert_eq!(deleted["data"]["account_deleted"], json!(false));
    assert_eq!(app.admin_user(&user).await["status"], json!("ACTIVE"));

    // Unknown membership, unknown organization.
    let res = app
        .admin_send(Method::DELETE, &path, Some(&json!({"confirm": true})))
        .await;
    assert_eq!(
        expect_json(res, 404).await["error"]["code"],
        json!("NOT_FOUND")
    );
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/org_missing/users/{user}"),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

db_test!(deleting_a_user_everywhere_removes_every_membership_and_erases_the_account);
async fn deleting_a_user_everywhere_removes_every_membership_and_erases_the_account(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("lee@example.com")).await;
    let id_b = app.create_user(&b, &user_body("lee@example.com")).await;
    let id = app.account_of(&a, &id_a).await;
    assert_eq!(app.account_of(&b, &id_b).await, id);
    let bystander = app.create_user(&a, &user_body("other@example.com")).await;
    let sa = app.create_session(&a, &id).await;
    let sb = app.create_session(&b, &id).await;

    app.admin_delete_confirmed(&format!("/users/{id}"), json!({}))
        .await;

    let view = app.admin_user(&id).await;
    assert_eq!(view["status"], json!("DELETED"));
    assert_eq!(view["email"], Value::Null);
    assert_eq!(view["memberships"].as_array().unwrap().len(), 2);
    assert!(
        view["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["removed_at"].is_string() && m["user_name"].is_null())
    );
    assert!(!app.session_active(&sa).await && !app.session_active(&sb).await);
    for (org, scim_id) in [(&a, &id_a), (&b, &id_b)] {
        assert_eq!(
            app.get(org, &format!("/Users/{scim_id}"))
                .await
                .status()
                .as_u16(),
            404
        );
        let types = app.event_types(org).await;
        let n = types.len();
        assert_eq!(
            &types[n - 3..],
            &["membership.deleted", "sessions.revoked", "user.deleted"]
        );
    }
    app.get_json(&a, &format!("/Users/{bystander}")).await;
    // The same email later makes a new account.
    let again = app.create_user(&a, &user_body("lee@example.com")).await;
    assert_ne!(app.account_of(&a, &again).await, id);

    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/users/{id}"),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(
        res.status().as_u16(),
        404,
        "a tombstone cannot be deleted again"
    );
}

db_test!(operators_revoke_sessions_and_scim_tokens_and_change_organizations);
async fn operators_revoke_sessions_and_scim_tokens_and_change_organizations(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("kim@example.com")).await;
    let session = app
        .create_session(&org, &app.account_of(&org, &id).await)
        .await;
    let res = app
        .admin_send(Method::DELETE, &format!("/sessions/{session}"), None)
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["revoked_reason"], json!("admin"));
    assert!(!app.session_active(&session).await);
    // The revocation is audited once; revoking it again answers the same and audits
    // nothing more.
    let revocations = async || {
        app.audit_actions(&org)
            .await
            .into_iter()
            .filter(|a| a == "session.revoke")
            .count()
    };
    assert_eq!(revocations().await, 1);
    let res = app
        .admin_send(Method::DELETE, &format!("/sessions/{session}"), None)
        .await;
    assert_eq!(expect_json(res, 200).await["active"], json!(false));
    assert_eq!(revocations().await, 1);
    let res = app
        .admin_send(Method::DELETE, "/sessions/ses_missing", None)
        .await;
    assert_eq!(res.status().as_u16(), 404);

    // PATCH: set, clear and refuse a retention; rename.
    let path = format!("/organizations/{}", org.id);
    let res = app
        .admin_send(
            Method::PATCH,
            &path,
            Some(&json!({"deactivated_retention": "30d", "name": "Acme Corp"})),
        )
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["deactivated_retention_secs"], json!(30 * 86400));
    assert_eq!(body["name"], json!("Acme Corp"));
    let res = app
        .admin_send(Method::PATCH, &path, Some(&json!({"name": "Acme"})))
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(
        body["deactivated_retention_secs"],
        json!(30 * 86400),
        "absent keeps"
    );
    let res = app
        .admin_send(
            Method::PATCH,
            &path,
            Some(&json!({"deactivated_retention": null})),
        )
        .await;
    assert_eq!(
        expect_json(res, 200).await["deactivated_retention_secs"],
        Value::Null
    );
    for bad in [
        json!({"deactivated_retention": "soon"}),
        json!({"name": ""}),
        json!({"colour": "red"}),
    ] {
        let res = app.admin_send(Method::PATCH, &path, Some(&bad)).await;
        assert_eq!(
            expect_json(res, 422).await["error"]["code"],
            json!("VALIDATION_ERROR")
        );
    }
    let res = app
        .admin_send(
            Method::PATCH,
            "/organizations/org_missing",
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);

    // A second token, then revoke the first: the IdP using it is refused at once.
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/scim-tokens", org.id),
            None,
        )
        .await;
    let second = expect_json(res, 201).await;
    let first_id = offboard::store::tokens::find_unrevoked(&app.db, &org.token)
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/scim-tokens/{first_id}", org.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(app.get(&org, "/Users").await.status().as_u16(), 401);
    let res = app
        .client
        .get(app.scim("/Users"))
        .bearer_auth(second["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/scim-tokens/{first_id}", org.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

db_test!(the_audit_log_pages_oldest_first_and_holds_no_personal_data);
async fn the_audit_log_pages_oldest_first_and_holds_no_personal_data(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &user_body("private.person@example.com"))
        .await;
    app.patch(
        &org,
        &format!("/Users/{id}"),
        &crate::helpers::fixture("okta/deactivate_user.json"),
    )
    .await;
    app.delete(&org, &format!("/Users/{id}")).await;
    let user = app.account_of(&org, &id).await;

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/audit-log?organization_id={}&limit=2", org.id);
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let page = expect_json(app.admin_send(Method::GET, &path, None).await, 200).await;
        let data = page["data"].as_array().unwrap().clone();
        assert!(data.len() <= 2);
        seen.extend(data);
        match page["next_after"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    let actions: Vec<&str> = seen.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec![
            "organization.create",
            "scim_token.create",
            "scim.user.create",
            "scim.user.patch",
            "scim.user.delete",
        ]
    );
    let delete = &seen[4];
    assert_eq!(delete["actor"]["type"], json!("scim_token"));
    assert_eq!(delete["target"], json!({"type": "user", "id": user}));
    assert!(delete["request_id"].is_string());
    assert_eq!(
        seen[0]["actor"],
        json!({"type": "admin", "id": "test-operator"})
    );
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains("private.person"), "no personal data: {text}");

    let res = app
        .admin_send(Method::GET, "/audit-log?limit=0", None)
        .await;
    assert_eq!(res.status().as_u16(), 422);
    let res = app
        .admin_send(Method::GET, "/audit-log?colour=red", None)
        .await;
    assert_eq!(res.status().as_u16(), 422);

    let events = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/events?organization_id={}&type=membership.deleted", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    let data = events["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["data"]["user"]["id"], json!(user));
    assert_eq!(data[0]["data"]["membership"]["scim_id"], json!(id));
}

/// Seeds `n` members of `org` in bulk, as the IdP would have created them.
pub(crate) async fn seed_members(
    app: &TestApp,
    org: &crate::helpers::Org,
    n: usize,
) -> Vec<String> {
    use entity::{memberships, users};
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let now = chrono::Utc::now();
    let mut accounts = Vec::new();
    for start in (0..n).step_by(400) {
        let (mut us, mut ms) = (Vec::new(), Vec::new());
        for i in start..(start + 400).min(n) {
            let uid = ids::UserId::new();
            let mid = ids::MembershipId::new();
            let name = format!("bulk{i}@example.com");
            us.push(users::ActiveModel {
                id: Set(uid.clone()),
                identity_key: Set(None),
                email: Set(Some(name.clone())),
                display_name: Set(Some(format!("Bulk {i}"))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                purge_after: Set(None),
                held_identity_key: Set(None),
            });
            ms.push(memberships::ActiveModel {
                scim_id: Set(mid.to_string()),
                id: Set(mid),
                organization_id: Set(org.org_id()),
                user_id: Set(uid.clone()),
                status: Set(entity::memberships::Status::Active),
                roles: Set(json!([])),
                external_id: Set(None),
                user_name: Set(Some(name.clone())),
                user_name_key: Set(Some(name.clone())),
                scim: Set(Some(json!({"userName": name}))),
                given_name_key: Set(None),
                family_name_key: Set(None),
                display_name_key: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                status_changed_at: Set(now),
                removed_at: Set(None),
                purge_after: Set(None),
                removed_with_account: Set(false),
                granted_roles: Set(None),
            });
            accounts.push(uid.to_string());
        }
        users::Entity::insert_many(us)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        memberships::Entity::insert_many(ms)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    accounts
}

db_test!(deleting_an_organization_removes_every_member_across_pages);
async fn deleting_an_organization_removes_every_member_across_pages(app: TestApp) {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let org = app.create_org("Big").await;
    // More than two pages of the deletion's 500.
    let n = 2 * offboard::service::deletion::PAGE as usize + 101;
    let accounts = seed_members(&app, &org, n).await;
    app.admin_delete_confirmed(&format!("/organizations/{}", org.id), json!({}))
        .await;
    let live = entity::memberships::Entity::find()
        .filter(entity::memberships::Column::OrganizationId.eq(org.id.as_str()))
        .filter(entity::memberships::Column::RemovedAt.is_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(live, 0, "every member removed");
    let deleted = entity::users::Entity::find()
        .filter(entity::users::Column::DeletedAt.is_not_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(deleted as usize, n, "every account deleted");
    let types = app.event_types(&org).await;
    assert_eq!(
        types.iter().filter(|t| *t == "membership.deleted").count(),
        n
    );
    assert_eq!(types.iter().filter(|t| *t == "user.deleted").count(), n);
    let summary = app.event_payloads(&org).await.pop().unwrap();
    assert_eq!(summary["type"], json!("organization.deleted"));
    assert_eq!(summary["data"]["memberships_removed"], json!(n));
    assert_eq!(
        app.admin_user(accounts.last().unwrap()).await["status"],
        json!("DELETED")
    );
}

db_test!(what_a_deletion_reports_counts_what_it_did);
async fn what_a_deletion_reports_counts_what_it_did(app: TestApp) {
    // One account in two organizations (linked by a verified domain), with sessions in both.
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let in_a = app.create_user(&a, &user_body("kim@example.com")).await;
    app.create_user(&b, &user_body("kim@example.com")).await;
    let kim = app.account_of(&a, &in_a).await;
    for org in [&a, &a, &b] {
        app.create_session(org, &kim).await;
    }
    app.admin_delete_confirmed(&format!("/users/{kim}"), json!({}))
        .await;
    let log = expect_json(
        app.admin_send(Method::GET, "/audit-log?limit=500", None)
            .await,
        200,
    )
    .await;
    let entry = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == json!("user.delete"))
        .cloned()
        .expect("a user.delete audit row");
    assert_eq!(entry["details"]["sessions_revoked"], json!(3), "{entry}");
    assert_eq!(
        entry["details"]["memberships_removed"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // An organization of three members, two sessions each but one.
    let c = app.create_org("C").await;
    let mut sessions = 0;
    for (i, n) in [2, 2, 1].into_iter().enumerate() {
        let id = app
            .create_user(&c, &user_body(&format!("u{i}@c.example")))
            .await;
        let user = app.account_of(&c, &id).await;
        for _ in 0..n {
            app.create_session(&c, &user).await;
            sessions += 1;
        }
    }
    app.admin_delete_confirmed(&format!("/organizations/{}", c.id), json!({}))
        .await;
    let deleted = app
        .event_payloads(&c)
        .await
        .into_iter()
        .find(|e| e["type"] == json!("organization.deleted"))
        .expect("organization.deleted");
    assert_eq!(
        deleted["data"]["sessions_revoked"],
        json!(sessions),
        "{deleted}"
    );
    assert_eq!(deleted["data"]["memberships_removed"], json!(3));
    assert_eq!(deleted["data"]["accounts_deleted"], json!(3));
}

db_test!(a_removal_keeps_the_instant_an_inactive_membership_was_deactivated);
async fn a_removal_keeps_the_instant_an_inactive_membership_was_deactivated(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let ana_a = app.create_user(&a, &user_body("ana@example.com")).await;
    app.create_user(&b, &user_body("ana@example.com")).await;
    let bo_a = app.create_user(&a, &user_body("bo@example.com")).await;
    app.create_user(&b, &user_body("bo@example.com")).await;
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let res = app.patch(&a, &format!("/Users/{ana_a}"), &off).await;
    assert_eq!(res.status().as_u16(), 200);
    let in_a = |view: &Value| membership_in(view, &a.id);
    let ana = app.account_of(&a, &ana_a).await;
    let bo = app.account_of(&a, &bo_a).await;
    let deactivated_at = in_a(&export(&app, &ana).await)["status_changed_at"].clone();
    assert!(deactivated_at.is_string());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for id in [&ana_a, &bo_a] {
        let res = app.delete(&a, &format!("/Users/{id}")).await;
        assert_eq!(res.status().as_u16(), 204);
    }
    // Already INACTIVE: its status did not change at the removal.
    let removed = in_a(&export(&app, &ana).await);
    assert!(removed["removed_at"].is_string());
    assert_eq!(removed["status_changed_at"], deactivated_at);
    // ACTIVE until the removal: its status changed then.
    let removed = in_a(&export(&app, &bo).await);
    assert_eq!(removed["status_changed_at"], removed["removed_at"]);
}

/// The user's export, which shows each membership's `status_changed_at`.
async fn export(app: &TestApp, user: &str) -> Value {
    let res = app
        .admin_send(Method::GET, &format!("/users/{user}/export"), None)
        .await;
    expect_json(res, 200).await
}

// The IdP's rate limit lifted: 510 users are created one after another, faster than the
// default 100 a second once a fast machine has spent the burst; the test is about events.
db_test!(
    deleting_an_organization_whose_members_are_in_many_groups_writes_every_event,
    [
        ("OFFBOARD_RATE_LIMIT_PER_SECOND", "100000"),
        ("OFFBOARD_RATE_LIMIT_BURST", "100000"),
    ]
);
async fn deleting_an_organization_whose_members_are_in_many_groups_writes_every_event(
    app: TestApp,
) {
    // A page of 500 members in 8 groups each appends 5,000 events at once: more rows
    // than one INSERT may bind on SQLite (32,766 values).
    const MEMBERS: usize = 510;
    const GROUPS: usize = 8;
    let a = app.create_org("A").await;
    let mut members = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let id = app
            .create_user(&a, &user_body(&format!("u{i}@example.com")))
            .await;
        members.push(json!({"value": id}));
    }
    for g in 0..GROUPS {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": format!("group {g}"),
            "members": members,
        });
        expect_json(app.post(&a, "/Groups", &body).await, 201).await;
    }
    let before = app.events(&a).await.len();

    app.admin_delete_confirmed(&format!("/organizations/{}", a.id), json!({}))
        .await;

    // Each member: a group.member_removed per group, membership.deleted, user.deleted;
    // then organization.deleted. (`events` checks the sequences are contiguous.)
    let after = app.event_types(&a).await;
    assert_eq!(after.len() - before, MEMBERS * (GROUPS + 2) + 1);
    let removed = after[before..]
        .iter()
        .filter(|t| *t == "group.member_removed")
        .count();
    assert_eq!(removed, MEMBERS * GROUPS);
}
