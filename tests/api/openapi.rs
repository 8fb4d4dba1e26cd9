//! The admin API's OpenAPI description: committed as `docs/openapi.json` (this test fails
//! on a stale file; run it with `OFFBOARD_WRITE_OPENAPI=1` to rewrite it), served at
//! `/admin/v1/openapi.json`, and describing every route the code registers.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, spawn_app_with};
use offboard::routes::admin::openapi;

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&openapi::document()).unwrap()
    );
    if std::env::var("OFFBOARD_WRITE_OPENAPI").is_ok() {
        std::fs::write(committed_path(), &text).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path())
        .unwrap_or_else(|e| panic!("docs/openapi.json: {e} (run with OFFBOARD_WRITE_OPENAPI=1)"));
    assert_eq!(
        committed, text,
        "docs/openapi.json is stale: run the tests with OFFBOARD_WRITE_OPENAPI=1"
    );
}

/// `METHOD /path` of every `.route("…", web::method()…)` in a routes file, under `prefix`.
fn registered(file: &str, prefix: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut rest = source.as_str();
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let route = &after[..close];
        let tail = &after[close..];
        let Some(w) = tail.find("web::") else { break };
        let method: String = tail[w + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        out.push(format!("{} {prefix}{route}", method.to_uppercase()));
    }
    out
}

#[test]
fn every_route_the_admin_api_and_the_feed_register_is_described() {
    let mut code = BTreeSet::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes/admin");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".rs") {
            code.extend(registered(&format!("src/routes/admin/{name}"), "/admin/v1"));
        }
    }
    code.extend(registered("src/routes/feed.rs", "/v1"));
    assert!(code.len() > 40, "the scan found the routes: {code:?}");
    let described: BTreeSet<String> = openapi::described().into_iter().collect();
    let missing: Vec<&String> = code.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes the document does not describe: {missing:?}"
    );
    let extra: Vec<&String> = described.difference(&code).collect();
    assert!(
        extra.is_empty(),
        "described routes that do not exist: {extra:?}"
    );
}

