//! A token never sees, reveals or changes another organization's data or accounts. Each
//! attack an organization could mount with nothing but its own SCIM token fails, and
//! accounts link only through operator-verified domains.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture, patch_body, user_body};

async fn search(app: &TestApp, org: &Org, filter: &str) -> Value {
    let res = app
        .client
        .post(app.scim("/Users/.search"))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter}).to_string())
        .send()
        .await
        .unwrap();
    expect_json(res, 200).await
}

db_test!(one_organizations_token_cannot_read_or_change_anothers_users);
async fn one_organizations_token_cannot_read_or_change_anothers_users(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let id = app.create_user(&a, &user_body("only-a@example.com")).await;
    let path = format!("/Users/{id}");
    let user = app.account_of(&a, &id).await;

    for p in [&path, &format!("/Users/{user}")] {
        assert_eq!(app.get(&b, p).await.status(), 404);
        assert_eq!(
            app.patch(&b, p, &fixture("okta/deactivate_user.json"))
                .await
                .status(),
            404
        );
        assert_eq!(
            app.put(&b, p, &user_body("only-a@example.com"))
                .await
                .status(),
            404
        );
        assert_eq!(app.delete(&b, p).await.status(), 404);
    }
    // A's own token cannot use the account id either: the IdP's id is the SCIM id.
    assert_eq!(app.get(&a, &format!("/Users/{user}")).await.status(), 404);
    let list: Value = app.get_json(&b, "/Users").await;
    assert_eq!(list["totalResults"], json!(0));
    for filter in [format!("id eq \"{id}\""), format!("id eq \"{user}\"")] {
        let q = filter.replace(' ', "%20").replace('"', "%22");
        let list: Value = app.get_json(&b, &format!("/Users?filter={q}")).await;
        assert_eq!(list["totalResults"], json!(0));
    }
    let list = search(&app, &b, "userName eq \"only-a@example.com\"").await;
    assert_eq!(list["totalResults"], json!(0));

    let got: Value = app.get_json(&a, &path).await;
    assert_eq!(got["active"], json!(true));
    assert!(app.event_types(&b).await.is_empty());
}

db_test!(another_organization_learns_nothing_by_creating_the_same_user_name);
async fn another_organization_learns_nothing_by_creating_the_same_user_name(app: TestApp) {
    let victim = app.create_org("Victim").await;
    let attacker = app.create_org("Attacker").await;
    app.verify_domain(&victim, "victim.com").await;
    let victims_id = app.create_user(&victim, &user_body("ceo@victim.com")).await;
    let victims_account = app.account_of(&victim, &victims_id).await;

    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let res = app
        .post(&attacker, "/Users", &user_body("CEO@victim.com"))
        .await;
    let created = expect_json(res, 201).await;
    let attackers_id = created["id"].as_str().unwrap().to_string();
    assert_ne!(attackers_id, victims_id);
    assert_ne!(attackers_id, victims_account);
    let meta_created =
        chrono::DateTime::parse_from_rfc3339(created["meta"]["created"].as_str().unwrap()).unwrap();
    assert!(
        meta_created >= before,
        "nothing in the answer is older than the attacker's own request"
    );
    assert_eq!(created["meta"]["version"], json!("W/\"1\""));
    let attackers_account = app.account_of(&attacker, &attackers_id).await;
    assert_ne!(attackers_account, victims_account, "a fresh account");
    assert!(
        attackers_account > victims_account,
        "created by this request, not found"
    );
    // Only the attacker's own events: its own user.created.
    assert_eq!(
        app.event_types(&attacker).await,
        ["user.created", "membership.created"]
    );
    assert_eq!(
        app.event_types(&victim).await,
        ["user.created", "membership.created"]
    );
}

db_test!(a_user_created_first_by_another_organization_never_becomes_the_victims_account);
async fn a_user_created_first_by_another_organization_never_becomes_the_victims_account(
    app: TestApp,
) {
    let victim = app.create_org("Victim").await;
    let attacker = app.create_org("Attacker").await;
    // The attacker moves first, with an email and a name of its choosing.
    let mut planted = user_body("ceo@victim.com");
    planted["emails"] = json!([{"value": "attacker@evil.example", "primary": true}]);
    planted["displayName"] = json!("Planted");
    let planted_id = app.create_user(&attacker, &planted).await;
    let planted_account = app.account_of(&attacker, &planted_id).await;

    app.verify_domain(&victim, "victim.com").await;
    let mut real = user_body("ceo@victim.com");
    real["displayName"] = json!("The Real CEO");
    let victims_id = app.create_user(&victim, &real).await;
    let victims_account = app.account_of(&victim, &victims_id).await;
    assert_ne!(victims_account, planted_account);
    let view = app.admin_user(&victims_account).await;
    assert_eq!(view["email"], json!("ceo@victim.com"));
    assert_eq!(view["display_name"], json!("The Real CEO"));
    assert_eq!(view["memberships"].as_array().unwrap().len(), 1);
    assert_eq!(view["linked"], json!(true));
    let planted_view = app.admin_user(&planted_account).await;
    assert_eq!(planted_view["linked"], json!(false));
    assert_eq!(planted_view["memberships"].as_array().unwrap().len(), 1);

    // Another organization that verified the domain links to the victim's account, never
    // to the planted one.
    let sister = app.create_org("Sister").await;
    app.verify_domain(&sister, "victim.com").await;
    let sister_id = app.create_user(&sister, &user_body("ceo@victim.com")).await;
    assert_eq!(app.account_of(&sister, &sister_id).await, victims_account);
}

