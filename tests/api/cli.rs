//! The `offboard` command line as a process: what it prints, what it refuses, and that
//! what it creates works.

use std::process::Output;

use serde_json::Value;

use crate::helpers::ADMIN_SECRET;

struct Cli {
    db_url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        Cli {
            db_url: format!("sqlite://{}/cli.db?mode=rwc", dir.path().display()),
            _dir: Some(dir),
        }
    }

    /// The command line on a running app's database.
    fn on(app: &crate::helpers::TestApp) -> Cli {
        Cli {
            db_url: app.database_url.clone(),
            _dir: None,
        }
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"));
        cmd.args(args)
            .env("OFFBOARD_DATABASE_URL", &self.db_url)
            .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
            .env("RUST_LOG", "warn")
            .env_remove("OFFBOARD_WEBHOOK_ALLOW_PRIVATE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Runs a command that must succeed; returns its standard output, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, &[])
    }

    fn ok_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run_with(args, env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Runs a command that must fail; returns its standard error.
    fn fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run_with(args, env);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("Stack backtrace"), "{err}");
        err
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_prints_what_it_made_and_refuses_what_it_cannot() {
    let cli = Cli::new();
    assert!(cli.run_with(&["migrate"], &[]).status.success());

    // org create: the id alone, or the whole object.
    let org = cli.ok(&["org", "create", "Acme", "--deactivated-retention", "30d"]);
    assert!(
        org.starts_with("org_") && !org.contains(char::is_whitespace),
        "{org}"
    );
    let json: Value = serde_json::from_str(&cli.ok(&["org", "create", "Other", "--json"])).unwrap();
    assert!(json["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(json["name"], "Other");
    cli.fails(&["org", "create", "  "], &[]);
    cli.fails(
        &["org", "create", "X", "--deactivated-retention", "soon"],
        &[],
    );

    // token create: the token alone; it authenticates as the organization.
    let token = cli.ok(&["token", "create", &org]);
    assert!(token.starts_with("scim_"), "{token}");
    let db = offboard::db::connect(&cli.db_url, 1).await.unwrap();
    let row = offboard::store::tokens::find_unrevoked(&db, &token)
        .await
        .unwrap()
        .expect("the printed token is live");
    assert_eq!(row.organization_id.as_str(), org);
    let json: Value = serde_json::from_str(&cli.ok(&["token", "create", &org, "--json"])).unwrap();
    assert!(json["token"].as_str().unwrap().starts_with("scim_"));
    assert!(
        cli.fails(&["token", "create", "org_missing"], &[])
            .contains("org_missing")
    );
    // token create with rules; token rotate: the new token alone, the old one kept for
    // the overlap; bad rules refused.
    let bound: Value = serde_json::from_str(&cli.ok(&[
        "token",
        "create",
        &org,
        "--ttl",
        "90d",
        "--allow",
        "203.0.113.0/24",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        bound["allowed_networks"],
        serde_json::json!(["203.0.113.0/24"])
    );
    assert!(bound["expires_at"].is_string());
    cli.fails(&["token", "create", &org, "--allow", "office"], &[]);
    cli.fails(&["token", "create", &org, "--ttl", "soon"], &[]);
    let rotated = cli.ok(&["token", "rotate", &row.id, "--overlap", "1h"]);
    assert!(
        rotated.starts_with("scim_") && rotated != token,
        "{rotated}"
    );
    let old = offboard::store::tokens::find_unrevoked(&db, &token)
        .await
        .unwrap()
        .expect("the old token works during the overlap");
    assert!(old.expires_at.is_some() && old.replaced_by.is_some());
    cli.fails(&["token", "rotate", &row.id], &[]);
    cli.fails(&["token", "rotate", &row.id.replace("tok_", "tok_x")], &[]);

    // org domain add / list / remove.
    assert_eq!(
        cli.ok(&["org", "domain", "add", &org, "Acme.COM"]),
        "acme.com"
    );
    assert_eq!(cli.ok(&["org", "domain", "list", &org]), "acme.com");
    cli.fails(&["org", "domain", "add", &org, "https://acme.com"], &[]);
    cli.fails(&["org", "domain", "add", "org_missing", "acme.com"], &[]);
    assert_eq!(cli.ok(&["org", "domain", "remove", &org, "acme.com"]), "");
    assert_eq!(cli.ok(&["org", "domain", "list", &org]), "");

    // webhook add: refused on a loopback address unless private targets are allowed.
    let err = cli.fails(&["webhook", "add", "http://127.0.0.1:9/hook"], &[]);
    assert!(err.contains("OFFBOARD_WEBHOOK_ALLOW_PRIVATE"), "{err}");
    // webhook add: the id and the secret, the two things the next steps need.
    let added = cli.ok_with(
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/hook",
            "--event",
            "user.deleted",
            "--org",
            &org,
        ],
        &[("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")],
    );
    let (endpoint, secret) = added.split_once(' ').expect("ep_… whsec_…");
    assert!(endpoint.starts_with("ep_"), "{added}");
    assert!(
        secret.starts_with("whsec_") && !secret.contains(char::is_whitespace),
        "{added}"
    );
    cli.fails(
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/hook",
            "--event",
            "no.such",
        ],
        &[("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")],
    );

    // purge: a report, in words or JSON.
    let report = cli.ok(&["purge"]);
    assert!(report.contains("accounts erased: 0"), "{report}");
    let json: Value = serde_json::from_str(&cli.ok(&["purge", "--json"])).unwrap();
    assert_eq!(json["accounts_erased"], 0);
    assert_eq!(json["events_pruned"], 0);

    // admin-token: a JWT the admin API accepts; a lifetime over the maximum is refused.
    let jwt = cli.ok(&["admin-token", "--ttl", "10m", "--subject", "ops"]);
    let settings = offboard::configuration::Settings::from_lookup(|k| {
        (k == "OFFBOARD_ADMIN_JWT_SECRET").then(|| ADMIN_SECRET.to_string())
    })
    .unwrap();
    let claims = offboard::auth::AdminVerifier::from_settings(&settings)
        .unwrap()
        .verify(&jwt)
        .expect("the printed token verifies");
    assert_eq!(claims.sub, "ops");
    assert!(
        cli.fails(&["admin-token", "--ttl", "48h"], &[])
            .contains("OFFBOARD_ADMIN_JWT_MAX_TTL")
    );
    cli.fails(&["admin-token"], &[("OFFBOARD_ADMIN_JWT_SECRET", "")]);
    // console-link: the console's address with a token the admin API accepts in its
    // fragment (never in the path or query, which a server or proxy would log).
    let link = cli.ok_with(
        &["console-link", "--subject", "ops"],
        &[("OFFBOARD_LISTEN", "127.0.0.1:9999")],
    );
    let (page, jwt) = link
        .split_once("#token=")
        .unwrap_or_else(|| panic!("{link}"));
    assert_eq!(page, "http://127.0.0.1:9999/console");
    let claims = offboard::auth::AdminVerifier::from_settings(&settings)
        .unwrap()
        .verify(jwt)
        .expect("the link's token verifies");
    assert_eq!(claims.sub, "ops");
    let link = cli.ok(&[
        "console-link",
        "--base-url",
        "https://offboard.example.internal/",
    ]);
    assert!(link.starts_with("https://offboard.example.internal/console#token="));
    assert!(
        cli.fails(&["console-link", "--ttl", "48h"], &[])
            .contains("OFFBOARD_ADMIN_JWT_MAX_TTL")
    );
    // A short secret refuses every command, with a clear message.
    let err = cli.fails(
        &["org", "create", "Y"],
        &[("OFFBOARD_ADMIN_JWT_SECRET", "short")],
    );
    assert!(err.contains("at least 32"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_tasks_list_and_revoke_from_the_command_line() {
    let cli = Cli::new();
    assert!(cli.run_with(&["migrate"], &[]).status.success());
    let acme = cli.ok(&["org", "create", "Acme"]);
    let globex = cli.ok(&["org", "create", "Globex"]);

    // org list: one line per organization, id and name first; --name narrows it.
    let lines: Vec<Vec<String>> = cli
        .ok(&["org", "list"])
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let names: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l[0].as_str(), l[1].as_str()))
        .collect();
    assert_eq!(
        names,
        [(acme.as_str(), "Acme"), (globex.as_str(), "Globex")]
    );
    assert_eq!(
        cli.ok(&["org", "list", "--name", "glob"])
            .split('\t')
            .next(),
        Some(globex.as_str())
    );
    let json: Value = serde_json::from_str(&cli.ok(&["org", "list", "--json"])).unwrap();
    assert_eq!(json["data"][1]["name"], "Globex");

    // token list: ids and times, never the token; revoke ends it at once.
    let token = cli.ok(&["token", "create", &acme]);
    let listed = cli.ok(&["token", "list", &acme]);
    assert!(!listed.contains(&token), "a listing shows a token");
    let token_id = listed.split('\t').next().unwrap().to_string();
    assert!(token_id.starts_with("tok_"), "{listed}");
    assert_eq!(listed.split('\t').nth(2), Some("-"), "never used: {listed}");
    assert_eq!(cli.ok(&["token", "list", &globex]), "");
    assert!(
        cli.fails(&["token", "list", "org_missing"], &[])
            .contains("org_missing")
    );
    assert_eq!(cli.ok(&["token", "revoke", &token_id]), "");
    let db = offboard::db::connect(&cli.db_url, 1).await.unwrap();
    assert!(
        offboard::store::tokens::find_unrevoked(&db, &token)
            .await
            .unwrap()
            .is_none(),
        "a revoked token still authenticates"
    );
    assert_eq!(cli.ok(&["token", "list", &acme]), "");
    assert!(
        cli.fails(&["token", "revoke", &token_id], &[])
            .contains("not found")
    );

    // webhook list and delete.
    let private = [("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true")];
    let added = cli.ok_with(
        &["webhook", "add", "http://127.0.0.1:9/hook", "--org", &acme],
        &private,
    );
    let (endpoint, secret) = added.split_once(' ').unwrap();
    let listed = cli.ok(&["webhook", "list"]);
    let columns: Vec<&str> = listed.split('\t').collect();
    assert_eq!(
        columns,
        [
            endpoint,
            "http://127.0.0.1:9/hook",
            "enabled",
            acme.as_str(),
            "*"
        ]
    );
    assert!(!listed.contains(secret), "a listing shows a secret");
    let json: Value = serde_json::from_str(&cli.ok(&["webhook", "list", "--json"])).unwrap();
    assert_eq!(json["data"][0]["id"], endpoint);
    assert!(json["data"][0].get("secret").is_none());
    assert_eq!(cli.ok(&["webhook", "delete", endpoint]), "");
    assert_eq!(cli.ok(&["webhook", "list"]), "");
    assert!(
        cli.fails(&["webhook", "delete", endpoint], &[])
            .contains(endpoint)
    );
}

/// A command run from a folder where `serve` never ran, with the default (relative)
/// database path, refuses and says where it looked, instead of working on a new, empty
/// database of its own; `migrate` and `serve` make one.
#[test]
fn a_command_run_where_there_is_no_database_refuses_and_makes_none() {
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .current_dir(elsewhere.path())
            .env_remove("OFFBOARD_DATABASE_URL")
            .env("OFFBOARD_ADMIN_JWT_SECRET", ADMIN_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    for args in [
        &["org", "create", "Acme"][..],
        &["org", "list"],
        &["token", "create", "org_x"],
        &["webhook", "list"],
        &["purge"],
        &["backup", "copy.db"],
    ] {
        let out = run(args);
        assert!(
            !out.status.success(),
            "{args:?} succeeded without a database"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        let expected = elsewhere.path().canonicalize().unwrap().join("offboard.db");
        assert!(
            err.contains("there is no offboard database at")
                && (err.contains(&expected.display().to_string())
                    || err.contains(&elsewhere.path().join("offboard.db").display().to_string())),
            "{args:?}: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(elsewhere.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // migrate makes it, and then the same command works there.
    assert!(run(&["migrate"]).status.success());
    assert!(elsewhere.path().join("offboard.db").is_file());
    let out = run(&["org", "create", "Acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database URL whose folder does not exist is refused with the folder named, by
/// `serve` and `migrate` too (they make the file, not the folder).
#[test]
fn a_database_in_a_missing_folder_is_refused_with_the_folder_named() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("no-such-folder");
    let url = format!("sqlite://{}/offboard.db?mode=rwc", folder.display());
    for args in [&["migrate"][..], &["org", "list"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "the folder {} for the database does not exist",
                folder.display()
            )),
            "{args:?}: {err}"
        );
        assert!(!folder.exists());
    }
}

/// On PostgreSQL, `migrate` (as `serve`) creates a database that does not exist, where
/// the role may; other commands name it and say what creates it; a role that may not
/// create databases is told what to have run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(offboard_postgres_tests),
    ignore = "PostgreSQL: set OFFBOARD_TEST_DATABASE_URL to run it"
)]
async fn a_missing_postgres_database_is_created_by_migrate_and_named_by_the_rest() {
    use sea_orm::ConnectionTrait;
    let base = std::env::var("OFFBOARD_TEST_DATABASE_URL").unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let name = format!("offboard_test_{suffix}");
    let url = format!("{server}/{name}");
    let run = |url: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .env("OFFBOARD_DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let admin = sea_orm::Database::connect(&base).await.unwrap();
    let exists = async |name: &str| {
        admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
            ))
            .await
            .unwrap()
            .is_some()
    };

    let (ok, err) = run(&url, &["org", "list"]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the PostgreSQL database \"{name}\" does not exist: `offboard migrate`"
        )),
        "{err}"
    );
    assert!(!exists(&name).await, "a command other than migrate made it");

    let (ok, err) = run(&url, &["migrate"]);
    assert!(ok, "{err}");
    assert!(exists(&name).await);
    let (ok, err) = run(&url, &["org", "create", "Acme"]);
    assert!(ok, "{err}");
    // Running it again finds it there.
    assert!(run(&url, &["migrate"]).0);

    // A role that may not create databases is told what to have run.
    let role = format!("offboard_test_role_{suffix}");
    admin
        .execute_unprepared(&format!("CREATE ROLE \"{role}\" LOGIN NOCREATEDB"))
        .await
        .unwrap();
    let other = format!("offboard_test_{suffix}_b");
    let host = server.rsplit_once('@').map_or(server, |(_, h)| h);
    let as_role = format!("postgres://{role}@{host}/{other}");
    let (ok, err) = run(&as_role, &["migrate"]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the PostgreSQL database \"{other}\" does not exist and this role could not create it"
        )) && err.contains("createdb"),
        "{err}"
    );
    assert!(!exists(&other).await);

    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP ROLE \"{role}\""))
        .await
        .unwrap();
}

