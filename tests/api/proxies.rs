//! Behind a proxy: forwarded headers are believed only from `OFFBOARD_TRUSTED_PROXIES`,
//! and the client address they give (or the peer's) is what the request inspector and the
//! audit log record. The tests' requests come from 127.0.0.1.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, SCIM_JSON, TestApp, expect_json, user_body};

/// A SCIM create and an admin call, each with these forwarding headers; returns the
/// addresses the inspector and the audit log recorded for them.
async fn addresses_recorded(app: &TestApp, headers: &[(&str, &str)]) -> (Vec<Value>, Vec<Value>) {
    let mut req = app
        .client
        .post(app.admin("/organizations"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "Acme"}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let org = expect_json(req.send().await.unwrap(), 201).await;
    let org_id = org["id"].as_str().unwrap().to_string();
    let token = expect_json(
        app.admin_send(
            Method::POST,
            &format!("/organizations/{org_id}/scim-tokens"),
            None,
        )
        .await,
        201,
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let org = Org { id: org_id, token };
    let mut req = app
        .client
        .post(app.scim("/Users"))
        .bearer_auth(&org.token)
        .header("content-type", SCIM_JSON)
        .body(user_body("kim@example.com").to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    expect_json(req.send().await.unwrap(), 201).await;

    let requests = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/organizations/{}/requests", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    let inspected: Vec<Value> = requests["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["client_address"].clone())
        .collect();
    let audit = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/audit-log?organization_id={}", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    let audited: Vec<Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            matches!(
                r["action"].as_str(),
                Some("organization.create" | "scim.user.create")
            )
        })
        .map(|r| r["client_address"].clone())
        .collect();
    assert!(!inspected.is_empty() && !audited.is_empty());
    (inspected, audited)
}

db_test!(
    a_spoofed_forwarded_for_from_an_untrusted_peer_changes_no_address,
    [("OFFBOARD_TRUSTED_PROXIES", "10.0.0.0/8")]
);
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_no_address(app: TestApp) {
    let (inspected, audited) = addresses_recorded(
        &app,
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.4"),
        ],
    )
    .await;
    for a in inspected.iter().chain(&audited) {
        assert_eq!(a, "127.0.0.1", "inspector {inspected:?}, audit {audited:?}");
    }
}

db_test!(
    a_trusted_proxy_names_the_client_it_forwarded,
    [("OFFBOARD_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]
);
async fn a_trusted_proxy_names_the_client_it_forwarded(app: TestApp) {
    // The client sent its own X-Forwarded-For (198.51.100.1); the proxy appended the
    // address it saw, and a second trusted hop appended the first proxy's.
    let (inspected, audited) = addresses_recorded(
        &app,
        &[("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.1.2.3")],
    )
    .await;
    for a in inspected.iter().chain(&audited) {
        assert_eq!(
            a, "203.0.113.9",
            "inspector {inspected:?}, audit {audited:?}"
        );
    }
    let (inspected, _) = addresses_recorded(
        &app,
        &[("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)],
    )
    .await;
    assert_eq!(inspected[0], "2001:db8::7");
}
