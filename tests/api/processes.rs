//! `offboard serve` as real processes: killed with SIGKILL mid-delivery, and two of them
//! sharing one PostgreSQL database. Nothing may be lost or sent twice at once.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Client;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::{ADMIN_SECRET, Backend, SCIM_JSON, database_url, user_body};
use crate::receiver::{Mode, Receiver};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `offboard serve` child process.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    async fn start(db_url: &str) -> Serve {
        offboard::install_crypto_provider();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_offboard"))
            .arg("serve")
            .env("OFFBOARD_DATABASE_URL", db_url)
            .env("OFFBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("OFFBOARD_METRICS_LISTEN", "127.0.0.1:0")
            .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
            .env("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("OFFBOARD_WEBHOOK_POLL_INTERVAL", "50ms")
            .env("OFFBOARD_WEBHOOK_TIMEOUT", "2s")
            .env("OFFBOARD_WEBHOOK_LEASE", "4s")
            .env("OFFBOARD_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start offboard serve");
        let base = format!("http://127.0.0.1:{port}");
        let client = Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "offboard serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Serve { child, base }
    }

    async fn kill(&mut self) {
        // SIGKILL: no graceful shutdown, leases stay held until they expire.
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

struct Api {
    client: Client,
    admin_token: String,
}

impl Api {
    fn new() -> Api {
        offboard::install_crypto_provider();
        Api {
            client: Client::new(),
            admin_token: offboard::auth::issue_admin_token(
                ADMIN_SECRET,
                "process-test",
                Duration::from_secs(3600),
            )
            .unwrap(),
        }
    }

    async fn admin(&self, base: &str, path: &str, body: Value) -> Value {
        let res = self
            .client
            .post(format!("{base}/admin/v1{path}"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// An organization and its SCIM token.
    async fn org(&self, base: &str) -> (String, String) {
        let org = self
            .admin(base, "/organizations", json!({"name": "Acme"}))
            .await;
        let id = org["id"].as_str().unwrap().to_string();
        let tok = self
            .admin(base, &format!("/organizations/{id}/scim-tokens"), json!({}))
            .await;
        (id, tok["token"].as_str().unwrap().to_string())
    }

    async fn endpoint(&self, base: &str, receiver: &Receiver) {
        let ep = self
            .admin(base, "/webhook-endpoints", json!({"url": receiver.url}))
            .await;
        receiver.set_secrets(&[ep["secret"].as_str().unwrap()]);
    }

    async fn scim(
        &self,
        base: &str,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .client
            .request(method, format!("{base}/scim/v2{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", SCIM_JSON).body(b.to_string());
        }
        let res = req.send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    /// Creates a user and changes it `rounds` times; returns its id.
    async fn churn(&self, base: &str, token: &str, name: &str, rounds: usize) -> String {
        let u = self
            .scim(
                base,
                token,
                reqwest::Method::POST,
                "/Users",
                Some(user_body(name)),
            )
            .await;
        let id = u["id"].as_str().unwrap().to_string();
        for i in 0..rounds {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": i % 2 == 1}}]
            });
            self.scim(
                base,
                token,
                reqwest::Method::PATCH,
                &format!("/Users/{id}"),
                Some(body),
            )
            .await;
        }
        id
    }
}

/// Each user's events were first accepted in sequence order.
fn assert_per_user_order(receiver: &Receiver) {
    let mut first_seen: HashSet<String> = HashSet::new();
    let mut last_seq: HashMap<(String, String), i64> = HashMap::new();
    for r in receiver.accepted() {
        if !first_seen.insert(r.id.clone()) {
            continue;
        }
        let key = (
            r.body["organization_id"].as_str().unwrap().to_string(),
            r.body["data"]["user"]["id"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        let seq = r.body["sequence"].as_i64().unwrap();
        if let Some(prev) = last_seq.insert(key.clone(), seq) {
            assert!(
                prev < seq,
                "user {key:?}: sequence {seq} arrived after {prev}"
            );
        }
    }
}

async fn no_delivery_left_pending(db_url: &str) {
    let db = offboard::db::connect(db_url, 1).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = entity::deliveries::Entity::find()
            .filter(entity::deliveries::Column::Status.eq("pending"))
            .count(&db)
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn outbox_ids(db_url: &str) -> HashSet<String> {
    let db = offboard::db::connect(db_url, 1).await.unwrap();
    entity::events::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn sigkill_mid_delivery_loses_nothing(backend: Backend) {
    let (db_url, _dir) = database_url(backend).await;
    let mut serve = Serve::start(&db_url).await;
    let api = Api::new();
    let receiver = Receiver::start("whsec_AAAA", Mode::Slow(Duration::from_millis(300))).await;
    api.endpoint(&serve.base, &receiver).await;
    let (_, token) = api.org(&serve.base).await;
    for i in 0..4 {
        api.churn(&serve.base, &token, &format!("user{i}@example.com"), 3)
            .await;
    }
    let all = outbox_ids(&db_url).await;
    assert_eq!(all.len(), 4 * 5);
    // Some delivered, others in flight at the receiver: kill now.
    receiver.wait_for_events(3, Duration::from_secs(20)).await;
    serve.kill().await;
    let before_restart = receiver.accepted().len();
    assert!(
        before_restart < all.len(),
        "the kill came too late to test anything"
    );

    let _serve = Serve::start(&db_url).await;
    receiver
        .wait_for_events(all.len(), Duration::from_secs(60))
        .await;
    let got: HashSet<String> = receiver.accepted().into_iter().map(|r| r.id).collect();
    assert_eq!(got, all, "every event arrived, under its own webhook-id");
    for r in receiver.accepted() {
        assert_eq!(json!(r.id), r.body["id"]);
    }
    assert_per_user_order(&receiver);
    assert_eq!(receiver.rejected_signatures(), 0);
    no_delivery_left_pending(&db_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_nothing_sqlite() {
    sigkill_mid_delivery_loses_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_nothing_postgres() {
    if std::env::var("OFFBOARD_TEST_DATABASE_URL").is_err() {
        eprintln!("OFFBOARD_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    }
    sigkill_mid_delivery_loses_nothing(Backend::Postgres).await;
}

/// Two `serve` processes on one PostgreSQL database share 1,000 events: each delivered,
/// none sent by both at once, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_the_work_without_sending_an_event_twice_at_once() {
    if std::env::var("OFFBOARD_TEST_DATABASE_URL").is_err() {
        eprintln!("OFFBOARD_TEST_DATABASE_URL not set: PostgreSQL-only test skipped");
        return;
    }
    let (db_url, _) = database_url(Backend::Postgres).await;
    let one = Serve::start(&db_url).await;
    let two = Serve::start(&db_url).await;
    let api = Api::new();
    let receiver = Receiver::start("whsec_AAAA", Mode::Slow(Duration::from_millis(2))).await;
    api.endpoint(&one.base, &receiver).await;
    let (_, token) = api.org(&one.base).await;
    // 200 users x 5 events, written through both processes, 8 users at a time.
    let bases = [one.base.clone(), two.base.clone()];
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..25 {
        for j in 0..8 {
            let i = chunk * 8 + j;
            let base = bases[i % 2].clone();
            let token = token.clone();
            tasks.spawn(async move {
                let api = Api::new();
                api.churn(&base, &token, &format!("u{i}@example.com"), 3)
                    .await;
            });
        }
        while tasks.join_next().await.is_some() {}
    }
    let all = outbox_ids(&db_url).await;
    assert_eq!(all.len(), 1000);
    receiver
        .wait_for_events(1000, Duration::from_secs(120))
        .await;
    let got: HashSet<String> = receiver.accepted().into_iter().map(|r| r.id).collect();
    assert_eq!(got, all, "none lost");
    assert_eq!(
        receiver.overlaps(),
        0,
        "no event was in flight twice at once"
    );
    assert_per_user_order(&receiver);
    no_delivery_left_pending(&db_url).await;

    let db = offboard::db::connect(&db_url, 1).await.unwrap();
    let attempts = entity::delivery_attempts::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let owners: HashSet<&str> = attempts.iter().map(|a| a.owner.as_str()).collect();
    assert_eq!(owners.len(), 2, "both processes delivered");
    assert_eq!(attempts.len(), 1000, "no event was sent twice");
    assert!(attempts.iter().all(|a| a.outcome == "success"));
}

/// SIGTERM: the process stops claiming, lets the delivery in flight finish and gives
/// back its other leases, so another process need not wait for them to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_delivery_in_flight_and_releases_leases() {
    let (db_url, _dir) = database_url(Backend::Sqlite).await;
    let mut serve = Serve::start(&db_url).await;
    let api = Api::new();
    let receiver = Receiver::start("whsec_AAAA", Mode::Slow(Duration::from_millis(1500))).await;
    api.endpoint(&serve.base, &receiver).await;
    let (_, token) = api.org(&serve.base).await;
    api.churn(&serve.base, &token, "kim@example.com", 2).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.in_flight() == 0 {
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = serve.child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), serve.child.wait())
        .await
        .expect("serve exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        receiver.accepted().len(),
        1,
        "the delivery in flight finished"
    );

    let db = offboard::db::connect(&db_url, 1).await.unwrap();
    let rows = entity::deliveries::Entity::find().all(&db).await.unwrap();
    assert_eq!(
        rows.len(),
        4,
        "user.created, membership.created and two updates"
    );
    assert_eq!(rows.iter().filter(|d| d.status == "succeeded").count(), 1);
    assert!(
        rows.iter()
            .all(|d| d.lease_owner.is_none() && d.lease_id.is_none()),
        "no lease left behind"
    );
    let _again = Serve::start(&db_url).await;
    receiver.wait_for_events(4, Duration::from_secs(30)).await;
    assert_per_user_order(&receiver);
}
