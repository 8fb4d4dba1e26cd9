//! The pull feed: applications read an organization's events with a scoped API key (never
//! an admin JWT), in commit order without gaps, long-polling for new ones; a key limited
//! to one organization sees nothing of another's.

use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, user_body};

async fn create_key(app: &TestApp, org: Option<&str>) -> String {
    let res = app
        .admin_send(
            Method::POST,
            "/api-keys",
            Some(
                &json!({"name": "billing-app", "scopes": ["events:read"], "organization_id": org}),
            ),
        )
        .await;
    let body = expect_json(res, 201).await;
    assert_eq!(body["scopes"], json!(["events:read"]));
    assert_eq!(body["organization_id"], json!(org));
    body["key"].as_str().unwrap().to_string()
}

async fn pull(app: &TestApp, key: &str, query: &str) -> Response {
    app.client
        .get(format!("{}/v1/events?{query}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn pull_ok(app: &TestApp, key: &str, query: &str) -> Value {
    expect_json(pull(app, key, query).await, 200).await
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn users(app: &TestApp, org: &Org, prefix: &str, n: usize) {
    for i in 0..n {
        app.create_user(org, &user_body(&format!("{prefix}{i}@example.com")))
            .await;
    }
}

db_test!(an_application_pulls_its_organizations_events_in_order_and_waits_for_new_ones);
async fn an_application_pulls_its_organizations_events_in_order_and_waits_for_new_ones(
    app: TestApp,
) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let key = create_key(&app, Some(&a.id)).await;
    assert!(key.starts_with("obk_"));
    // Listed without the key itself.
    let list = expect_json(app.admin_send(Method::GET, "/api-keys", None).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&key));

    users(&app, &a, "a", 3).await;
    users(&app, &b, "b", 1).await;
    let all = pull_ok(&app, &key, "").await;
    assert_eq!(all["organization_id"], json!(a.id));
    // Every event of the organization, its token made first.
    let outbox: Vec<String> = app
        .all_event_payloads(&a)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids(&all),
        outbox,
        "the organization's events, in sequence order"
    );
    let seqs: Vec<i64> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "no gaps");
    assert_eq!(all["next_after"], json!(outbox.last().unwrap()));

    // Paging by the cursor gives the same, each once.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let q = if after.is_empty() {
            "limit=2".to_string()
        } else {
            format!("limit=2&after={after}")
        };
        let page = pull_ok(&app, &key, &q).await;
        let got = ids(&page);
        if got.is_empty() {
            assert_eq!(page["next_after"], json!(after), "the cursor stays");
            break;
        }
        paged.extend(got);
        after = page["next_after"].as_str().unwrap().to_string();
    }
    assert_eq!(paged, outbox);

    // Nothing newer: answered at once without `wait`, after the wait with it...
    let last = outbox.last().unwrap().clone();
    let t = Instant::now();
    let page = pull_ok(&app, &key, &format!("after={last}&wait=1s")).await;
    assert!(ids(&page).is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    // ...and as soon as something arrives while waiting.
    let waiting = {
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/events?after={last}&wait=30s", app.address),
            key.clone(),
        );
        tokio::spawn(async move {
            let t = Instant::now();
            let res = client.get(url).bearer_auth(key).send().await.unwrap();
            (res.json::<Value>().await.unwrap(), t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    users(&app, &a, "late", 1).await;
    let (page, took) = waiting.await.unwrap();
    assert!(!ids(&page).is_empty(), "{page}");
    assert_eq!(page["data"][0]["type"], "user.created");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The key's organization is enforced: another's events and cursors name nothing.
    let b_event = app.all_event_payloads(&b).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = pull(&app, &key, &format!("organization_id={}", b.id)).await;
    assert_eq!(res.status().as_u16(), 404);
    let res = pull(&app, &key, &format!("after={b_event}")).await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(!pull_ok(&app, &key, "").await.to_string().contains(&b.id));

    // A key for every organization names the one it reads.
    let global = create_key(&app, None).await;
    assert_eq!(pull(&app, &global, "").await.status().as_u16(), 422);
    let page = pull_ok(&app, &global, &format!("organization_id={}", b.id)).await;
    let b_outbox: Vec<String> = app
        .all_event_payloads(&b)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids(&page), b_outbox);
    assert_eq!(ids(&page)[0], b_event);
}

db_test!(keys_are_checked_and_bad_requests_are_refused);
async fn keys_are_checked_and_bad_requests_are_refused(app: TestApp) {
    let a = app.create_org("A").await;
    let key = create_key(&app, Some(&a.id)).await;
    // Not a key: nothing, another credential, a made-up one.
    let res = app
        .client
        .get(format!("{}/v1/events", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        pull(&app, &app.admin_token, "").await.status().as_u16(),
        401
    );
    assert_eq!(pull(&app, &a.token, "").await.status().as_u16(), 401);
    assert_eq!(pull(&app, "obk_not-a-key", "").await.status().as_u16(), 401);
    for q in [
        "limit=0",
        "limit=5000",
        "wait=2m",
        "wait=soon",
        "colour=red",
    ] {
        assert_eq!(pull(&app, &key, q).await.status().as_u16(), 422, "{q}");
    }
    assert_eq!(
        pull(&app, &key, "after=evt_01JZZZZZZZZZZZZZZZZZZZZZZZ")
            .await
            .status()
            .as_u16(),
        404
    );
    // Creating: unknown scopes, no scope, bad names, unknown organizations.
    for (body, status) in [
        (json!({"name": "x", "scopes": ["admin"]}), 422),
        (json!({"name": "x", "scopes": []}), 422),
        (json!({"name": " ", "scopes": ["events:read"]}), 422),
        (json!({"name": "x\u{7}", "scopes": ["events:read"]}), 422),
        (
            json!({"name": "x", "scopes": ["events:read"], "organization_id": "org_nope"}),
            404,
        ),
        (json!({"name": "x", "scopes": "events:read"}), 422),
        (json!([]), 422),
    ] {
        let res = app.admin_send(Method::POST, "/api-keys", Some(&body)).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
    }
    // Without an admin JWT, keys cannot be managed.
    let res = app
        .client
        .get(app.admin("/api-keys"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    // Deleted: refused at once.
    let list = expect_json(app.admin_send(Method::GET, "/api-keys", None).await, 200).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .admin_send(Method::DELETE, &format!("/api-keys/{id}"), None)
        .await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(pull(&app, &key, "").await.status().as_u16(), 401);
    let res = app
        .admin_send(Method::DELETE, &format!("/api-keys/{id}"), None)
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_a_key_the_feed_accepts() {
    let (url, dir) = crate::helpers::database_url(crate::helpers::Backend::Sqlite).await;
    let app = crate::helpers::spawn_app_at(url.clone(), dir, &[]).await;
    let a = app.create_org("A").await;
    users(&app, &a, "a", 1).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
        .args([
            "api-key",
            "create",
            "--name",
            "billing-app",
            "--scope",
            "events:read",
            "--org",
            &a.id,
        ])
        .env("OFFBOARD_DATABASE_URL", &url)
        .env("OFFBOARD_ADMIN_JWT_SECRET", crate::helpers::ADMIN_SECRET)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let page = pull_ok(&app, &key, "").await;
    // The organization's token made, then the user's two events.
    assert_eq!(ids(&page).len(), 3);
}