/// `serve` writing its log to a file (not a terminal) writes plain text, saying where its
/// database is; a second `serve` on the same address stops at once and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_plain_text_off_a_terminal_and_names_a_taken_address() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("offboard.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let port = crate::processes::free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let serve = |stderr: Stdio| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .arg("serve")
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("OFFBOARD_LISTEN", &listen)
            .env("OFFBOARD_METRICS_LISTEN", "off")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut first = serve(Stdio::from(log));
    offboard::install_crypto_provider();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client
        .get(format!("http://{listen}/readyz"))
        .send()
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let second = serve(Stdio::piped()).wait_with_output().await.unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("cannot listen on {listen} (OFFBOARD_LISTEN)"))
            && err.contains("another offboard serve?"),
        "{err}"
    );

    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(text.contains("offboard listening"), "{text}");
    assert!(
        text.contains(&db.display().to_string()),
        "the log names the database file: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
}

/// `org members` names each member by the account id sessions and the admin API take
/// and by the SCIM id the IdP holds, so an operator (or the README's first steps) can go
/// from one to the other.
async fn members_are_listed_with_both_ids(app: crate::helpers::TestApp) {
    let cli = Cli::on(&app);
    let org = app.create_org("Acme").await;
    let ada = app
        .create_user(&org, &crate::helpers::user_body("ada@example.com"))
        .await;
    let bob = app
        .create_user(&org, &crate::helpers::user_body("bob@example.com"))
        .await;
    assert_eq!(
        app.delete(&org, &format!("/Users/{bob}")).await.status(),
        204
    );
    let account = app.account_of(&org, &ada).await;

    let line = cli.ok(&["org", "members", &org.id]);
    assert_eq!(
        line.split('\t').collect::<Vec<_>>(),
        [account.as_str(), ada.as_str(), "ada@example.com", "ACTIVE"]
    );
    assert_eq!(cli.ok(&["org", "members", &org.id, "--q", "ADA"]), line);
    assert_eq!(cli.ok(&["org", "members", &org.id, "--q", "nobody"]), "");
    let all = cli.ok(&["org", "members", &org.id, "--status", "all"]);
    assert_eq!(all.lines().count(), 2, "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("usr_") && l.ends_with("\tremoved")),
        "{all}"
    );
    let json: Value =
        serde_json::from_str(&cli.ok(&["org", "members", &org.id, "--json"])).unwrap();
    assert_eq!(json["data"][0]["user_id"], account.as_str());
    assert_eq!(json["data"][0]["scim_id"], ada.as_str());
    assert!(
        cli.fails(&["org", "members", &org.id, "--status", "gone"], &[])
            .contains("ACTIVE, INACTIVE, removed or all")
    );
    assert!(
        cli.fails(&["org", "members", "org_missing"], &[])
            .contains("org_missing")
    );
}
crate::db_test!(members_are_listed_with_both_ids);
