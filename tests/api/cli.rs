//! The `offboard` command line as a process: what it prints, what it refuses, and that
//! what it creates works.

use std::process::Output;

use serde_json::Value;

use crate::helpers::ADMIN_SECRET;

struct Cli {
    db_url: String,
    _dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        Cli {
            db_url: format!("sqlite://{}/cli.db?mode=rwc", dir.path().display()),
            _dir: dir,
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
    let row = offboard::store::tokens::find_live(&db, &token)
        .await
        .unwrap()
        .expect("the printed token is live");
    assert_eq!(row.organization_id, org);
    let json: Value = serde_json::from_str(&cli.ok(&["token", "create", &org, "--json"])).unwrap();
    assert!(json["token"].as_str().unwrap().starts_with("scim_"));
    assert!(
        cli.fails(&["token", "create", "org_missing"], &[])
            .contains("org_missing")
    );

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
    let secret = cli.ok_with(
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
    assert!(secret.starts_with("whsec_"), "{secret}");
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