db_test!(another_organization_cannot_keep_the_victims_account_alive);
async fn another_organization_cannot_keep_the_victims_account_alive(app: TestApp) {
    let victim = app.create_org("Victim").await;
    let attacker = app.create_org("Attacker").await;
    app.verify_domain(&victim, "victim.com").await;
    let victims_id = app.create_user(&victim, &user_body("ceo@victim.com")).await;
    let attackers_id = app
        .create_user(&attacker, &user_body("ceo@victim.com"))
        .await;
    let victims_account = app.account_of(&victim, &victims_id).await;
    let attackers_account = app.account_of(&attacker, &attackers_id).await;
    let session = app.create_session(&victim, &victims_account).await;

    assert_eq!(
        app.delete(&victim, &format!("/Users/{victims_id}"))
            .await
            .status(),
        204
    );
    let view = app.admin_user(&victims_account).await;
    assert_eq!(view["status"], json!("DELETED"), "the cascade ran");
    assert_eq!(view["email"], Value::Null);
    assert!(!app.session_active(&session).await);
    assert_eq!(
        app.event_types(&victim).await.last().map(String::as_str),
        Some("user.deleted")
    );
    // The attacker's own record is untouched and still its own.
    let view = app.admin_user(&attackers_account).await;
    assert_eq!(view["status"], json!("ACTIVE"));
    app.get_json(&attacker, &format!("/Users/{attackers_id}"))
        .await;
    assert_eq!(
        app.event_types(&attacker).await,
        ["user.created", "membership.created"]
    );
}

db_test!(a_user_name_that_is_not_an_email_never_links_two_people);
async fn a_user_name_that_is_not_an_email_never_links_two_people(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    for org in [&a, &b] {
        app.verify_domain(org, "example.com").await;
    }
    let mut body = user_body("jsmith");
    body["emails"] = json!([{"value": "jsmith@example.com", "primary": true}]);
    let id_a = app.create_user(&a, &body).await;
    let id_b = app.create_user(&b, &body).await;
    assert_ne!(
        app.account_of(&a, &id_a).await,
        app.account_of(&b, &id_b).await,
        "two organizations' jsmith are two people"
    );
}

db_test!(each_organization_keeps_its_own_record_of_a_linked_account);
async fn each_organization_keeps_its_own_record_of_a_linked_account(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("shared@example.com")).await;
    let mut body_b = user_body("shared@example.com");
    body_b["displayName"] = json!("Name in B");
    let id_b = app.create_user(&b, &body_b).await;
    assert_ne!(id_a, id_b, "no two organizations see the same id");
    assert_eq!(
        app.account_of(&a, &id_a).await,
        app.account_of(&b, &id_b).await
    );

    let res = app
        .patch(
            &b,
            &format!("/Users/{id_b}"),
            &patch_body(json!([{"op": "replace", "path": "displayName", "value": "Renamed by B"}])),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.patch(
        &b,
        &format!("/Users/{id_b}"),
        &fixture("okta/deactivate_user.json"),
    )
    .await;

    let seen_by_a: Value = app.get_json(&a, &format!("/Users/{id_a}")).await;
    assert!(
        seen_by_a.get("displayName").is_none(),
        "A never sees B's copy"
    );
    assert_eq!(
        seen_by_a["active"],
        json!(true),
        "B's deactivation leaves A's membership alone"
    );
    let seen_by_b: Value = app.get_json(&b, &format!("/Users/{id_b}")).await;
    assert_eq!(seen_by_b["displayName"], json!("Renamed by B"));
    assert_eq!(seen_by_b["active"], json!(false));
}