#[test]
fn bodies_queries_errors_and_security_are_described_once_and_referenced() {
    let doc = openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Error",
        "Page",
        "CreateOrganization",
        "UpdateOrganization",
        "CreateEndpoint",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let create = &doc["paths"]["/admin/v1/organizations"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateOrganization"
    );
    assert_eq!(
        create["responses"]["422"]["$ref"],
        "#/components/responses/ValidationError"
    );
    assert_eq!(create["security"][0]["adminJwt"], Value::Array(vec![]));
    let list = &doc["paths"]["/admin/v1/organizations/{id}/requests"]["get"];
    let mut params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    params.sort_unstable();
    assert_eq!(params, ["after", "id", "limit", "status"]);
    let feed = &doc["paths"]["/v1/events"]["get"];
    assert_eq!(feed["security"][0]["apiKey"], Value::Array(vec![]));
    // Every reference resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let (kind, name) = target.split_once('/').unwrap();
        assert!(
            doc["components"][kind].get(name).is_some(),
            "{target} does not resolve"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_and_every_described_route_is_routed() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let served: Value = app
        .client
        .get(app.admin("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, openapi::document());
    // Each described operation reaches a handler: never the admin API's "endpoint not
    // found" (ids that do not exist may still be not found, as themselves).
    for op in openapi::described() {
        let (method, path) = op.split_once(' ').unwrap();
        let path = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x_nope" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["message"], "endpoint not found",
            "{method} {path}: {status} {body}"
        );
    }
}

/// (documented path, method, method to send, URL under /admin/v1, body, status expected)
type Write = (
    &'static str,
    &'static str,
    Method,
    String,
    Option<Value>,
    u16,
);

/// What the admin API answers matches what the document says it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_the_documented_responses() {
    use crate::helpers::{expect_json, user_body};
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let doc = openapi::document();
    let org = app.create_org("Acme").await;
    let scim_id = app.create_user(&org, &user_body("kim@example.com")).await;
    let user = app.account_of(&org, &scim_id).await;
    let res = app
        .admin_send(
            Method::POST,
            "/webhook-endpoints",
            Some(&serde_json::json!({"url": "http://127.0.0.1:9/hooks"})),
        )
        .await;
    let created_endpoint = expect_json(res, 201).await;
    let ep = created_endpoint["id"].as_str().unwrap().to_string();
    let checked = [
        (
            "/admin/v1/organizations",
            "get",
            "/organizations".to_string(),
        ),
        (
            "/admin/v1/organizations/{id}",
            "get",
            format!("/organizations/{}", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/users",
            "get",
            format!("/organizations/{}/users", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/scim-tokens",
            "get",
            format!("/organizations/{}/scim-tokens", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/connection",
            "get",
            format!("/organizations/{}/connection", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/requests",
            "get",
            format!("/organizations/{}/requests", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/held-actions",
            "get",
            format!("/organizations/{}/held-actions", org.id),
        ),
        ("/admin/v1/users/{id}", "get", format!("/users/{user}")),
        ("/admin/v1/audit-log", "get", "/audit-log".to_string()),
        ("/admin/v1/events", "get", "/events".to_string()),
        ("/admin/v1/event-types", "get", "/event-types".to_string()),
        (
            "/admin/v1/webhook-endpoints",
            "get",
            "/webhook-endpoints".to_string(),
        ),
        (
            "/admin/v1/webhook-endpoints/{id}",
            "get",
            format!("/webhook-endpoints/{ep}"),
        ),
        ("/admin/v1/deliveries", "get", "/deliveries".to_string()),
        ("/admin/v1/jobs", "get", "/jobs".to_string()),
    ];
    let mut answers: Vec<(&str, &str, Value)> = vec![(
        "/admin/v1/webhook-endpoints",
        "post",
        created_endpoint.clone(),
    )];
    for (path, method, url) in &checked {
        let res = app.admin_send(Method::GET, url, None).await;
        answers.push((path, method, expect_json(res, 200).await));
    }
    // Writes, with what they answer.
    let other = app.create_org("Other").await;
    let other_user = app
        .account_of(
            &other,
            &app.create_user(&other, &user_body("lee@example.com")).await,
        )
        .await;
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let writes: Vec<Write> = vec![
        (
            "/admin/v1/organizations/{id}/scim-tokens",
            "post",
            Method::POST,
            format!("/organizations/{}/scim-tokens", org.id),
            None,
            201,
        ),
        (
            "/admin/v1/sessions",
            "post",
            Method::POST,
            "/sessions".into(),
            Some(
                serde_json::json!({"user_id": user, "organization_id": org.id, "expires_at": in_an_hour}),
            ),
            201,
        ),
        (
            "/admin/v1/api-keys",
            "post",
            Method::POST,
            "/api-keys".into(),
            Some(serde_json::json!({"name": "billing", "scopes": ["events:read"]})),
            201,
        ),
        (
            "/admin/v1/api-keys",
            "get",
            Method::GET,
            "/api-keys".into(),
            None,
            200,
        ),
        (
            "/admin/v1/organizations/{id}/domains",
            "post",
            Method::POST,
            format!("/organizations/{}/domains", org.id),
            Some(serde_json::json!({"domain": "example.com"})),
            201,
        ),
        (
            "/admin/v1/organizations/{id}/domains",
            "get",
            Method::GET,
            format!("/organizations/{}/domains", org.id),
            None,
            200,
        ),
        (
            "/admin/v1/webhook-endpoints/{id}/test",
            "post",
            Method::POST,
            format!("/webhook-endpoints/{ep}/test"),
            None,
            200,
        ),
        (
            "/admin/v1/webhook-endpoints/{id}/rotate-secret",
            "post",
            Method::POST,
            format!("/webhook-endpoints/{ep}/rotate-secret"),
            None,
            200,
        ),
        (
            "/admin/v1/users/{id}/suspend",
            "post",
            Method::POST,
            format!("/users/{user}/suspend"),
            Some(serde_json::json!({"reason": "leave"})),
            200,
        ),
        (
            "/admin/v1/users/{id}/export",
            "get",
            Method::GET,
            format!("/users/{user}/export"),
            None,
            200,
        ),
        (
            "/admin/v1/users/batch-delete",
            "post",
            Method::POST,
            "/users/batch-delete".into(),
            Some(serde_json::json!({"confirm": true, "user_ids": [other_user]})),
            202,
        ),
        (
            "/admin/v1/organizations/{id}/deprovision-guard/approve",
            "post",
            Method::POST,
            format!("/organizations/{}/deprovision-guard/approve", org.id),
            None,
            200,
        ),
    ];
    for (path, method, m, url, body, status) in writes {
        let res = app.admin_send(m, &url, body.as_ref()).await;
        answers.push((path, method, expect_json(res, status).await));
    }
    let mut wrong = Vec::new();
    for (path, method, answer) in answers {
        let op = &doc["paths"][path][method];
        let ok = op["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .map(|(_, r)| r.clone())
            .unwrap();
        let mut schema = ok["content"]["application/json"]["schema"].clone();
        schema["components"] = doc["components"].clone();
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            wrong.push(format!("{method} {path}: {errors:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
