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
    code.extend(registered("src/routes/application.rs", "/v1"));
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

/// Sends each request and keeps its answer under the documented operation.
async fn answer_all(
    app: &crate::helpers::TestApp,
    writes: Vec<Write>,
    answers: &mut Vec<(String, String, Value)>,
) {
    for (path, method, m, url, body, status) in writes {
        let res = app.admin_send(m, &url, body.as_ref()).await;
        let answer = crate::helpers::expect_json(res, status).await;
        answers.push((path.to_string(), method.to_string(), answer));
    }
}

/// What the admin API and the feed answer matches what the document says they answer,
/// for every operation that answers a body, each with its lists non-empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_the_documented_responses() {
    use crate::helpers::{expect_json, user_body};
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            // A deleted user can be restored.
            ("OFFBOARD_DELETION_GRACE", "1h"),
        ],
    )
    .await;
    let doc = openapi::document();
    let org = app.create_org("Acme").await;
    let scim_id = app.create_user(&org, &user_body("kim@example.com")).await;
    let user = app.account_of(&org, &scim_id).await;
    let other = app.create_org("Other").await;
    let other_user = app
        .account_of(
            &other,
            &app.create_user(&other, &user_body("lee@example.com")).await,
        )
        .await;
    let leaver = app
        .account_of(
            &other,
            &app.create_user(&other, &user_body("max@example.com")).await,
        )
        .await;
    let mut answers: Vec<(String, String, Value)> = Vec::new();
    let res = app
        .admin_send(
            Method::POST,
            "/webhook-endpoints",
            Some(&serde_json::json!({"url": "http://127.0.0.1:9/hooks"})),
        )
        .await;
    let created_endpoint = expect_json(res, 201).await;
    let ep = created_endpoint["id"].as_str().unwrap().to_string();
    answers.push((
        "/admin/v1/webhook-endpoints".into(),
        "post".into(),
        created_endpoint,
    ));
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/users/{leaver}"),
            Some(&serde_json::json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status(), 204);
    let other_token = offboard::store::tokens::find_unrevoked(&app.db, &other.token)
        .await
        .unwrap()
        .expect("the other organization's token")
        .id;
    // Writes, with what they answer.
    let writes: Vec<Write> = vec![
        (
            "/admin/v1/organizations",
            "post",
            Method::POST,
            "/organizations".into(),
            Some(serde_json::json!({"name": "Third"})),
            201,
        ),
        (
            "/admin/v1/organizations/{id}",
            "patch",
            Method::PATCH,
            format!("/organizations/{}", org.id),
            Some(serde_json::json!({"rate_limit": {"per_second": 50, "burst": 100}})),
            200,
        ),
        (
            "/admin/v1/organizations/{id}/scim-tokens",
            "post",
            Method::POST,
            format!("/organizations/{}/scim-tokens", org.id),
            None,
            201,
        ),
        (
            "/admin/v1/organizations/{id}/role-mappings",
            "put",
            Method::PUT,
            format!("/organizations/{}/role-mappings", org.id),
            Some(
                serde_json::json!({"default_role": "member", "rules": [{"group": {"display_name": "Admins"}, "role": "admin"}]}),
            ),
            200,
        ),
        (
            "/admin/v1/organizations/{id}/scim-tokens/{token_id}/rotate",
            "post",
            Method::POST,
            format!(
                "/organizations/{}/scim-tokens/{other_token}/rotate",
                other.id
            ),
            Some(serde_json::json!({"overlap": "1h", "ttl": "90d"})),
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
            Some(
                serde_json::json!({"name": "billing", "scopes": ["events:read", "sessions:read", "sessions:write", "users:read"]}),
            ),
            201,
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
            "/admin/v1/organizations/{id}/setup-links",
            "post",
            Method::POST,
            format!("/organizations/{}/setup-links", org.id),
            Some(serde_json::json!({"idp": "entra", "ttl": "1d"})),
            201,
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
            "/admin/v1/webhook-endpoints/{id}",
            "patch",
            Method::PATCH,
            format!("/webhook-endpoints/{ep}"),
            Some(serde_json::json!({"max_in_flight": 2})),
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
            "/admin/v1/webhook-endpoints/{id}/recover",
            "post",
            Method::POST,
            format!(
                "/webhook-endpoints/{ep}/recover?since={}",
                urlencode(&an_hour_ago)
            ),
            None,
            202,
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
            "/admin/v1/users/{id}/unsuspend",
            "post",
            Method::POST,
            format!("/users/{user}/unsuspend"),
            None,
            200,
        ),
        (
            "/admin/v1/users/{id}/restore",
            "post",
            Method::POST,
            format!("/users/{leaver}/restore"),
            None,
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
        (
            "/admin/v1/organizations/{id}/deprovision-guard/reject",
            "post",
            Method::POST,
            format!("/organizations/{}/deprovision-guard/reject", org.id),
            None,
            200,
        ),
    ];
    answer_all(&app, writes, &mut answers).await;
    let answered = |path: &str, method: &str| -> Value {
        answers
            .iter()
            .find(|(p, m, _)| p == path && m == method)
            .map(|(_, _, a)| a.clone())
            .unwrap()
    };
    let session = answered("/admin/v1/sessions", "post")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = answered("/admin/v1/users/batch-delete", "post")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = answered("/admin/v1/api-keys", "post")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let events = expect_json(app.admin_send(Method::GET, "/events", None).await, 200).await;
    let event = events["data"][0]["id"].as_str().unwrap().to_string();
    // Reads, after the writes gave each list something to show; then what takes an id.
    let mut reads: Vec<Write> = [
        ("/admin/v1/organizations", "/organizations".to_string()),
        (
            "/admin/v1/organizations/{id}",
            format!("/organizations/{}", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/users",
            format!("/organizations/{}/users", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/scim-tokens",
            format!("/organizations/{}/scim-tokens", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/role-mappings",
            format!("/organizations/{}/role-mappings", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/connection",
            format!("/organizations/{}/connection", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/requests",
            format!("/organizations/{}/requests", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/held-actions",
            format!("/organizations/{}/held-actions", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/domains",
            format!("/organizations/{}/domains", org.id),
        ),
        (
            "/admin/v1/organizations/{id}/setup-links",
            format!("/organizations/{}/setup-links", org.id),
        ),
        ("/admin/v1/users/{id}", format!("/users/{user}")),
        ("/admin/v1/sessions/{id}", format!("/sessions/{session}")),
        ("/admin/v1/audit-log", "/audit-log".to_string()),
        ("/admin/v1/events", "/events".to_string()),
        ("/admin/v1/event-types", "/event-types".to_string()),
        (
            "/admin/v1/webhook-endpoints",
            "/webhook-endpoints".to_string(),
        ),
        (
            "/admin/v1/webhook-endpoints/{id}",
            format!("/webhook-endpoints/{ep}"),
        ),
        ("/admin/v1/deliveries", "/deliveries".to_string()),
        ("/admin/v1/jobs", "/jobs".to_string()),
        ("/admin/v1/jobs/{id}", format!("/jobs/{job}")),
        ("/admin/v1/api-keys", "/api-keys".to_string()),
    ]
    .into_iter()
    .map(|(path, url)| (path, "get", Method::GET, url, None, 200))
    .collect();
    reads.push((
        "/admin/v1/events/{id}/replay",
        "post",
        Method::POST,
        format!("/events/{event}/replay"),
        None,
        202,
    ));
    reads.push((
        "/admin/v1/sessions/{id}",
        "delete",
        Method::DELETE,
        format!("/sessions/{session}"),
        None,
        200,
    ));
    answer_all(&app, reads, &mut answers).await;
    // The application's feed, with the API key, and the public document.
    let res = app
        .client
        .get(format!(
            "{}/v1/events?organization_id={}",
            app.address, org.id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    answers.push((
        "/v1/events".into(),
        "get".into(),
        expect_json(res, 200).await,
    ));
    // The application's own routes, with the same key.
    let v1 = |method: Method, path: String, body: Option<Value>| {
        let mut r = app
            .client
            .request(method, format!("{}/v1{path}", app.address))
            .bearer_auth(&key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let body =
        serde_json::json!({"user_id": user, "organization_id": org.id, "expires_at": in_an_hour});
    let created = expect_json(
        v1(Method::POST, "/sessions".into(), Some(body))
            .await
            .unwrap(),
        201,
    )
    .await;
    let app_session = created["id"].as_str().unwrap().to_string();
    answers.push(("/v1/sessions".into(), "post".into(), created));
    for (path, method, m, at) in [
        (
            "/v1/sessions/{id}",
            "get",
            Method::GET,
            format!("/sessions/{app_session}"),
        ),
        (
            "/v1/users/{id}",
            "get",
            Method::GET,
            format!("/users/{user}"),
        ),
        (
            "/v1/sessions/{id}",
            "delete",
            Method::DELETE,
            format!("/sessions/{app_session}"),
        ),
    ] {
        let answer = expect_json(v1(m, at, None).await.unwrap(), 200).await;
        answers.push((path.into(), method.into(), answer));
    }
    let res = app
        .client
        .get(app.admin("/openapi.json"))
        .send()
        .await
        .unwrap();
    answers.push((
        "/admin/v1/openapi.json".into(),
        "get".into(),
        expect_json(res, 200).await,
    ));

    let mut wrong = Vec::new();
    for (path, method, answer) in &answers {
        let op = &doc["paths"][path.as_str()][method.as_str()];
        let ok = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is not described"))
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .map(|(_, r)| r.clone())
            .unwrap();
        let mut schema = ok["content"]["application/json"]["schema"].clone();
        assert!(
            !schema.is_null(),
            "{method} {path} answers a body it does not describe"
        );
        schema["components"] = doc["components"].clone();
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            wrong.push(format!("{method} {path}: {errors:?}"));
        }
        // Each list had an item to check against its schema.
        let empty = answer
            .get("data")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if empty && path != "/admin/v1/organizations/{id}/held-actions" {
            wrong.push(format!("{method} {path}: an empty list checks nothing"));
        }
    }
    // Every operation that answers a body was checked.
    let mut unchecked = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let answers_body =
                op["responses"].as_object().unwrap().iter().any(|(s, r)| {
                    s.starts_with('2') && !r["content"]["application/json"].is_null()
                });
            let checked = answers.iter().any(|(p, m, _)| p == path && m == method);
            if answers_body && !checked {
                unchecked.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "operations no test checks: {unchecked:?}"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
