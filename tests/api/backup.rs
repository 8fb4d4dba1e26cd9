//! Online backups of the SQLite database and restores from them, through the real
//! `offboard backup` / `offboard restore` commands beside a running app.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::Value;

use crate::helpers::{ADMIN_SECRET, Backend, TestApp, spawn_app_with, user_body};

fn db_url(app: &TestApp) -> String {
    let dir = app.dir.as_ref().expect("a SQLite app");
    format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display())
}

/// Runs `offboard <args>` on the database `url`; returns (success, stdout, stderr).
async fn offboard(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
        .args(args)
        .env("OFFBOARD_DATABASE_URL", url)
        .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run offboard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The userNames a database file holds, read on its own connection.
async fn user_names(path: &std::path::Path) -> Vec<String> {
    let db = Database::connect(format!("sqlite://{}?mode=ro", path.display()))
        .await
        .expect("open the copy");
    let ok: String = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(ok, "ok");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT user_name FROM memberships WHERE user_name IS NOT NULL",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serve_writes_holds_every_row_committed_before_it_began() {
    let app = Arc::new(
        spawn_app_with(
            Backend::Sqlite,
            &[
                ("OFFBOARD_RATE_LIMIT_PER_SECOND", "100000"),
                ("OFFBOARD_RATE_LIMIT_BURST", "100000"),
            ],
        )
        .await,
    );
    let org = Arc::new(app.create_org("Acme").await);
    // An IdP creating users without pause, before, during and after the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let committed: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (app, org, stop, committed, failures) = (
            app.clone(),
            org.clone(),
            stop.clone(),
            committed.clone(),
            failures.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("writer{i:05}@example.com");
                let res = app.post(&org, "/Users", &user_body(&name)).await;
                if res.status().as_u16() == 201 {
                    committed.lock().unwrap().push((Instant::now(), name));
                } else {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    let started = Instant::now();
    let (ok, stdout, stderr) = offboard(&db_url(&app), &["backup", copy.to_str().unwrap()]).await;
    let finished = Instant::now();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert_eq!(failures.load(Ordering::SeqCst), 0, "serve kept answering");

    let in_copy = user_names(&copy).await;
    let committed = committed.lock().unwrap().clone();
    let before: Vec<&String> = committed
        .iter()
        .filter(|(at, _)| *at < started)
        .map(|(_, n)| n)
        .collect();
    assert!(!before.is_empty());
    for name in &before {
        assert!(
            in_copy.contains(name),
            "{name} was committed before the backup"
        );
    }
    // Nothing answered well after the backup had finished is in it.
    let after = finished + Duration::from_millis(500);
    for (at, name) in &committed {
        if *at > after {
            assert!(!in_copy.contains(name), "{name} came after the backup");
        }
    }
    assert!(
        committed.iter().any(|(at, _)| *at > after),
        "the writes went on after the backup"
    );

    // Never over an existing file.
    let (ok, _, stderr) = offboard(&db_url(&app), &["backup", copy.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_is_refused_while_serve_runs_and_brings_a_backup_back_otherwise() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let org = app.create_org("Acme").await;
    app.create_user(&org, &user_body("before@example.com"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    let (ok, stdout, stderr) =
        offboard(&db_url(&app), &["backup", copy.to_str().unwrap(), "--json"]).await;
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["rows"]["organizations"], 1);
    assert_eq!(report["integrity"], "ok");
    app.create_user(&org, &user_body("after@example.com")).await;
    // A backup into a folder that does not exist says so, once, and writes nothing.
    let missing = dir.path().join("no-such-folder");
    let (ok, stdout, stderr) = offboard(
        &db_url(&app),
        &["backup", missing.join("x.db").to_str().unwrap()],
    )
    .await;
    assert!(!ok && stdout.is_empty());
    assert_eq!(
        stderr.trim(),
        format!(
            "error: the folder {} does not exist: create it first (mkdir -p {})",
            missing.display(),
            missing.display()
        )
    );
    assert!(!missing.exists());

    // The running app's database is not replaced under it.
    let (ok, _, stderr) = offboard(&db_url(&app), &["restore", copy.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("in use"), "{stderr}");
    let res = app
        .scim_send(
            Method::GET,
            &org,
            "/Users?filter=userName%20eq%20%22after@example.com%22",
            None,
        )
        .await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], 1, "the live database is untouched");

    // Where nothing runs, the backup comes back as it was taken, with a stale WAL of
    // the replaced database gone.
    let target_dir = tempfile::tempdir().unwrap();
    let target = target_dir.path().join("restored.db");
    std::fs::write(&target, b"an older database").unwrap();
    std::fs::write(target_dir.path().join("restored.db-wal"), b"stale").unwrap();
    let target_url = format!("sqlite://{}?mode=rwc", target.display());
    let (ok, stdout, stderr) = offboard(&target_url, &["restore", copy.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("database restored"), "{stdout}");
    assert!(!target_dir.path().join("restored.db-wal").exists());
    let names = user_names(&target).await;
    assert!(names.contains(&"before@example.com".to_string()));
    assert!(!names.contains(&"after@example.com".to_string()));
    // And serves: migrations find it current.
    let (ok, _, stderr) = offboard(&target_url, &["migrate"]).await;
    assert!(ok, "{stderr}");

    // What is not a sound offboard database is refused and replaces nothing.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    let (ok, _, stderr) = offboard(&target_url, &["restore", junk.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("not a sound offboard database"), "{stderr}");
    assert!(
        user_names(&target)
            .await
            .contains(&"before@example.com".to_string())
    );
    let (ok, _, stderr) = offboard(&target_url, &["restore", "/nonexistent/backup.db"]).await;
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");

    // On PostgreSQL: the database's own tools.
    let (ok, _, stderr) = offboard(
        "postgres://postgres@127.0.0.1:5432/test",
        &["backup", dir.path().join("pg.db").to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("pg_dump"), "{stderr}");
}

#[test]
fn serve_refuses_to_start_while_a_restore_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("offboard.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    // The database being restored over exists (a command refuses a missing one first).
    std::fs::write(&db, b"").unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join("offboard.db.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let err = offboard::backup::InUse::claim(&url).unwrap_err();
    assert!(err.to_string().contains("restore"), "{err}");
    // The command line's other commands wait for it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
        .args(["org", "create", "During a restore"])
        .env("OFFBOARD_DATABASE_URL", &url)
        .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a restore"), "{stderr}");
    lock.unlock().unwrap();
    let held = offboard::backup::InUse::claim(&url).unwrap();
    assert!(held.is_some());
    // Two processes may serve one file; a restore may not.
    assert!(offboard::backup::InUse::claim(&url).unwrap().is_some());
}
