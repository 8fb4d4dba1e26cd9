use std::sync::Once;

use offboard::configuration::Settings;
use offboard::startup::Application;
use reqwest::{Client, Method, Response};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

pub const ADMIN_SECRET: &str = "test-admin-secret-of-at-least-32-bytes";
pub const SCIM_JSON: &str = "application/scim+json";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares a test that runs once per backend: `db_test!(name)` expects
/// `async fn name(app: TestApp)` in the same module.
/// `db_test!(name, [("OFFBOARD_X", "v")])` also sets configuration for that test's app.
#[macro_export]
macro_rules! db_test {
    ($name:ident) => {
        $crate::db_test!($name, []);
    };
    ($name:ident, [$(($k:expr, $v:expr)),* $(,)?]) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app_with(
                    $crate::helpers::Backend::Sqlite,
                    &[$(($k, $v)),*],
                )
                .await;
                super::$name(app).await
            }

            /// Runs when OFFBOARD_TEST_DATABASE_URL is set (at build time, see build.rs);
            /// otherwise it is reported as ignored, never as passed.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(offboard_postgres_tests),
                ignore = "PostgreSQL variant: set OFFBOARD_TEST_DATABASE_URL to run it"
            )]
            async fn postgres() {
                let app = $crate::helpers::spawn_app_with(
                    $crate::helpers::Backend::Postgres,
                    &[$(($k, $v)),*],
                )
                .await;
                super::$name(app).await
            }
        }
    };
}

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (its own listener), unless turned off.
    pub metrics_address: Option<String>,
    pub client: Client,
    pub db: DatabaseConnection,
    pub admin_token: String,
    /// The app's purge policy (grace, event retention), for running the purge as `serve` would.
    pub purge: offboard::service::purge::Policy,
    /// The app's webhook settings, for a dispatcher a test steps itself.
    pub webhook: offboard::configuration::WebhookSettings,
    /// The SQLite database's folder (`None` on PostgreSQL).
    pub dir: Option<tempfile::TempDir>,
    /// The database, for a second app on it (another configuration, a restart).
    pub database_url: String,
}

static TRACING: Once = Once::new();

pub async fn database_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let base = std::env::var("OFFBOARD_TEST_DATABASE_URL")
                .expect("a PostgreSQL test needs OFFBOARD_TEST_DATABASE_URL");
            let name = format!(
                "offboard_test_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            let admin = sea_orm::Database::connect(&base)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
            (format!("{prefix}/{name}"), None)
        }
    }
}

/// Starts the app with extra configuration (`OFFBOARD_*` name, value).
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let (url, dir) = database_url(backend).await;
    spawn_app_at(url, dir, extra).await
}

/// Starts the app on an existing database (migrations still run at start).
pub async fn spawn_app_at(
    url: String,
    dir: Option<tempfile::TempDir>,
    extra: &[(&str, &str)],
) -> TestApp {
    offboard::install_crypto_provider();
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            offboard::telemetry::init(offboard::configuration::LogFormat::Text);
        }
    });
    let url_for_settings = url.clone();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::from_lookup(move |k| {
        if let Some((_, v)) = extra.iter().find(|(name, _)| name == k) {
            return Some(v.clone());
        }
        match k {
            "OFFBOARD_DATABASE_URL" => Some(url_for_settings.clone()),
            "OFFBOARD_LISTEN" => Some("127.0.0.1:0".into()),
            "OFFBOARD_ADMIN_JWT_SECRET" => Some(ADMIN_SECRET.into()),
            "OFFBOARD_MAX_BODY_BYTES" => Some("65536".into()),
            "OFFBOARD_DB_MAX_CONNECTIONS" => Some("5".into()),
            "OFFBOARD_METRICS_LISTEN" => Some("127.0.0.1:0".into()),
            _ => None,
        }
    })
    .expect("settings");
    let purge = offboard::service::purge::Policy::from_settings(&settings);
    let webhook = settings.webhook.clone();
    let app = Application::build(settings).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    tokio::spawn(app.run_until_stopped());
    let db = offboard::db::connect(&url, 2)
        .await
        .expect("test connection");
    let admin_token = offboard::auth::issue_admin_token(
        ADMIN_SECRET,
        "test-operator",
        std::time::Duration::from_secs(3600),
    )
    .expect("admin token");
    TestApp {
        address,
        metrics_address,
        client: Client::new(),
        db,
        admin_token,
        purge,
        webhook,
        dir,
        database_url: url,
    }
}

