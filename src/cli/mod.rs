//! The `offboard` command line: one file per command group, each an `exec` that returns
//! what it prints. Printing, `--json`, the configuration and the database are handled
//! here once.
//!
//! Every command reads the same configuration as `serve`. Only `serve`, `migrate` and
//! `restore` may make a database; every other command works on the one `serve` made and
//! says where it looked when there is none (see `db::Opening`).

mod admin;
mod api_key;
mod database;
mod guard;
mod job;
mod org;
mod token;
mod user;
mod webhook;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use offboard::configuration::Settings;
use offboard::db::Opening;
use offboard::store::audit::Actor;
use sea_orm::DatabaseConnection;
use serde_json::Value;

#[derive(Parser)]
#[command(name = "offboard", version, about = "SCIM 2.0 deprovisioning service")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print JSON for scripts (the whole object) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the SCIM and admin APIs (the default).
    Serve,
    /// Apply pending database migrations (making the database if it does not exist) and
    /// exit.
    Migrate,
    /// Write a consistent copy of the live SQLite database to PATH (which must not
    /// exist) while `serve` keeps running, then check the copy. On PostgreSQL it says to
    /// use pg_dump and fails.
    Backup { path: std::path::PathBuf },
    /// Replace the SQLite database with the backup at PATH, once it checks out; refused
    /// while an offboard process uses the database.
    Restore { path: std::path::PathBuf },
    /// Check the configuration, the database, every enabled webhook endpoint, SCIM
    /// tokens, dead deliveries and held deprovisionings; one line per check (ok, warn,
    /// fail) and a failing exit status when any check fails.
    Doctor {
        /// Also send each enabled endpoint the signed test event.
        #[arg(long)]
        send_test: bool,
    },
    /// Ask the `serve` this configuration describes whether it is ready (`/readyz` on
    /// OFFBOARD_LISTEN); exit 0 when it is, 1 when it is not or does not answer. For
    /// container health checks: no shell or curl needed.
    Healthcheck,
    /// Erase what the grace period kept and apply retention policies, once, then exit
    /// (`serve` also does this every OFFBOARD_PURGE_INTERVAL).
    Purge,
    /// Manage organizations.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Manage SCIM bearer tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Manage applications' API keys (the event feed at /v1/events).
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Review what the deprovisioning guard holds for an organization.
    #[command(subcommand)]
    Guard(guard::GuardCommand),
    /// What offboard holds about a user.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Long operations (batch deletions).
    #[command(subcommand)]
    Job(job::JobCommand),
    /// Print an admin JWT signed with OFFBOARD_ADMIN_JWT_SECRET.
    AdminToken(admin::TokenArgs),
    /// Print a link that opens the operator console signed in: an admin JWT in the URL's
    /// fragment, which the browser keeps in the tab and never sends to a server.
    ConsoleLink(admin::ConsoleLinkArgs),
}

/// What every command is given: the configuration (or why it did not load: only the
/// doctor goes on without it) and how to print.
pub struct Context {
    settings: anyhow::Result<Settings>,
    json: bool,
}

impl Context {
    pub fn settings(&self) -> anyhow::Result<&Settings> {
        self.settings.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    /// The database `serve` made, migrated; a database that does not exist is an error
    /// (`db::Opening::MustExist`).
    pub async fn db(&self) -> anyhow::Result<DatabaseConnection> {
        connect(self.settings()?, Opening::MustExist).await
    }

    /// Prints at once (for commands that go on afterwards, like a job they follow).
    pub fn print(&self, out: &Output) {
        if self.json {
            if !out.json.is_null() {
                println!("{}", out.json);
            }
        } else if !out.text.is_empty() {
            println!("{}", out.text);
        }
    }
}

/// What a command prints on standard output: text for people, JSON with `--json`; and
/// whether it failed after printing (the doctor, a webhook test).
#[derive(Default)]
pub struct Output {
    text: String,
    json: Value,
    failure: Option<String>,
}

impl Output {
    /// `json` is what `--json` prints: a view of `offboard::views`, as the admin API
    /// answers it, or a value of the command's own.
    pub fn new(text: impl Into<String>, json: impl serde::Serialize) -> Output {
        Output {
            text: text.into(),
            // Views serialize to JSON without fail (string keys, no custom failures).
            json: serde_json::to_value(json).unwrap_or_default(),
            failure: None,
        }
    }

