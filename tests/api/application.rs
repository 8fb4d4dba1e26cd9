//! The application's side (`/v1`): least-privilege API keys, each scope allowing exactly
//! its routes, keys limited to one organization, and the rules of session registration
//! and introspection, one test per rule. Written from the IdPs' literal calls.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture};

const ALL: &[&str] = &[
    "events:read",
    "sessions:read",
    "sessions:write",
    "users:read",
];

/// An API key with these scopes, limited to `org` if given.
async fn key(app: &TestApp, scopes: &[&str], org: Option<&Org>) -> String {
    let body =
        json!({"name": "app", "scopes": scopes, "organization_id": org.map(|o| o.id.clone())});
    let res = app.admin_send(Method::POST, "/api-keys", Some(&body)).await;
    expect_json(res, 201).await["key"]
        .as_str()
        .expect("key")
        .to_string()
}

/// A `/v1` request with a bearer token.
async fn v1(
    app: &TestApp,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app
        .client
        .request(method, format!("{}/v1{path}", app.address))
        .bearer_auth(bearer);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.expect("request")
}

fn session_body(user: &str, org: &Org) -> Value {
    json!({"user_id": user, "organization_id": org.id, "expires_at": "2999-01-01T00:00:00Z"})
}

/// `POST /v1/sessions` for the user in the organization, with this bearer token.
async fn register(app: &TestApp, bearer: &str, user: &str, org: &Org) -> reqwest::Response {
    v1(
        app,
        bearer,
        Method::POST,
        "/sessions",
        Some(session_body(user, org)),
    )
    .await
}

/// Introspection through the application's own route.
async fn introspect(app: &TestApp, bearer: &str, session: &str) -> Value {
    expect_json(
        v1(
            app,
            bearer,
            Method::GET,
            &format!("/sessions/{session}"),
            None,
        )
        .await,
        200,
    )
    .await
}

/// A member created from Okta's literal POST: (SCIM id, account id).
async fn okta_user(app: &TestApp, org: &Org) -> (String, String) {
    let id = app
        .create_user(org, &fixture("okta/create_user.json"))
        .await;
    let account = app.account_of(org, &id).await;
    (id, account)
}