/// An organization with a SCIM token, made through the admin API.
pub struct Org {
    pub id: String,
    pub token: String,
}

impl Org {
    /// The id as the store takes it.
    pub fn org_id(&self) -> ids::OrganizationId {
        ids::OrganizationId::named(&self.id).expect("an organization id")
    }
}

pub fn fixture(path: &str) -> Value {
    let full = format!("{}/scim-fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A fixture with its id placeholders (`USER_ID`, `USER_NAME`, `GROUP_ID`) filled in.
pub fn fixture_with(path: &str, ids: &[(&str, &str)]) -> Value {
    let full = format!("{}/scim-fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    for (k, v) in ids {
        text = text.replace(k, v);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn patch_body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

impl TestApp {
    pub fn scim(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.address)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("{}/admin/v1{path}", self.address)
    }

    /// Sends a SCIM request with the organization's token and, if given, a JSON body.
    pub async fn scim_send(
        &self,
        method: Method,
        org: &Org,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method.clone(), self.scim(path))
            .bearer_auth(&org.token);
        if let Some(b) = body {
            req = req.header("content-type", SCIM_JSON).body(b.to_string());
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends an admin API request with the operator's JWT and, if given, a JSON body.
    pub async fn admin_send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut req = self
            .client
            .request(method.clone(), self.admin(path))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// An unauthenticated SCIM GET (the discovery endpoints) that must answer 200.
    pub async fn public_json(&self, path: &str) -> Value {
        let res = self.client.get(self.scim(path)).send().await.expect("GET");
        expect_json(res, 200).await
    }

    pub async fn create_org(&self, name: &str) -> Org {
        self.create_org_with(name, json!({})).await
    }

    /// An organization created with these fields besides its name (settings such as
    /// `deprovision_guard`), and its SCIM token.
    pub async fn create_org_with(&self, name: &str, extra: Value) -> Org {
        let mut body = json!({"name": name});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let res = self
            .admin_send(Method::POST, "/organizations", Some(&body))
            .await;
        let org = expect_json(res, 201).await;
        let id = org["id"].as_str().expect("org id").to_string();
        let res = self
            .admin_send(
                Method::POST,
                &format!("/organizations/{id}/scim-tokens"),
                None,
            )
            .await;
        let tok = expect_json(res, 201).await;
        Org {
            id,
            token: tok["token"].as_str().expect("token").to_string(),
        }
    }

    pub async fn post(&self, org: &Org, path: &str, body: &Value) -> Response {
        self.scim_send(Method::POST, org, path, Some(body)).await
    }

    pub async fn patch(&self, org: &Org, path: &str, body: &Value) -> Response {
        self.scim_send(Method::PATCH, org, path, Some(body)).await
    }

    /// Okta's deactivation of the user `id`, as Okta sends it.
    pub async fn deactivate(&self, org: &Org, id: &str) -> Response {
        self.patch(
            org,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await
    }

    /// A PATCH carrying `If-Match`.
    pub async fn patch_if_match(
        &self,
        org: &Org,
        path: &str,
        etag: &str,
        body: &Value,
    ) -> Response {
        self.client
            .patch(self.scim(path))
            .bearer_auth(&org.token)
            .header("content-type", SCIM_JSON)
            .header("if-match", etag)
            .body(body.to_string())
            .send()
            .await
            .expect("PATCH")
    }

    pub async fn put(&self, org: &Org, path: &str, body: &Value) -> Response {
        self.scim_send(Method::PUT, org, path, Some(body)).await
    }

    pub async fn get(&self, org: &Org, path: &str) -> Response {
        self.scim_send(Method::GET, org, path, None).await
    }

    /// GET that must succeed, returning the JSON body.
    pub async fn get_json(&self, org: &Org, path: &str) -> Value {
        expect_json(self.get(org, path).await, 200).await
    }

    pub async fn delete(&self, org: &Org, path: &str) -> Response {
        self.scim_send(Method::DELETE, org, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, org: &Org, body: &Value) -> String {
        let v = expect_json(self.post(org, "/Users", body).await, 201).await;
        v["id"].as_str().expect("id").to_string()
    }

    /// The account (`usr_…`) behind the SCIM id an organization's IdP knows a user by.
    pub async fn account_of(&self, org: &Org, scim_id: &str) -> String {
        self.membership_row(org, scim_id).await.user_id.into()
    }

    /// The stored membership row behind the SCIM id an organization's IdP knows a user by
    /// (removed or not).
    pub async fn membership_row(&self, org: &Org, scim_id: &str) -> entity::memberships::Model {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        entity::memberships::Entity::find()
            .filter(entity::memberships::Column::OrganizationId.eq(org.id.as_str()))
            .filter(entity::memberships::Column::ScimId.eq(scim_id))
            .order_by_desc(entity::memberships::Column::Id)
            .one(&self.db)
            .await
            .expect("membership lookup")
            .unwrap_or_else(|| panic!("no membership {scim_id} in {}", org.id))
    }

    /// Two organizations that both verified example.com: the same `…@example.com` userName
    /// in both is one account with a membership in each.
    pub async fn orgs_sharing_a_domain(&self, first: &str, second: &str) -> (Org, Org) {
        let (a, b) = (self.create_org(first).await, self.create_org(second).await);
        self.verify_domain(&a, "example.com").await;
        self.verify_domain(&b, "example.com").await;
        (a, b)
    }

    /// Verifies an email domain for the organization through the admin API.
    pub async fn verify_domain(&self, org: &Org, domain: &str) -> Value {
        let res = self
            .admin_send(
                Method::POST,
                &format!("/organizations/{}/domains", org.id),
                Some(&json!({"domain": domain})),
            )
            .await;
        let status = res.status().as_u16();
        assert!(status == 201 || status == 200, "verify {domain}: {status}");
        res.json().await.expect("domain JSON")
    }

    pub async fn admin_user(&self, id: &str) -> Value {
        let res = self
            .admin_send(Method::GET, &format!("/users/{id}"), None)
            .await;
        expect_json(res, 200).await
    }

    pub async fn create_session(&self, org: &Org, user_id: &str) -> String {
        let body = json!({"user_id": user_id, "organization_id": org.id, "expires_at": "2999-01-01T00:00:00Z"});
        let res = self
            .admin_send(Method::POST, "/sessions", Some(&body))
            .await;
        let v = expect_json(res, 201).await;
        v["id"].as_str().expect("id").to_string()
    }

    pub async fn session_active(&self, id: &str) -> bool {
        let res = self
            .admin_send(Method::GET, &format!("/sessions/{id}"), None)
            .await;
        let v = expect_json(res, 200).await;
        v["active"].as_bool().expect("active")
    }

    /// The organization's outbox about its people and groups, as (type, user id) in
    /// sequence order: the connection's own `scim_token.*` events (the token each test
    /// organization is made with) are left out; `all_event_types` has them. Also checks
    /// that the sequences of the whole outbox run 1, 2, 3… without gaps.
    pub async fn events(&self, org: &Org) -> Vec<(String, Option<String>)> {
        self.all_events(org)
            .await
            .into_iter()
            .filter(|(t, _)| !t.starts_with("scim_token."))
            .collect()
    }

    /// Every event of the organization's outbox, the `scim_token.*` ones included.
    pub async fn all_event_types(&self, org: &Org) -> Vec<String> {
        self.all_events(org)
            .await
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    async fn all_events(&self, org: &Org) -> Vec<(String, Option<String>)> {
        let rows = offboard::store::outbox::list_for_organization(&self.db, &org.org_id())
            .await
            .expect("events");
        for (i, r) in rows.iter().enumerate() {
            check_schema(&r.payload);
            assert_eq!(r.sequence, i as i64 + 1, "sequences are contiguous");
            assert_eq!(r.payload["sequence"], json!(r.sequence));
            assert_eq!(r.payload["type"], json!(r.event_type));
        }
        rows.into_iter()
            .map(|r| (r.event_type, r.user_id.map(String::from)))
            .collect()
    }

    pub async fn event_types(&self, org: &Org) -> Vec<String> {
        self.events(org).await.into_iter().map(|(t, _)| t).collect()
    }

    /// The payloads of [`TestApp::events`]: the `scim_token.*` ones left out.
    pub async fn event_payloads(&self, org: &Org) -> Vec<Value> {
        self.all_event_payloads(org)
            .await
            .into_iter()
            .filter(|p| !p["type"].as_str().unwrap_or("").starts_with("scim_token."))
            .collect()
    }

    /// Every event payload of the organization's outbox, each checked against its schema.
    pub async fn all_event_payloads(&self, org: &Org) -> Vec<Value> {
        offboard::store::outbox::list_for_organization(&self.db, &org.org_id())
            .await
            .expect("events")
            .into_iter()
            .map(|r| {
                check_schema(&r.payload);
                r.payload
            })
            .collect()
    }

    /// A dispatcher on the app's database that the test steps with `tick()` (start the
    /// app with `OFFBOARD_WEBHOOK_DISPATCH=false` so nothing else delivers).
    pub fn dispatcher(&self) -> offboard::webhook::dispatcher::Dispatcher {
        offboard::webhook::dispatcher::Dispatcher::new(
            self.db.clone(),
            self.webhook.clone(),
            Default::default(),
            std::sync::Arc::new(offboard::metrics::Metrics::with_breaker(
                self.webhook.breaker,
            )),
        )
        .expect("dispatcher")
    }

    /// Runs the purge as if it were `at` (tests move time forward instead of waiting).
    pub async fn purge_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> offboard::service::purge::PurgeReport {
        offboard::service::purge::run(&self.db, at, &self.purge)
            .await
            .expect("purge")
    }

    /// Sends an admin DELETE with `{"confirm": true}` and extra fields, expecting 204.
    pub async fn admin_delete_confirmed(&self, path: &str, extra: Value) {
        let mut body = json!({"confirm": true});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let res = self.admin_send(Method::DELETE, path, Some(&body)).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        assert_eq!(status, 204, "DELETE {path}: {text}");
    }

    pub async fn audit_actions(&self, org: &Org) -> Vec<String> {
        offboard::store::audit::list_for_organization(&self.db, &org.org_id())
            .await
            .expect("audit")
            .into_iter()
            .map(|r| r.action)
            .collect()
    }
}

/// Checks a stored event against the published JSON Schema of its type: every event a
/// test reads back through these helpers is validated.
pub fn check_schema(payload: &Value) {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static VALIDATORS: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        offboard::domain::events::EventType::ALL
            .iter()
            .map(|t| {
                let v = jsonschema::validator_for(&t.schema()).expect("a valid schema");
                (t.as_str(), v)
            })
            .collect()
    });
    let t = payload["type"].as_str().unwrap_or_default();
    let v = validators
        .get(t)
        .unwrap_or_else(|| panic!("an event of an unpublished type: {payload}"));
    if let Err(e) = v.validate(payload) {
        panic!(
            "a {t} event does not match its schema: {e} at {}: {payload}",
            e.instance_path()
        );
    }
}

/// The membership in organization `org` of a user view (the admin API's or the export's
/// `memberships`).
pub fn membership_in(view: &Value, org: &str) -> Value {
    view["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .find(|m| m["organization_id"] == serde_json::json!(org))
        .cloned()
        .unwrap_or_else(|| panic!("no membership in {org}: {view}"))
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "status of {}", res.url());
    res.json().await.expect("JSON body")
}

/// Asserts a SCIM error response: status, `scimType`, the Error schema and content type.
pub async fn assert_scim_error(res: Response, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with(SCIM_JSON), "content type {ct}");
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], json!(status.to_string()));
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail"
    );
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], json!(t), "{body}"),
        None => assert!(body.get("scimType").is_none(), "{body}"),
    }
    body
}