    /// Nothing on standard output (the command's success is its exit status).
    pub fn nothing() -> Output {
        Output::default()
    }

    /// A listing: one line per row (tab-separated columns), `{"data": [...]}` as JSON.
    pub fn rows<T: serde::Serialize>(rows: impl IntoIterator<Item = (Vec<String>, T)>) -> Output {
        let (lines, data): (Vec<String>, Vec<T>) = rows
            .into_iter()
            .map(|(columns, json)| (columns.join("\t"), json))
            .unzip();
        Output::new(lines.join("\n"), offboard::views::List::of(data))
    }

    /// The same text and JSON, then a failing exit status with `why`.
    pub fn failed(mut self, why: impl Into<String>) -> Output {
        self.failure = Some(why.into());
        self
    }
}

/// Every row of a listing paged by id: `page(after)` answers up to `size` rows after the
/// one whose id is `after`; a page that is not full is the last.
pub async fn every_page<T>(
    size: u64,
    id: impl Fn(&T) -> String,
    mut page: impl AsyncFnMut(Option<String>) -> anyhow::Result<Vec<T>>,
) -> anyhow::Result<Vec<T>> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let next = page(after).await?;
        let full = next.len() as u64 == size;
        after = next.last().map(&id);
        rows.extend(next);
        if !full {
            return Ok(rows);
        }
    }
}

/// A column for an optional value: `-` when absent.
pub fn or_dash(v: Option<impl ToString>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Who the audit log says acted: the command line.
pub fn actor() -> Actor {
    Actor {
        kind: offboard::store::audit::ActorKind::Cli,
        id: "cli".into(),
        request_id: None,
        client_address: None,
    }
}

/// Held by a command for as long as the process runs: no restore replaces the SQLite
/// file under it (and it refuses to start during one).
static IN_USE: std::sync::OnceLock<Option<offboard::backup::InUse>> = std::sync::OnceLock::new();

/// Opens and migrates the database, holding it against a restore for the process's life.
async fn connect(settings: &Settings, opening: Opening) -> anyhow::Result<DatabaseConnection> {
    offboard::db::preflight(&settings.database_url, opening)?;
    if IN_USE.get().is_none() {
        let claim = offboard::backup::InUse::claim(&settings.database_url)?;
        let _ = IN_USE.set(claim);
    }
    let db = offboard::db::open(
        &settings.database_url,
        2,
        offboard::db::DEFAULT_ACQUIRE_TIMEOUT,
        opening,
    )
    .await
    .context("cannot open the database")?;
    offboard::db::migrate(&db)
        .await
        .context("migrations failed")?;
    Ok(db)
}

/// Runs the command line; a failed command says why on one line (with its causes), never
/// with a backtrace.
pub async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    offboard::install_crypto_provider();
    let settings = Settings::from_env();
    offboard::telemetry::init(
        settings
            .as_ref()
            .map_or(Default::default(), |s| s.log_format),
    );
    let ctx = Context {
        settings,
        json: cli.json,
    };
    let out = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => database::serve(&ctx).await?,
        Command::Migrate => database::migrate(&ctx).await?,
        Command::Backup { path } => database::backup(&ctx, &path).await?,
        Command::Restore { path } => database::restore(&ctx, &path).await?,
        Command::Doctor { send_test } => database::doctor(&ctx, send_test).await,
        Command::Purge => database::purge(&ctx).await?,
        Command::Healthcheck => database::healthcheck(&ctx).await?,
        Command::Org(c) => c.exec(&ctx).await?,
        Command::Token(c) => c.exec(&ctx).await?,
        Command::Webhook(c) => c.exec(&ctx).await?,
        Command::ApiKey(c) => c.exec(&ctx).await?,
        Command::Guard(c) => c.exec(&ctx).await?,
        Command::User(c) => c.exec(&ctx).await?,
        Command::Job(c) => c.exec(&ctx).await?,
        Command::AdminToken(a) => a.exec(&ctx)?,
        Command::ConsoleLink(a) => a.exec(&ctx)?,
    };
    ctx.print(&out);
    match out.failure {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}
