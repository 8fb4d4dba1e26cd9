//! The admin API's authentication and its first endpoints.

use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_SECRET, TestApp, expect_json};

fn jwt(secret: &str, scope: &str, exp_offset: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "tester", "iat": now, "exp": now + exp_offset, "scope": scope}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

db_test!(wrong_expired_or_unscoped_jwts_are_refused_everywhere);
async fn wrong_expired_or_unscoped_jwts_are_refused_everywhere(app: TestApp) {
    let org = app.create_org("Acme").await;
    let routes = [
        ("POST", "/organizations".to_string()),
        ("GET", format!("/organizations/{}", org.id)),
        ("POST", format!("/organizations/{}/scim-tokens", org.id)),
        ("GET", "/users/usr_x".to_string()),
        ("POST", format!("/organizations/{}/domains", org.id)),
        ("GET", format!("/organizations/{}/domains", org.id)),
        (
            "DELETE",
            format!("/organizations/{}/domains/acme.com", org.id),
        ),
        ("POST", "/sessions".to_string()),
        ("GET", "/sessions/ses_x".to_string()),
        ("DELETE", "/sessions/ses_x".to_string()),
        ("PATCH", format!("/organizations/{}", org.id)),
        ("DELETE", format!("/organizations/{}", org.id)),
        (
            "DELETE",
            format!("/organizations/{}/scim-tokens/tok_x", org.id),
        ),
        ("DELETE", format!("/organizations/{}/users/usr_x", org.id)),
        ("DELETE", "/users/usr_x".to_string()),
        ("POST", "/users/usr_x/restore".to_string()),
        ("GET", "/audit-log".to_string()),
        ("GET", "/events".to_string()),
        ("POST", "/events/evt_x/replay".to_string()),
        ("GET", "/deliveries".to_string()),
        ("POST", "/webhook-endpoints".to_string()),
        ("GET", "/webhook-endpoints".to_string()),
        ("GET", "/webhook-endpoints/ep_x".to_string()),
        ("DELETE", "/webhook-endpoints/ep_x".to_string()),
        ("POST", "/webhook-endpoints/ep_x/rotate-secret".to_string()),
        (
            "POST",
            "/webhook-endpoints/ep_x/recover?since=2026-01-01T00:00:00Z".to_string(),
        ),
    ];
    let cases = [
        (None, 401),
        (Some(jwt("not-the-secret", "offboard:admin", 600)), 401),
        (Some(jwt(ADMIN_SECRET, "offboard:admin", -3600)), 401),
        (Some(org.token.clone()), 401),
        (Some(jwt(ADMIN_SECRET, "profile email", 600)), 403),
    ];
    for (method, path) in &routes {
        for (token, status) in &cases {
            let mut req = app
                .client
                .request(method.parse().unwrap(), app.admin(path))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), *status, "{method} {path}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["success"], json!(false));
            let code = if *status == 401 {
                "UNAUTHORIZED"
            } else {
                "FORBIDDEN"
            };
            assert_eq!(body["error"]["code"], json!(code));
            assert_eq!(body["error"]["status"], json!(status));
            assert!(
                body["error"]["trace_id"].is_string() && body["error"]["timestamp"].is_string()
            );
        }
    }
}

db_test!(operators_create_organizations_and_tokens_and_read_accounts);
async fn operators_create_organizations_and_tokens_and_read_accounts(app: TestApp) {
    let res = app
        .admin_send(
            Method::POST,
            "/organizations",
            Some(&json!({"name": "Acme", "deactivated_retention": "30d"})),
        )
        .await;
    let org = expect_json(res, 201).await;
    assert_eq!(org["deactivated_retention_secs"], json!(30 * 86400));
    let id = org["id"].as_str().unwrap();
    assert!(id.starts_with("org_"));
    let got = expect_json(
        app.admin_send(Method::GET, &format!("/organizations/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(got["name"], json!("Acme"));

    let res = app
        .admin_send(Method::POST, "/organizations/org_missing/scim-tokens", None)
        .await;
    let body = expect_json(res, 404).await;
    assert_eq!(body["error"]["code"], json!("NOT_FOUND"));

    let res = app
        .admin_send(Method::POST, "/organizations", Some(&json!({"name": ""})))
        .await;
    let body = expect_json(res, 422).await;
    assert_eq!(body["error"]["code"], json!("VALIDATION_ERROR"));

    // The token is stored hashed: its plaintext is nowhere in the database.
    let org = app.create_org("Hashed").await;
    let rows = entity::scim_tokens::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.token_hash != org.token && r.token_hash.len() == 64)
    );
}

db_test!(text_that_cannot_be_an_id_is_answered_as_an_unknown_id);
async fn text_that_cannot_be_an_id_is_answered_as_an_unknown_id(app: TestApp) {
    let org = app.create_org("Shapes").await;
    let long = format!("org_{}", "a".repeat(200));
    // Admin paths: another kind's prefix, no prefix, characters no id has, and a long
    // tail each name nothing.
    for path in [
        "/organizations/usr_01JDQ8X2M4N6P8R0T2V4X6Z8A0",
        "/organizations/acme",
        "/organizations/org_a%20b",
        &format!("/organizations/{long}"),
        "/users/org_01JDQ8X2M4N6P8R0T2V4X6Z8A0",
        "/users/usr_%27%3B",
    ] {
        let body = expect_json(app.admin_send(Method::GET, path, None).await, 404).await;
        assert_eq!(body["error"]["code"], json!("NOT_FOUND"), "{path}");
    }
    // A session for ids of the wrong kind names no membership.
    let res = app
        .admin_send(
            Method::POST,
            "/sessions",
            Some(&json!({
                "user_id": org.id,
                "organization_id": "usr_x",
                "expires_at": "2999-01-01T00:00:00Z",
            })),
        )
        .await;
    let body = expect_json(res, 404).await;
    assert_eq!(body["error"]["code"], json!("NOT_FOUND"));
    // SCIM: a group path that cannot be a group's id is the SCIM 404.
    for path in ["/Groups/usr_01JDQ8X2M4N6P8R0T2V4X6Z8A0", "/Groups/nope"] {
        let body = expect_json(app.get(&org, path).await, 404).await;
        assert_eq!(body["status"], json!("404"), "{path}");
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
    }
    // Nothing was made by any of it.
    assert_eq!(app.event_types(&org).await, Vec::<String>::new());
}
