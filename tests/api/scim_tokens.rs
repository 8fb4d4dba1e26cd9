//! SCIM token lifecycle: an expiry, the networks a token may be used from (the client
//! address as the trusted-proxy rules give it), rotation with an overlap, and the
//! `scim_token.*` events and audit rows.

use chrono::{Duration, Utc};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, assert_scim_error, expect_json};

async fn make_token(app: &TestApp, org: &Org, body: Value) -> Value {
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/scim-tokens", org.id),
            Some(&body),
        )
        .await;
    expect_json(res, 201).await
}

/// A SCIM read with `token` and these extra headers; returns the answer.
async fn read_with(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.scim("/Users?count=1"))
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("GET /Users")
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    read_with(app, token, &[]).await.status().as_u16()
}

/// Moves a token's expiry (as if time had passed).
async fn set_expiry(app: &TestApp, token_id: &str, at: chrono::DateTime<Utc>) {
    let row = entity::scim_tokens::Entity::find_by_id(token_id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("token row");
    let mut row: entity::scim_tokens::ActiveModel = row.into();
    row.expires_at = Set(Some(at));
    row.update(&app.db).await.unwrap();
}

async fn tokens(app: &TestApp, org: &Org) -> Vec<Value> {
    let res = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/scim-tokens", org.id),
            None,
        )
        .await;
    expect_json(res, 200).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn connection_token(app: &TestApp, org: &Org, token_id: &str) -> Value {
    let res = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/connection", org.id),
            None,
        )
        .await;
    let c = expect_json(res, 200).await;
    c["scim_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id)
        .cloned()
        .expect("the token in the connection")
}

db_test!(an_expired_token_is_refused_with_a_scim_error_that_says_so);
async fn an_expired_token_is_refused_with_a_scim_error_that_says_so(app: TestApp) {
    let org = app.create_org("Acme").await;
    let made = make_token(&app, &org, json!({"ttl": "90d"})).await;
    let token = made["token"].as_str().unwrap();
    let id = made["id"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(made["expires_at"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert!(
        (expires - (Utc::now() + Duration::days(90)))
            .num_seconds()
            .abs()
            < 60
    );
    assert_eq!(status_with(&app, token).await, 200);
    let listed = tokens(&app, &org).await;
    let row = listed.iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(row["state"], "live");

    // Twelve days before: warned.
    set_expiry(&app, id, Utc::now() + Duration::days(12)).await;
    let listed = tokens(&app, &org).await;
    assert_eq!(
        listed.iter().find(|t| t["id"] == id).unwrap()["state"],
        "expires_soon"
    );
    assert_eq!(status_with(&app, token).await, 200, "still works");

    // Past its expiry: 401, saying why; the other token of the organization still works.
    set_expiry(&app, id, Utc::now() - Duration::seconds(1)).await;
    let v = assert_scim_error(read_with(&app, token, &[]).await, 401, None).await;
    assert!(
        v["detail"].as_str().unwrap().contains("expired"),
        "{v}: the error says the token expired"
    );
    assert_eq!(status_with(&app, &org.token).await, 200);
    let listed = tokens(&app, &org).await;
    assert_eq!(
        listed.iter().find(|t| t["id"] == id).unwrap()["state"],
        "expired"
    );
    // Connection health counts the refusal by its reason.
    let t = connection_token(&app, &org, id).await;
    assert_eq!(
        t["last_24h"]["refused"],
        json!({"expired": 1, "network": 0})
    );
    assert_eq!(t["last_24h"]["client_errors"], 1);

    // The purge announces the expiry once.
    let report = app.purge_at(Utc::now()).await;
    assert_eq!(report.tokens_expired, 1);
    assert_eq!(app.purge_at(Utc::now()).await.tokens_expired, 0, "once");
    let payloads = app.all_event_payloads(&org).await;
    let expired: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["type"] == "scim_token.expired")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["data"]["scim_token"]["id"], id);
    assert!(!payloads.iter().any(|p| p.to_string().contains(token)));
    assert!(
        app.audit_actions(&org)
            .await
            .contains(&"scim_token.expire".to_string())
    );
}

db_test!(a_rotated_token_works_until_the_overlap_ends);
async fn a_rotated_token_works_until_the_overlap_ends(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let old_id = tokens(&app, &org).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/organizations/{}/scim-tokens/{old_id}/rotate", org.id);

    // Another organization's path to the token: unknown, nothing rotated.
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/scim-tokens/{old_id}/rotate", other.id),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);

    let res = app
        .admin_send(Method::POST, &path, Some(&json!({"overlap": "24h"})))
        .await;
    let rotated = expect_json(res, 201).await;
    let new_token = rotated["token"].as_str().unwrap().to_string();
    let new_id = rotated["id"].as_str().unwrap().to_string();
    assert_eq!(rotated["replaces"]["id"], old_id.as_str());
    assert_eq!(rotated["replaces"]["replaced_by"], new_id.as_str());
    let ends =
        chrono::DateTime::parse_from_rfc3339(rotated["replaces"]["expires_at"].as_str().unwrap())
            .unwrap()
            .to_utc();
    assert!(
        (ends - (Utc::now() + Duration::hours(24)))
            .num_seconds()
            .abs()
            < 60
    );

    // During the overlap both work, and both are listed with their last use: the
    // operator sees when the IdP switched.
    assert_eq!(status_with(&app, &org.token).await, 200);
    assert_eq!(status_with(&app, &new_token).await, 200);
    let listed = tokens(&app, &org).await;
    assert_eq!(listed.len(), 2);
    for t in &listed {
        assert!(t["last_used_at"].is_string(), "{t}");
    }
    // A token is rotated once: its replacement is what to rotate next.
    let again = app.admin_send(Method::POST, &path, Some(&json!({}))).await;
    assert_eq!(
        expect_json(again, 409).await["error"]["code"],
        "TOKEN_ALREADY_ROTATED"
    );

    // After the overlap: the old one is refused as expired, the new one works.
    set_expiry(&app, &old_id, Utc::now() - Duration::seconds(1)).await;
    let v = assert_scim_error(read_with(&app, &org.token, &[]).await, 401, None).await;
    assert!(v["detail"].as_str().unwrap().contains("expired"));
    assert_eq!(status_with(&app, &new_token).await, 200);

    // `0s`: the old token ends at once.
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/scim-tokens/{new_id}/rotate", org.id),
            Some(&json!({"overlap": "0s", "ttl": "30d"})),
        )
        .await;
    let third = expect_json(res, 201).await;
    assert_eq!(status_with(&app, &new_token).await, 401);
    assert_eq!(
        status_with(&app, third["token"].as_str().unwrap()).await,
        200
    );
    assert!(third["expires_at"].is_string());

    // Events and audit rows, each event valid against its published schema.
    let payloads = app.all_event_payloads(&org).await;
    let rotations: Vec<&Value> = payloads
        .iter()
        .filter(|p| p["type"] == "scim_token.rotated")
        .collect();
    assert_eq!(rotations.len(), 2);
    assert_eq!(rotations[0]["data"]["scim_token"]["id"], new_id.as_str());
    assert_eq!(rotations[0]["data"]["replaces"]["id"], old_id.as_str());
    assert_eq!(rotations[0]["data"]["source"], "admin");
    assert!(payloads.iter().any(|p| p["type"] == "scim_token.created"));
    for t in [&new_token, &org.token] {
        assert!(!payloads.iter().any(|p| p.to_string().contains(t.as_str())));
    }
    let actions = app.audit_actions(&org).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "scim_token.rotate").count(),
        2
    );
    assert!(
        app.all_event_types(&other)
            .await
            .iter()
            .all(|t| t == "scim_token.created"),
        "the other organization saw only its own token made"
    );
}

