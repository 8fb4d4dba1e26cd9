//! Bounded work: caps on what one request may ask for, and one organization's heaviest
//! allowed request never serializes another organization's requests behind it.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, assert_scim_error, patch_body, user_body};

/// A user with `n` roles.
fn with_roles(name: &str, n: usize) -> Value {
    let mut body = user_body(name);
    body["roles"] = Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("role-{i}"), "display": format!("Role {i}")}))
            .collect(),
    );
    body
}

db_test!(
    multi_valued_attributes_and_member_lists_are_capped,
    [("OFFBOARD_MAX_BODY_BYTES", "4194304")]
);
async fn multi_valued_attributes_and_member_lists_are_capped(app: TestApp) {
    let org = app.create_org("Acme").await;
    let res = app
        .post(&org, "/Users", &with_roles("a@example.com", 1001))
        .await;
    let body = assert_scim_error(res, 400, Some("invalidValue")).await;
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");
    let id = app
        .create_user(&org, &with_roles("a@example.com", 1000))
        .await;
    // Duplicates do not count twice; one more distinct value is refused, nothing changes.
    let again: Vec<Value> = (0..1000)
        .map(|i| json!({"value": format!("role-{i}"), "display": format!("Role {i}")}))
        .collect();
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &patch_body(json!([{"op": "add", "path": "roles", "value": again}])),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &patch_body(json!([{"op": "add", "path": "roles", "value": [{"value": "one-more"}]}])),
        )
        .await;
    assert_scim_error(res, 400, Some("invalidValue")).await;
    let got = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(got["roles"].as_array().unwrap().len(), 1000);
    assert_eq!(
        got["meta"]["version"],
        json!("W/\"1\""),
        "nothing was written"
    );

    let members: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("mem_{i:026}")}))
        .collect();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Big", "members": members});
    let res = app.post(&org, "/Groups", &group).await;
    assert_scim_error(res, 400, Some("invalidValue")).await;
    let list = app.get_json(&org, "/Groups").await;
    assert_eq!(list["totalResults"], json!(0));
}

/// The heaviest PATCH the caps allow: every operation scans a 1,000-value attribute.
fn worst_patch() -> Value {
    let ops: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"op": "replace", "path": format!("roles[value eq \"role-{}\"].display", 999 - (i % 1000)), "value": format!("Renamed {i}")})
        })
        .collect();
    patch_body(Value::Array(ops))
}

db_test!(
    the_heaviest_allowed_patch_does_not_hold_up_another_organization,
    [("OFFBOARD_MAX_BODY_BYTES", "4194304")]
);
async fn the_heaviest_allowed_patch_does_not_hold_up_another_organization(app: TestApp) {
    let heavy_org = app.create_org("Heavy").await;
    let other = app.create_org("Other").await;
    let heavy = app
        .create_user(&heavy_org, &with_roles("h@example.com", 1000))
        .await;
    let light = app.create_user(&other, &user_body("l@example.com")).await;
    let body = worst_patch();

    let heavy_path = format!("/Users/{heavy}");
    let light_path = format!("/Users/{light}");
    let started = std::time::Instant::now();
    let (heavy_done, light_done) = tokio::join!(
        async {
            let res = app.patch(&heavy_org, &heavy_path, &body).await;
            assert_eq!(res.status().as_u16(), 200);
            std::time::Instant::now()
        },
        async {
            // Sent while the heavy PATCH is being worked on.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            let sent = std::time::Instant::now();
            let res = app
                .patch(
                    &other,
                    &light_path,
                    &crate::helpers::fixture("okta/deactivate_user.json"),
                )
                .await;
            assert_eq!(res.status().as_u16(), 200);
            (sent, std::time::Instant::now())
        }
    );
    // Not a speed target: the light request, sent while the heavy one is being worked
    // on, must not take as long as the heavy one's work (it would, if it had waited for
    // the write lock the heavy one held).
    let (light_sent, light_done) = light_done;
    let heavy = heavy_done - started;
    let light = light_done - light_sent;
    assert!(
        light < heavy / 2,
        "the other organization's PATCH waited behind the heavy one: {light:?} against {heavy:?}"
    );
    let got = app.get_json(&heavy_org, &heavy_path).await;
    assert_eq!(got["roles"][999]["display"], json!("Renamed 0"));
}

db_test!(an_organization_over_its_rate_is_told_to_retry_and_others_are_untouched);
async fn an_organization_over_its_rate_is_told_to_retry_and_others_are_untouched(app: TestApp) {
    use reqwest::Method;
    let flood = app.create_org("Flood").await;
    let calm = app.create_org("Calm").await;
    let res = app
        .admin_send(
            Method::PATCH,
            &format!("/organizations/{}", flood.id),
            Some(&json!({"rate_limit": {"per_second": 1, "burst": 3}})),
        )
        .await;
    let body = crate::helpers::expect_json(res, 200).await;
    assert_eq!(body["rate_limit"], json!({"per_second": 1, "burst": 3}));
    for _ in 0..3 {
        assert_eq!(app.get(&flood, "/Users").await.status().as_u16(), 200);
    }
    let res = app.get(&flood, "/Users").await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_scim_error(res, 429, None).await;
    for _ in 0..10 {
        assert_eq!(app.get(&calm, "/Users").await.status().as_u16(), 200);
    }
    for bad in [
        json!({"rate_limit": {"per_second": 0, "burst": 3}}),
        json!({"rate_limit": {"per_second": 5}}),
        json!({"rate_limit": 5}),
    ] {
        let res = app
            .admin_send(
                Method::PATCH,
                &format!("/organizations/{}", flood.id),
                Some(&bad),
            )
            .await;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
    }
    let res = app
        .admin_send(
            Method::PATCH,
            &format!("/organizations/{}", flood.id),
            Some(&json!({"rate_limit": null})),
        )
        .await;
    assert_eq!(
        crate::helpers::expect_json(res, 200).await["rate_limit"],
        Value::Null
    );
}

/// Sends a request head announcing a body, and one byte of it.
async fn start_slow_request(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

db_test!(
    slow_bodies_are_cut_off_and_cannot_take_every_slot,
    [
        ("OFFBOARD_REQUEST_TIMEOUT", "1s"),
        ("OFFBOARD_MAX_IN_FLIGHT_PER_TOKEN", "2"),
    ]
);
async fn slow_bodies_are_cut_off_and_cannot_take_every_slot(app: TestApp) {
    use tokio::io::AsyncReadExt;
    let org = app.create_org("Slow").await;
    let other = app.create_org("Other").await;
    let mut slow = vec![
        start_slow_request(&app, &org.token).await,
        start_slow_request(&app, &org.token).await,
    ];
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The token's slots are taken: a third request is refused at once, not queued.
    let res = app.get(&org, "/Users").await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_scim_error(res, 429, None).await;
    // Another organization is not affected.
    assert_eq!(app.get(&other, "/Users").await.status().as_u16(), 200);
    // The slow bodies are cut off at the deadline with 408.
    for s in &mut slow {
        let mut buf = vec![0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("answered before the test's own timeout")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert_eq!(
        app.get(&org, "/Users").await.status().as_u16(),
        200,
        "slots given back"
    );
    assert_eq!(
        app.get_json(&org, "/Users").await["totalResults"],
        json!(0),
        "nothing was created"
    );
}
