//! Batch deletion as a job: accepted with 202, run by `serve`'s job worker, progress
//! readable throughout, every user deleted once; leases fence the steps.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, user_body};

const WAIT: Duration = Duration::from_secs(30);

async fn job(app: &TestApp, id: &str) -> Value {
    expect_json(
        app.admin_send(Method::GET, &format!("/jobs/{id}"), None)
            .await,
        200,
    )
    .await
}

async fn finished(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let j = job(app, id).await;
        if j["status"] == json!("finished") {
            return j;
        }
        assert!(Instant::now() < deadline, "job never finished: {j}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `DELETE {path}{query}` with `body` (an organization's deletion, as a job or not).
async fn delete_org(app: &TestApp, path: &str, query: &str, body: Value) -> reqwest::Response {
    app.admin_send(Method::DELETE, &format!("{path}{query}"), Some(&body))
        .await
}

async fn batch(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin_send(Method::POST, "/users/batch-delete", Some(&body))
        .await
}

db_test!(a_batch_job_deletes_each_user_once_and_names_those_it_could_not);
async fn a_batch_job_deletes_each_user_once_and_names_those_it_could_not(app: TestApp) {
    let org = app.create_org("Acme").await;
    let mut users = Vec::new();
    for i in 0..5 {
        let id = app
            .create_user(&org, &user_body(&format!("b{i}@example.com")))
            .await;
        users.push(app.account_of(&org, &id).await);
    }
    let keep = app.create_user(&org, &user_body("keep@example.com")).await;
    let missing = "usr_01J9NOSUCHUSER000000000000";
    let mut ids: Vec<Value> = users.iter().map(|u| json!(u)).collect();
    ids.push(json!(missing));
    ids.push(json!(users[0])); // named twice: deleted once
    let res = batch(
        &app,
        json!({"user_ids": ids, "confirm": true, "hardDeletePost": true}),
    )
    .await;
    let created = expect_json(res, 202).await;
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("job_"));
    assert_eq!(created["total"], json!(6));

    let done = finished(&app, &id).await;
    assert_eq!(done["done"], json!(5));
    assert_eq!(done["failed"], json!(1));
    assert_eq!(
        done["errors"],
        json!([{"user_id": missing, "code": "NOT_FOUND"}])
    );
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    for u in &users {
        assert_eq!(app.admin_user(u).await["status"], json!("DELETED"));
    }
    assert_eq!(
        app.get(&org, &format!("/Users/{keep}")).await.status(),
        200,
        "only the named users"
    );
    let payloads = app.event_payloads(&org).await;
    for u in &users {
        let deleted: Vec<&Value> = payloads
            .iter()
            .filter(|p| p["type"] == json!("user.deleted") && p["data"]["user"]["id"] == json!(u))
            .collect();
        assert_eq!(deleted.len(), 1, "{u} deleted once");
        assert_eq!(
            deleted[0]["data"]["content"]["hard_delete_posts"],
            json!(true)
        );
    }
    let list = expect_json(app.admin_send(Method::GET, "/jobs", None).await, 200).await;
    assert_eq!(list["data"][0]["id"], json!(id));
}

db_test!(bad_batches_are_refused_and_make_no_job);
async fn bad_batches_are_refused_and_make_no_job(app: TestApp) {
    let too_many: Vec<String> = (0..1001).map(|i| format!("usr_{i}")).collect();
    for (body, code) in [
        (json!({"user_ids": ["usr_1"]}), "CONFIRMATION_REQUIRED"),
        (json!({"confirm": true}), "VALIDATION_ERROR"),
        (json!({"confirm": true, "user_ids": []}), "VALIDATION_ERROR"),
        (
            json!({"confirm": true, "user_ids": too_many}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"confirm": true, "user_ids": [1, 2]}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"confirm": true, "user_ids": [""]}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"confirm": true, "user_ids": ["x".repeat(101)]}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"confirm": true, "user_ids": "usr_1"}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"confirm": true, "user_ids": ["usr_1"], "deleteAll": "yes"}),
            "INVALID_CONTENT_DIRECTIVE",
        ),
        (
            json!({"confirm": true, "user_ids": ["usr_1"], "everyone": true}),
            "VALIDATION_ERROR",
        ),
    ] {
        let err = expect_json(batch(&app, body.clone()).await, 422).await;
        assert_eq!(err["error"]["code"], json!(code), "{body}");
    }
    let list = expect_json(app.admin_send(Method::GET, "/jobs", None).await, 200).await;
    assert_eq!(list["data"], json!([]));
    let res = app
        .admin_send(Method::GET, "/jobs/job_01J9NOSUCHJOB0000000000000", None)
        .await;
    assert_eq!(res.status(), 404);
}