db_test!(verified_domains_are_managed_by_the_operator_and_junk_is_refused);
async fn verified_domains_are_managed_by_the_operator_and_junk_is_refused(app: TestApp) {
    let org = app.create_org("Acme").await;
    let path = format!("/organizations/{}/domains", org.id);
    let res = app
        .admin_send(Method::POST, &path, Some(&json!({"domain": "Acme.COM."})))
        .await;
    let created = expect_json(res, 201).await;
    assert_eq!(created["domain"], json!("acme.com"));
    assert_eq!(created["organization_id"], json!(org.id));
    let res = app
        .admin_send(Method::POST, &path, Some(&json!({"domain": "acme.com"})))
        .await;
    assert_eq!(expect_json(res, 200).await["domain"], json!("acme.com"));
    let res = app
        .admin_send(
            Method::POST,
            &path,
            Some(&json!({"domain": "bücher.example"})),
        )
        .await;
    assert_eq!(
        expect_json(res, 201).await["domain"],
        json!("xn--bcher-kva.example")
    );
    for junk in [
        json!("acme"),
        json!(""),
        json!("https://acme.com"),
        json!("*.acme.com"),
        json!("10.0.0.1"),
        json!("a@acme.com"),
        json!("acme..com"),
        json!(7),
        Value::Null,
    ] {
        let res = app
            .admin_send(Method::POST, &path, Some(&json!({"domain": junk})))
            .await;
        let body = expect_json(res, 422).await;
        assert!(
            ["INVALID_DOMAIN", "VALIDATION_ERROR"]
                .contains(&body["error"]["code"].as_str().unwrap()),
            "{junk}: {body}"
        );
    }
    let res = app
        .admin_send(
            Method::POST,
            &path,
            Some(&json!({"domain": "acme.org", "x": 1})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 422);
    let list = expect_json(app.admin_send(Method::GET, &path, None).await, 200).await;
    let domains: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["acme.com", "xn--bcher-kva.example"]);

    let res = app
        .admin_send(Method::DELETE, &format!("{path}/ACME.com"), None)
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let res = app
        .admin_send(Method::DELETE, &format!("{path}/acme.com"), None)
        .await;
    assert_eq!(res.status().as_u16(), 404);
    let res = app
        .admin_send(Method::DELETE, &format!("{path}/not..valid"), None)
        .await;
    assert_eq!(
        expect_json(res, 422).await["error"]["code"],
        json!("INVALID_DOMAIN")
    );
    let res = app
        .admin_send(
            Method::POST,
            "/organizations/org_missing/domains",
            Some(&json!({"domain": "acme.com"})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
    let actions = app.audit_actions(&org).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("organization.domain"))
            .count(),
        3
    );
}

db_test!(removing_a_verified_domain_keeps_existing_links_and_makes_new_users_private);
async fn removing_a_verified_domain_keeps_existing_links_and_makes_new_users_private(app: TestApp) {
    let parent = app.create_org("Parent").await;
    let sub = app.create_org("Subsidiary").await;
    app.verify_domain(&parent, "acme.com").await;
    app.verify_domain(&sub, "acme.com").await;
    let p_ana = app.create_user(&parent, &user_body("ana@acme.com")).await;
    let s_ana = app.create_user(&sub, &user_body("ana@acme.com")).await;
    let ana = app.account_of(&parent, &p_ana).await;
    assert_eq!(app.account_of(&sub, &s_ana).await, ana);

    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/domains/acme.com", sub.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    // Ana stays linked: the cascade still spans both organizations.
    assert_eq!(
        app.delete(&parent, &format!("/Users/{p_ana}"))
            .await
            .status(),
        204
    );
    assert_eq!(app.admin_user(&ana).await["status"], json!("ACTIVE"));
    // A new user of the subsidiary in the domain gets an account of its own.
    let p_bo = app.create_user(&parent, &user_body("bo@acme.com")).await;
    let s_bo = app.create_user(&sub, &user_body("bo@acme.com")).await;
    assert_ne!(
        app.account_of(&parent, &p_bo).await,
        app.account_of(&sub, &s_bo).await
    );
    assert_eq!(
        app.delete(&sub, &format!("/Users/{s_ana}")).await.status(),
        204
    );
    assert_eq!(app.admin_user(&ana).await["status"], json!("DELETED"));
}

db_test!(verifying_a_domain_makes_the_organizations_existing_users_linkable);
async fn verifying_a_domain_makes_the_organizations_existing_users_linkable(app: TestApp) {
    let parent = app.create_org("Parent").await;
    let sub = app.create_org("Subsidiary").await;
    let other = app.create_org("Other").await;
    // Provisioned before anyone verified the domain: private accounts.
    let p_ana = app.create_user(&parent, &user_body("ana@acme.com")).await;
    let o_ana = app.create_user(&other, &user_body("ana@acme.com")).await;
    let ana = app.account_of(&parent, &p_ana).await;
    let linked = app.verify_domain(&parent, "acme.com").await;
    assert_eq!(linked["accounts_linked"], json!(1));
    app.verify_domain(&sub, "acme.com").await;
    let s_ana = app.create_user(&sub, &user_body("Ana@ACME.com")).await;
    assert_eq!(app.account_of(&sub, &s_ana).await, ana);
    // An organization that verifies the domain later never merges its existing account
    // into one that is already linked.
    let again = app.verify_domain(&other, "acme.com").await;
    assert_eq!(again["accounts_linked"], json!(0));
    assert_ne!(app.account_of(&other, &o_ana).await, ana);
}
