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

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `offboard serve` child process.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Serve {
    pub(crate) async fn start(db_url: &str) -> Serve {
        Self::start_with(db_url, &[]).await
    }

    /// Starts `offboard serve` with the tests' settings and `extra` overrides.
    pub(crate) async fn start_with(db_url: &str, extra: &[(&str, &str)]) -> Serve {
        offboard::install_crypto_provider();
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_offboard"));
        cmd.arg("serve")
            .env("OFFBOARD_DATABASE_URL", db_url)
            .env("OFFBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("OFFBOARD_METRICS_LISTEN", "127.0.0.1:0")
            .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
            .env("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("OFFBOARD_WEBHOOK_POLL_INTERVAL", "50ms")
            .env("OFFBOARD_WEBHOOK_TIMEOUT", "2s")
            .env("OFFBOARD_WEBHOOK_LEASE", "4s")
            .env("OFFBOARD_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms")
            // The tests send many requests of one organization at once.
            .env("OFFBOARD_RATE_LIMIT_PER_SECOND", "10000")
            .env("OFFBOARD_RATE_LIMIT_BURST", "10000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start offboard serve");
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

pub(crate) struct Api {
    client: Client,
    pub(crate) admin_token: String,
}

impl Api {
    pub(crate) fn new() -> Api {
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

    pub(crate) async fn admin(&self, base: &str, path: &str, body: Value) -> Value {
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

    /// An organization and its SCIM token. These tests churn through every member of
    /// one organization on purpose: its deprovisioning guard is off.
    pub(crate) async fn org(&self, base: &str) -> (String, String) {
        let org = self
            .admin(
                base,
                "/organizations",
                json!({"name": "Acme", "deprovision_guard": {"mode": "off"}}),
            )
            .await;
        let id = org["id"].as_str().unwrap().to_string();
        let tok = self
            .admin(base, &format!("/organizations/{id}/scim-tokens"), json!({}))
            .await;
        (id, tok["token"].as_str().unwrap().to_string())
    }

    pub(crate) async fn endpoint(&self, base: &str, receiver: &Receiver) {
        self.endpoint_with(base, receiver, json!({})).await;
    }

    async fn endpoint_with(&self, base: &str, receiver: &Receiver, extra: Value) {
        let mut body = json!({"url": receiver.url});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let ep = self.admin(base, "/webhook-endpoints", body).await;
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

pub(crate) async fn no_delivery_left_pending(db_url: &str) {
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

pub(crate) async fn outbox_ids(db_url: &str) -> HashSet<String> {
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
    // Five events per user, and the organization's token made.
    assert_eq!(all.len(), 4 * 5 + 1);
    // Some delivered, others in flight at the receiver: kill now.
    receiver.wait_for_events(3, Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.in_flight() == 0 {
        assert!(
            Instant::now() < deadline,
            "no delivery was in flight to kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn sigkill_mid_delivery_loses_nothing_postgres() {
    sigkill_mid_delivery_loses_nothing(Backend::Postgres).await;
}

/// `serve` answers HTTP on at least 8 worker threads whatever the cores (actix's default
/// is one per core): on SQLite a write's turn at the writer slot waits for its worker
/// between statements, and more workers shorten that wait (see `startup::MIN_HTTP_WORKERS`).
/// Read from the process's threads, by the name actix gives them (Linux).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_at_least_eight_http_workers() {
    let (url, _dir) = database_url(Backend::Sqlite).await;
    let serve = Serve::start(&url).await;
    let pid = serve.child.id().expect("serve's pid");
    let workers = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the process's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        // "actix-server worker N", cut to 15 bytes; the metrics listener has one too.
        .filter(|name| name.starts_with("actix-server wo"))
        .count();
    assert!(workers > 8, "{workers} worker threads");
}

/// Two `serve` processes on one PostgreSQL database share 1,000 events: each delivered,
/// none sent by both at once, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn two_processes_share_the_work_without_sending_an_event_twice_at_once() {
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
    // And the organization's token made: 1,001 events.
    let all = outbox_ids(&db_url).await;
    assert_eq!(all.len(), 1001);
    receiver
        .wait_for_events(1001, Duration::from_secs(120))
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
    assert_eq!(attempts.len(), 1001, "no event was sent twice");
    assert!(attempts.iter().all(|a| a.outcome == "success"));
}

/// SIGTERM: the process stops claiming, lets deliveries in flight finish within
/// OFFBOARD_SHUTDOWN_TIMEOUT, abandons the rest and gives back their leases, so another
/// process sends them at once instead of after the lease (a minute here) expires.
async fn sigterm_gives_back_the_leases_of_abandoned_deliveries(backend: Backend) {
    let (db_url, _dir) = database_url(backend).await;
    let settings = [
        ("OFFBOARD_SHUTDOWN_TIMEOUT", "300ms"),
        ("OFFBOARD_WEBHOOK_TIMEOUT", "10s"),
        ("OFFBOARD_WEBHOOK_LEASE", "60s"),
    ];
    let mut serve = Serve::start_with(&db_url, &settings).await;
    let api = Api::new();
    // Slower than the shutdown timeout: the deliveries in flight are abandoned.
    let receiver = Receiver::start("whsec_AAAA", Mode::Slow(Duration::from_secs(2))).await;
    api.endpoint_with(&serve.base, &receiver, json!({"max_in_flight": 8}))
        .await;
    let (_, token) = api.org(&serve.base).await;
    for i in 0..3 {
        api.churn(&serve.base, &token, &format!("user{i}@example.com"), 1)
            .await;
    }
    let all = outbox_ids(&db_url).await;
    // Three events per user, and the organization's token made.
    assert_eq!(all.len(), 3 * 3 + 1);
    // The first delivery of each user is in flight (per-user order holds the others).
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.in_flight() < 3 {
        assert!(Instant::now() < deadline, "the deliveries were not sent");
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

    let db = offboard::db::connect(&db_url, 1).await.unwrap();
    let rows = entity::deliveries::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), all.len());
    assert_eq!(
        rows.iter()
            .filter(|d| d.status == entity::deliveries::DeliveryStatus::Succeeded)
            .count(),
        0,
        "nothing finished within the shutdown timeout"
    );
    assert!(
        rows.iter().all(|d| d.lease_owner.is_none()
            && d.lease_id.is_none()
            && d.lease_expires_at.is_none()),
        "every lease given back"
    );

    // Another process sends everything long before the 60 s lease would have expired.
    let restarted = Instant::now();
    receiver.set_mode(Mode::Accept);
    let _again = Serve::start_with(&db_url, &settings).await;
    no_delivery_left_pending(&db_url).await;
    assert!(
        restarted.elapsed() < Duration::from_secs(30),
        "the abandoned deliveries waited for their leases"
    );
    let got: HashSet<String> = receiver.accepted().into_iter().map(|r| r.id).collect();
    assert_eq!(got, all);
    assert_per_user_order(&receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_back_the_leases_of_abandoned_deliveries_sqlite() {
    sigterm_gives_back_the_leases_of_abandoned_deliveries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn sigterm_gives_back_the_leases_of_abandoned_deliveries_postgres() {
    sigterm_gives_back_the_leases_of_abandoned_deliveries(Backend::Postgres).await;
}

/// A batch job killed mid-run with SIGKILL: after a restart, once the dead process's job
/// lease runs out, the new one carries on from the last committed step; every user is
/// deleted exactly once and the job finishes with nothing failed.
async fn sigkill_mid_job_finishes_after_restart_deleting_each_user_once(backend: Backend) {
    const USERS: usize = 300;
    let (db_url, _dir) = database_url(backend).await;
    // The rate limit lifted: the users are created faster than its default once the
    // burst is spent; the test is about the job.
    let lease = [
        ("OFFBOARD_JOB_LEASE", "2s"),
        ("OFFBOARD_RATE_LIMIT_PER_SECOND", "100000"),
        ("OFFBOARD_RATE_LIMIT_BURST", "100000"),
    ];
    let mut serve = Serve::start_with(&db_url, &lease).await;
    let api = Api::new();
    let (org, token) = api.org(&serve.base).await;
    for i in 0..USERS {
        api.scim(
            &serve.base,
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user_body(&format!("batch{i}@example.com"))),
        )
        .await;
    }
    let db = offboard::db::connect(&db_url, 2).await.unwrap();
    let accounts: Vec<String> = entity::memberships::Entity::find()
        .filter(entity::memberships::Column::OrganizationId.eq(org.as_str()))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect();
    assert_eq!(accounts.len(), USERS);
    let job = api
        .admin(
            &serve.base,
            "/users/batch-delete",
            json!({"user_ids": accounts, "confirm": true}),
        )
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    let progress = || async {
        entity::jobs::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .unwrap()
            .expect("job")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress().await.done < 10 {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    serve.kill().await;
    let at_kill = progress().await;
    assert!(
        (at_kill.done as usize) < USERS && at_kill.status != entity::jobs::JobStatus::Finished,
        "the kill came too late to test anything: {} done",
        at_kill.done
    );

    let _serve = Serve::start_with(&db_url, &lease).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let end = loop {
        let j = progress().await;
        if j.status == entity::jobs::JobStatus::Finished {
            break j;
        }
        assert!(Instant::now() < deadline, "the job never finished: {j:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((end.done as usize, end.failed), (USERS, 0), "{end:?}");
    let deleted = entity::events::Entity::find()
        .filter(entity::events::Column::EventType.eq("user.deleted"))
        .all(&db)
        .await
        .unwrap();
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for e in deleted {
        *per_user
            .entry(e.user_id.map(String::from).unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(per_user.len(), USERS, "every user deleted");
    assert!(
        per_user.values().all(|n| *n == 1),
        "a user deleted twice: {:?}",
        per_user.iter().find(|(_, n)| **n > 1)
    );
    let audits = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("user.delete"))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(audits as usize, USERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_job_finishes_after_restart_deleting_each_user_once_sqlite() {
    sigkill_mid_job_finishes_after_restart_deleting_each_user_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn sigkill_mid_job_finishes_after_restart_deleting_each_user_once_postgres() {
    sigkill_mid_job_finishes_after_restart_deleting_each_user_once(Backend::Postgres).await;
}