db_test!(
    a_jobs_lease_fences_its_progress,
    [("OFFBOARD_JOB_WORKER", "false")]
);
async fn a_jobs_lease_fences_its_progress(app: TestApp) {
    use chrono::{Duration as Span, Utc};
    use offboard::store::jobs::{self, NewJob, Progress};
    let actor = offboard::store::audit::Actor {
        kind: offboard::store::audit::ActorKind::Admin,
        id: "test".into(),
        request_id: None,
        client_address: None,
    };
    // The app runs no job worker: the test holds the only leases.
    let now = Utc::now() + Span::days(365);
    let job = jobs::insert(
        &app.db,
        NewJob {
            kind: "users.delete",
            params: json!({"user_ids": []}),
            total: 0,
            actor: &actor,
        },
        now,
    )
    .await
    .unwrap();
    let a = jobs::claim(&app.db, "dsp_a", now + Span::seconds(30), now)
        .await
        .unwrap()
        .expect("a free job is claimed");
    assert_eq!(a.id, job.id);
    assert_eq!(a.status, entity::jobs::JobStatus::Running);
    assert!(
        jobs::claim(&app.db, "dsp_b", now + Span::seconds(30), now)
            .await
            .unwrap()
            .is_none(),
        "held: nobody else takes it"
    );
    let progress = |done| Progress {
        position: done,
        total: 2,
        done,
        failed: 0,
        errors: json!([]),
        result: json!({}),
        finished: false,
    };
    assert!(
        jobs::advance(
            &app.db,
            &job.id,
            "dsp_a",
            progress(1),
            now + Span::seconds(30),
            now
        )
        .await
        .unwrap()
    );
    // A's lease runs out (it crashed, or stalled): B takes the job over, and A's late
    // progress is refused.
    let later = now + Span::seconds(31);
    let b = jobs::claim(&app.db, "dsp_b", later + Span::seconds(30), later)
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    assert_eq!(b.done, 1, "B carries on from A's last committed step");
    assert!(
        !jobs::advance(&app.db, &job.id, "dsp_a", progress(2), later, later)
            .await
            .unwrap(),
        "a lost lease writes nothing"
    );
    assert!(
        jobs::advance(&app.db, &job.id, "dsp_b", progress(2), later, later)
            .await
            .unwrap()
    );
    assert_eq!(jobs::find(&app.db, &job.id).await.unwrap().unwrap().done, 2);
}