db_test!(a_revoked_token_is_announced_and_refused);
async fn a_revoked_token_is_announced_and_refused(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = tokens(&app, &org).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}/scim-tokens/{id}", org.id),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(status_with(&app, &org.token).await, 401);
    let types = app.all_event_types(&org).await;
    assert_eq!(types, vec!["scim_token.created", "scim_token.revoked"]);
    // A revoked token cannot be rotated back to life.
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/scim-tokens/{id}/rotate", org.id),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

db_test!(a_token_is_used_only_from_its_networks);
async fn a_token_is_used_only_from_its_networks(app: TestApp) {
    let org = app.create_org("Acme").await;
    let elsewhere = make_token(&app, &org, json!({"allowed_networks": ["203.0.113.0/24"]})).await;
    assert_eq!(elsewhere["allowed_networks"], json!(["203.0.113.0/24"]));
    let loopback = make_token(
        &app,
        &org,
        json!({"allowed_networks": ["127.0.0.0/8", "::1"]}),
    )
    .await;
    assert_eq!(
        status_with(&app, loopback["token"].as_str().unwrap()).await,
        200
    );
    let v = assert_scim_error(
        read_with(&app, elsewhere["token"].as_str().unwrap(), &[]).await,
        401,
        None,
    )
    .await;
    assert!(v["detail"].as_str().unwrap().contains("network"), "{v}");
    assert!(
        !v.to_string().contains("203.0.113"),
        "the error never shows the allowed networks"
    );
    // A client naming another address itself changes nothing: no proxy is trusted.
    let spoofed = read_with(
        &app,
        elsewhere["token"].as_str().unwrap(),
        &[("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(spoofed.status().as_u16(), 401);
    let id = elsewhere["id"].as_str().unwrap();
    let t = connection_token(&app, &org, id).await;
    assert_eq!(
        t["last_24h"]["refused"],
        json!({"expired": 0, "network": 2})
    );
}

db_test!(
    behind_a_trusted_proxy_the_forwarded_client_address_is_checked,
    [("OFFBOARD_TRUSTED_PROXIES", "127.0.0.1, ::1")]
);
async fn behind_a_trusted_proxy_the_forwarded_client_address_is_checked(app: TestApp) {
    let org = app.create_org("Acme").await;
    let made = make_token(&app, &org, json!({"allowed_networks": ["203.0.113.0/24"]})).await;
    let token = made["token"].as_str().unwrap();
    let inside = read_with(&app, token, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(inside.status().as_u16(), 200);
    let outside = read_with(&app, token, &[("x-forwarded-for", "198.51.100.1")]).await;
    assert_eq!(outside.status().as_u16(), 401);
    // The proxy itself (no forwarded address) is not the IdP.
    assert_eq!(status_with(&app, token).await, 401);
}

db_test!(bad_token_rules_are_refused_and_change_nothing);
async fn bad_token_rules_are_refused_and_change_nothing(app: TestApp) {
    let org = app.create_org("Acme").await;
    let path = format!("/organizations/{}/scim-tokens", org.id);
    let many: Vec<String> = (0..101).map(|i| format!("10.{i}.0.0/16")).collect();
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    for (body, why) in [
        (json!({"allowed_networks": ["office"]}), "junk CIDR"),
        (
            json!({"allowed_networks": ["10.0.0.0/33"]}),
            "prefix too long",
        ),
        (json!({"allowed_networks": [""]}), "empty"),
        (json!({"allowed_networks": "10.0.0.0/8"}), "not a list"),
        (json!({"allowed_networks": many}), "over a hundred"),
        (json!({"expires_at": past}), "in the past"),
        (json!({"expires_at": "tomorrow"}), "not a time"),
        (json!({"ttl": "soon"}), "not a duration"),
        (
            json!({"ttl": "1d", "expires_at": (Utc::now() + Duration::days(2)).to_rfc3339()}),
            "both",
        ),
        (json!({"token": "mine"}), "an unknown field"),
    ] {
        let res = app.admin_send(Method::POST, &path, Some(&body)).await;
        let v = expect_json(res, 422).await;
        assert_eq!(v["error"]["code"], "VALIDATION_ERROR", "{why}");
    }
    let id = tokens(&app, &org).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for body in [json!({"overlap": "31d"}), json!({"overlap": "later"})] {
        let res = app
            .admin_send(Method::POST, &format!("{path}/{id}/rotate"), Some(&body))
            .await;
        assert_eq!(res.status().as_u16(), 422, "{body}");
    }
    assert_eq!(tokens(&app, &org).await.len(), 1, "nothing was made");
    assert_eq!(app.all_event_types(&org).await, vec!["scim_token.created"]);
}