db_test!(each_scope_allows_exactly_its_routes);
async fn each_scope_allows_exactly_its_routes(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = okta_user(&app, &org).await;
    let routes: [(&str, &str); 5] = [
        ("POST /sessions", "sessions:write"),
        ("GET /sessions/{id}", "sessions:read"),
        ("DELETE /sessions/{id}", "sessions:write"),
        ("GET /users/{id}", "users:read"),
        ("GET /events", "events:read"),
    ];
    for scope in ALL {
        let k = key(&app, &[scope], None).await;
        for (route, needs) in routes {
            let session = app.create_session(&org, &user).await;
            let res = match route {
                "POST /sessions" => register(&app, &k, &user, &org).await,
                "GET /sessions/{id}" => {
                    v1(&app, &k, Method::GET, &format!("/sessions/{session}"), None).await
                }
                "DELETE /sessions/{id}" => {
                    v1(
                        &app,
                        &k,
                        Method::DELETE,
                        &format!("/sessions/{session}"),
                        None,
                    )
                    .await
                }
                "GET /users/{id}" => {
                    v1(&app, &k, Method::GET, &format!("/users/{user}"), None).await
                }
                _ => {
                    let path = format!("/events?organization_id={}", org.id);
                    v1(&app, &k, Method::GET, &path, None).await
                }
            };
            let status = res.status().as_u16();
            if *scope == needs {
                assert!((200..300).contains(&status), "{scope} {route}: {status}");
            } else {
                let v = expect_json(res, 403).await;
                assert!(
                    v["error"]["message"].as_str().unwrap().contains(needs),
                    "{scope} {route}: {v}"
                );
                // Refused: nothing changed.
                assert!(app.session_active(&session).await, "{scope} {route}");
            }
        }
    }
    // An admin JWT opens none of the application's routes, and a key none of the admin's.
    let res = v1(
        &app,
        &app.admin_token,
        Method::GET,
        &format!("/users/{user}"),
        None,
    )
    .await;
    let v = expect_json(res, 401).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an admin JWT"),
        "{v}"
    );
    let res = register(&app, &app.admin_token, &user, &org).await;
    assert_eq!(res.status().as_u16(), 401);
    let all = key(&app, ALL, None).await;
    for (method, path) in [
        (Method::POST, "/admin/v1/sessions"),
        (Method::GET, "/admin/v1/organizations"),
        (Method::GET, "/admin/v1/api-keys"),
    ] {
        let res = app
            .client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(&all)
            .json(&session_body(&user, &org))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "{path}");
    }
    // With every scope the key registers, introspects (with the roles now) and revokes.
    let created = expect_json(register(&app, &all, &user, &org).await, 201).await;
    let sid = created["id"].as_str().unwrap();
    assert_eq!(introspect(&app, &all, sid).await["active"], json!(true));
    let revoked = expect_json(
        v1(
            &app,
            &all,
            Method::DELETE,
            &format!("/sessions/{sid}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revoked["active"], json!(false));
    assert!(!app.session_active(sid).await);
    // Recorded as the application's key.
    let log = expect_json(app.admin_send(Method::GET, "/audit-log", None).await, 200).await;
    assert!(
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "session.create" && e["actor"]["type"] == "api_key"),
        "{log}"
    );
}

db_test!(a_key_limited_to_one_organization_sees_nothing_of_another);
async fn a_key_limited_to_one_organization_sees_nothing_of_another(app: TestApp) {
    // One account in both organizations (they verified example.com), and one in B only.
    let (a, b) = app.orgs_sharing_a_domain("Acme", "Other").await;
    let ada = crate::helpers::user_body("ada@example.com");
    let in_a = app.create_user(&a, &ada).await;
    let in_b = app.create_user(&b, &ada).await;
    let shared = app.account_of(&a, &in_a).await;
    assert_eq!(app.account_of(&b, &in_b).await, shared);
    let (_, only_b) = okta_user(&app, &b).await;
    let k = key(&app, ALL, Some(&a)).await;

    // Another organization's membership, session and user: 404, as if none existed.
    for body in [session_body(&only_b, &b), session_body(&shared, &b)] {
        let res = v1(&app, &k, Method::POST, "/sessions", Some(body)).await;
        assert_eq!(expect_json(res, 404).await["error"]["code"], "NOT_FOUND");
    }
    let theirs = app.create_session(&b, &shared).await;
    for method in [Method::GET, Method::DELETE] {
        let res = v1(&app, &k, method, &format!("/sessions/{theirs}"), None).await;
        assert_eq!(res.status().as_u16(), 404);
    }
    assert!(
        app.session_active(&theirs).await,
        "another organization's session lives on"
    );
    let other = expect_json(
        v1(&app, &k, Method::GET, &format!("/users/{only_b}"), None).await,
        404,
    )
    .await;
    let missing = expect_json(
        v1(
            &app,
            &k,
            Method::GET,
            "/users/usr_01J9NOSUCHUSER000000000000",
            None,
        )
        .await,
        404,
    )
    .await;
    for field in ["code", "message"] {
        assert_eq!(
            other["error"][field], missing["error"][field],
            "another organization's user reads as one that does not exist"
        );
    }

    // Its own: the shared account with only this organization's membership, and none of
    // the account's own data.
    let v = expect_json(
        v1(&app, &k, Method::GET, &format!("/users/{shared}"), None).await,
        200,
    )
    .await;
    let memberships = v["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1, "{v}");
    assert_eq!(memberships[0]["organization_id"], json!(a.id));
    assert_eq!(v["email"], Value::Null);
    assert_eq!(v["display_name"], Value::Null);
    assert!(!v.to_string().contains(&b.id), "{v}");
    let mine = expect_json(register(&app, &k, &shared, &a).await, 201).await;
    assert_eq!(
        introspect(&app, &k, mine["id"].as_str().unwrap()).await["active"],
        true
    );
    // The feed too: another organization's events are not its own.
    let res = v1(
        &app,
        &k,
        Method::GET,
        &format!("/events?organization_id={}", b.id),
        None,
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
}

db_test!(a_deleted_key_is_refused_at_once_and_keys_are_stored_hashed);
async fn a_deleted_key_is_refused_at_once_and_keys_are_stored_hashed(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = okta_user(&app, &org).await;
    let k = key(&app, ALL, Some(&org)).await;
    let rows = entity::api_keys::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    let stored = serde_json::to_string(&format!("{:?}", rows[0])).unwrap();
    assert!(!stored.contains(&k), "the key is stored: {stored}");
    assert!(!stored.contains(k.trim_start_matches("obk_")), "{stored}");
    let res = v1(&app, &k, Method::GET, &format!("/users/{user}"), None).await;
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .admin_send(Method::DELETE, &format!("/api-keys/{}", rows[0].id), None)
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let res = v1(&app, &k, Method::GET, &format!("/users/{user}"), None).await;
    assert_eq!(res.status().as_u16(), 401);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(res.status().as_u16(), 401);
}

// ---- the rules of sessions, one test each ------------------------------------------------

db_test!(no_session_for_an_inactive_membership_and_introspection_says_so_at_once);
async fn no_session_for_an_inactive_membership_and_introspection_says_so_at_once(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (id, user) = okta_user(&app, &org).await;
    let k = key(&app, ALL, Some(&org)).await;
    let before = app.create_session(&org, &user).await;
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(introspect(&app, &k, &before).await["active"], false);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(
        res.status().as_u16(),
        422,
        "an INACTIVE membership gets no session"
    );
    // Reactivated by Okta: sessions may start again.
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("okta/reactivate_user.json"),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(res.status().as_u16(), 201);
}

db_test!(no_session_for_a_removed_membership_and_introspection_says_so_at_once);
async fn no_session_for_a_removed_membership_and_introspection_says_so_at_once(app: TestApp) {
    // The account lives on in the other organization: only this membership is removed.
    let (a, b) = app.orgs_sharing_a_domain("Acme", "Other").await;
    let ada = crate::helpers::user_body("ada@example.com");
    let in_a = app.create_user(&a, &ada).await;
    app.create_user(&b, &ada).await;
    let user = app.account_of(&a, &in_a).await;
    let k = key(&app, ALL, None).await;
    let before = app.create_session(&a, &user).await;
    assert_eq!(
        app.delete(&a, &format!("/Users/{in_a}"))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(introspect(&app, &k, &before).await["active"], false);
    let res = register(&app, &k, &user, &a).await;
    assert_eq!(
        res.status().as_u16(),
        404,
        "a removed membership gets no session"
    );
    let res = register(&app, &k, &user, &b).await;
    assert_eq!(
        res.status().as_u16(),
        201,
        "the other organization's membership still may"
    );
}

db_test!(no_session_for_a_suspended_account_and_introspection_says_so_at_once);
async fn no_session_for_a_suspended_account_and_introspection_says_so_at_once(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = okta_user(&app, &org).await;
    let k = key(&app, ALL, Some(&org)).await;
    let before = app.create_session(&org, &user).await;
    let res = app
        .admin_send(
            Method::POST,
            &format!("/users/{user}/suspend"),
            Some(&json!({"reason": "fraud", "until": null})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(introspect(&app, &k, &before).await["active"], false);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(
        expect_json(res, 409).await["error"]["code"],
        "USER_SUSPENDED"
    );
    // The application sees the suspension, never the operator's reason.
    let v = expect_json(
        v1(&app, &k, Method::GET, &format!("/users/{user}"), None).await,
        200,
    )
    .await;
    assert_eq!(v["suspended"], true);
    assert_eq!(v["suspension"]["reason"], Value::Null, "{v}");
    assert!(!v.to_string().contains("fraud"), "{v}");
}

db_test!(a_suspension_that_has_run_out_allows_sessions_at_once_without_the_purge);
async fn a_suspension_that_has_run_out_allows_sessions_at_once_without_the_purge(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = okta_user(&app, &org).await;
    let k = key(&app, ALL, Some(&org)).await;
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    let res = app
        .admin_send(
            Method::POST,
            &format!("/users/{user}/suspend"),
            Some(&json!({"reason": "cooling off", "until": until})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(res.status().as_u16(), 409, "refused while it runs");
    // Its end passes (the row says so; no purge has run to lift it).
    let id = ids::UserId::named(&user).unwrap();
    let row = entity::suspensions::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the suspension");
    let mut row: entity::suspensions::ActiveModel = row.into();
    row.until = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    row.update(&app.db).await.unwrap();
    let created = expect_json(register(&app, &k, &user, &org).await, 201).await;
    assert_eq!(
        introspect(&app, &k, created["id"].as_str().unwrap()).await["active"],
        true
    );
}

db_test!(no_session_for_a_deleted_account_and_introspection_says_so_at_once);
async fn no_session_for_a_deleted_account_and_introspection_says_so_at_once(app: TestApp) {
    let org = app.create_org("Acme").await;
    let (_, user) = okta_user(&app, &org).await;
    let k = key(&app, ALL, Some(&org)).await;
    let before = app.create_session(&org, &user).await;
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/users/{user}"),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(introspect(&app, &k, &before).await["active"], false);
    let res = register(&app, &k, &user, &org).await;
    assert_eq!(
        res.status().as_u16(),
        404,
        "a deleted account gets no session"
    );
}