/// `offboard user delete-batch` makes the job and runs it (no `serve` runs jobs here),
/// drawing its progress; `offboard job watch` reports a finished one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_a_batch_and_watches_it() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Backend::Sqlite,
        &[("OFFBOARD_JOB_WORKER", "false")],
    )
    .await;
    let org = app.create_org("Acme").await;
    let mut users = Vec::new();
    for i in 0..3 {
        let id = app
            .create_user(&org, &user_body(&format!("cli{i}@example.com")))
            .await;
        users.push(app.account_of(&org, &id).await);
    }
    let dir = app.dir.as_ref().expect("SQLite folder");
    let url = format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display());
    let file = dir.path().join("leavers.txt");
    let missing = "usr_01J9NOSUCHUSER000000000000";
    std::fs::write(
        &file,
        format!(
            "# leavers\n{}\n\n{}\n{missing}\n{}\n",
            users[0], users[1], users[2]
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run offboard")
    };
    let path = file.to_str().unwrap();
    let refused = run(&["user", "delete-batch", path]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--confirm"));
    assert_eq!(app.admin_user(&users[0]).await["status"], json!("ACTIVE"));

    let out = run(&[
        "user",
        "delete-batch",
        path,
        "--confirm",
        "--hard-delete-posts",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let job_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(job_id.starts_with("job_"), "{job_id}");
    assert!(stderr.contains("3 done, 1 failed"), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
    for u in &users {
        assert_eq!(app.admin_user(u).await["status"], json!("DELETED"));
    }
    let deleted = app
        .event_payloads(&org)
        .await
        .into_iter()
        .filter(|p| p["type"] == json!("user.deleted"))
        .collect::<Vec<_>>();
    assert_eq!(deleted.len(), 3);
    assert_eq!(
        deleted[0]["data"]["content"]["hard_delete_posts"],
        json!(true)
    );

    let watched = run(&["job", "watch", &job_id]);
    assert!(watched.status.success());
    assert!(String::from_utf8_lossy(&watched.stderr).contains("3 done, 1 failed"));
    assert!(
        !run(&["job", "watch", "job_01J9NOSUCHJOB0000000000000"])
            .status
            .success()
    );
}

db_test!(
    an_organization_deleted_as_a_job_goes_page_by_page_with_its_progress_readable,
    [("OFFBOARD_JOB_WORKER", "false")]
);
async fn an_organization_deleted_as_a_job_goes_page_by_page_with_its_progress_readable(
    app: TestApp,
) {
    use offboard::service::deletion::PAGE;
    use offboard::service::jobs::Runner;
    let org = app.create_org("Big").await;
    let n = 2 * PAGE as usize + 101;
    crate::deletion::seed_members(&app, &org, n).await;
    let path = format!("/organizations/{}", org.id);
    let refused = delete_org(&app, &path, "?async=true", json!({})).await;
    assert_eq!(
        expect_json(refused, 422).await["error"]["code"],
        json!("CONFIRMATION_REQUIRED")
    );
    let bad = delete_org(&app, &path, "?async=maybe", json!({"confirm": true})).await;
    assert_eq!(bad.status(), 422);
    let missing = delete_org(
        &app,
        "/organizations/org_01J9NOSUCHORG0000000000000",
        "?async=true",
        json!({"confirm": true}),
    )
    .await;
    assert_eq!(missing.status(), 404);

    let res = delete_org(&app, &path, "?async=true", json!({"confirm": true})).await;
    let created = expect_json(res, 202).await;
    assert_eq!(created["kind"], json!("organization.delete"));
    assert_eq!(created["total"], json!(n));
    assert_eq!(created["status"], json!("queued"));
    let id = created["id"].as_str().expect("id").to_string();
    let again = delete_org(&app, &path, "?async=true", json!({"confirm": true})).await;
    assert_eq!(
        expect_json(again, 409).await["error"]["code"],
        json!("DELETION_IN_PROGRESS")
    );

    let runner = Runner::new(app.db.clone(), Duration::from_secs(30), Duration::ZERO);
    // First its tokens go: the IdP can add no one while the members are removed.
    runner.run_steps(&id, 1).await.unwrap().expect("claimed");
    assert_eq!(app.get(&org, "/Users").await.status(), 401);
    assert_eq!(job(&app, &id).await["done"], json!(0));
    // Then a page per step, each readable as it lands.
    runner.run_steps(&id, 1).await.unwrap().expect("claimed");
    let halfway = job(&app, &id).await;
    assert_eq!(halfway["done"], json!(PAGE));
    assert_eq!(
        halfway["status"],
        json!("queued"),
        "given back between steps"
    );
    assert_eq!(
        app.admin_send(Method::GET, &path, None).await.status(),
        200,
        "the organization stays until its members are gone"
    );
    let end = runner.run_steps(&id, 10).await.unwrap().expect("claimed");
    assert_eq!(end.status, entity::jobs::JobStatus::Finished);
    let done = job(&app, &id).await;
    assert_eq!(done["done"], json!(n));
    assert_eq!(done["failed"], json!(0));
    assert_eq!(done["result"]["summary"]["memberships_removed"], json!(n));
    assert_eq!(done["result"]["scim_tokens_deleted"], json!(1));
    let last = app.event_payloads(&org).await.pop().expect("event");
    assert_eq!(last["type"], json!("organization.deleted"));
    assert_eq!(last["data"]["memberships_removed"], json!(n));
    assert_eq!(last["data"]["accounts_deleted"], json!(n));
    let types = app.event_types(&org).await;
    assert_eq!(types.iter().filter(|t| *t == "user.deleted").count(), n);
    assert_eq!(app.admin_send(Method::GET, &path, None).await.status(), 404);
}

db_test!(
    an_organization_deleted_meanwhile_ends_its_job_without_a_second_tombstone,
    [("OFFBOARD_JOB_WORKER", "false")]
);
async fn an_organization_deleted_meanwhile_ends_its_job_without_a_second_tombstone(app: TestApp) {
    let org = app.create_org("Acme").await;
    app.create_user(&org, &user_body("one@example.com")).await;
    let path = format!("/organizations/{}", org.id);
    let res = delete_org(&app, &path, "?async=true", json!({"confirm": true})).await;
    let id = expect_json(res, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_delete_confirmed(&path, json!({})).await;
    let runner = offboard::service::jobs::Runner::new(
        app.db.clone(),
        Duration::from_secs(30),
        Duration::ZERO,
    );
    let end = runner.run_steps(&id, 10).await.unwrap().expect("claimed");
    assert_eq!(end.status, entity::jobs::JobStatus::Finished);
    let j = job(&app, &id).await;
    assert_eq!(j["failed"], json!(1));
    assert_eq!(j["errors"][0]["code"], json!("NOT_FOUND"));
    let tombstones = app
        .event_types(&org)
        .await
        .into_iter()
        .filter(|t| t == "organization.deleted")
        .count();
    assert_eq!(tombstones, 1);
}

db_test!(
    a_job_lists_at_most_its_cap_of_errors_and_counts_them_all,
    [("OFFBOARD_JOB_WORKER", "false")]
);
async fn a_job_lists_at_most_its_cap_of_errors_and_counts_them_all(app: TestApp) {
    use offboard::service::jobs::{self, MAX_ERRORS, MAX_FILE_BATCH, Runner};
    let actor = offboard::store::audit::Actor {
        kind: offboard::store::audit::ActorKind::Cli,
        id: "test".into(),
        request_id: None,
        client_address: None,
    };
    let ids: Vec<String> = (0..=MAX_ERRORS)
        .map(|i| format!("usr_missing{i}"))
        .collect();
    let job = jobs::create_users_delete(&app.db, &actor, ids, None, MAX_FILE_BATCH)
        .await
        .unwrap();
    let runner = Runner::new(app.db.clone(), Duration::from_secs(30), Duration::ZERO);
    let end = runner
        .run_steps(&job.id, MAX_ERRORS + 1)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(end.status, entity::jobs::JobStatus::Finished);
    assert_eq!(end.failed as usize, MAX_ERRORS + 1, "every failure counted");
    let listed = end.errors.as_array().expect("errors").len();
    assert_eq!(listed, MAX_ERRORS, "the list stops at its cap");
}
