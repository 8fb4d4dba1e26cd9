//! The `offboard` command line.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use offboard::configuration::{Settings, parse_duration};
use offboard::domain::guard::GuardSettings;
use offboard::domain::organization::{OrganizationName, retention_secs};
use offboard::routes::admin::guard::guard_json;
use offboard::routes::admin::organizations::organization_json;
use offboard::service::admin;
use offboard::startup::Application;
use offboard::store::audit::Actor;
use serde_json::json;

#[derive(Parser)]
#[command(name = "offboard", version, about = "SCIM 2.0 deprovisioning service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the SCIM and admin APIs (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the live SQLite database to PATH (which must not
    /// exist) while `serve` keeps running, then check the copy. On PostgreSQL it says to
    /// use pg_dump and fails.
    Backup {
        path: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration, the database, every enabled webhook endpoint, SCIM
    /// tokens, dead deliveries and held deprovisionings; one line per check (ok, warn,
    /// fail) and a failing exit status when any check fails.
    Doctor {
        /// Also send each enabled endpoint the signed test event.
        #[arg(long)]
        send_test: bool,
        #[arg(long)]
        json: bool,
    },
    /// Replace the SQLite database with the backup at PATH, once it checks out; refused
    /// while an offboard process uses the database.
    Restore {
        path: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage SCIM bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Long operations (batch deletions).
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Manage applications' API keys (the event feed at /v1/events).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Review what the deprovisioning guard holds for an organization.
    Guard {
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// What offboard holds about a user.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage webhook endpoints.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Erase what the grace period kept and apply retention policies, once, then exit
    /// (`serve` also does this every OFFBOARD_PURGE_INTERVAL).
    Purge {
        #[arg(long)]
        json: bool,
    },
    /// Print an admin JWT signed with OFFBOARD_ADMIN_JWT_SECRET.
    AdminToken {
        /// How long the token is valid.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// The JWT subject, recorded in the audit log.
        #[arg(long, default_value = "cli")]
        subject: String,
    },
    /// Print a link that opens the operator console signed in: an admin JWT in the URL's
    /// fragment, which the browser keeps in the tab and never sends to a server.
    ConsoleLink {
        /// How long the token is valid.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// The JWT subject, recorded in the audit log.
        #[arg(long, default_value = "console")]
        subject: String,
        /// The address the browser reaches offboard at (default: http:// and
        /// OFFBOARD_LISTEN).
        #[arg(long)]
        base_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and print its id.
    Create {
        name: String,
        /// Remove memberships that stay INACTIVE this long (e.g. 30d).
        #[arg(long)]
        deactivated_retention: Option<String>,
        /// What the deprovisioning guard does when it trips: hold (the default),
        /// dry_run or off.
        #[arg(long)]
        guard_mode: Option<String>,
        /// The guard trips above this many SCIM deprovisionings within the window…
        #[arg(long)]
        guard_max_count: Option<u64>,
        /// …that are also above this share (percent) of the active members.
        #[arg(long)]
        guard_max_percent: Option<u64>,
        /// The guard's window (e.g. 1h).
        #[arg(long)]
        guard_window: Option<String>,
        /// Print the whole object as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the email domains verified for an organization (account linking).
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
}

#[derive(Subcommand)]
enum DomainCommand {
    /// Verify a domain for an organization: its SCIM users with an email userName in it
    /// share one account with other organizations that verified it.
    Add {
        org_id: String,
        domain: String,
        #[arg(long)]
        json: bool,
    },
    /// List the organization's verified domains, one per line.
    List {
        org_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a verification (accounts already linked stay linked).
    Remove { org_id: String, domain: String },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Add an endpoint and print its signing secret (shown only once).
    Add {
        url: String,
        /// Only these event types (repeatable); all when absent.
        #[arg(long = "event")]
        events: Vec<String>,
        /// Only this organization's events; all organizations when absent.
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Send a signed webhook.test event to the endpoint now and print the receiver's
    /// status and the first bytes of its answer; fails when it did not answer 2xx.
    Test {
        endpoint_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Print everything offboard holds about the user as one JSON document (audited;
    /// until the purge erases the data).
    Export { user_id: String },
    /// Delete the users named in FILE (one id per line; `-` reads standard input) as one
    /// job, run here (or by a `serve` that takes it), with a progress bar; prints the
    /// job id first.
    DeleteBatch {
        file: String,
        /// Required: deleting users cannot be undone after the grace period.
        #[arg(long)]
        confirm: bool,
        #[arg(long)]
        delete_all: bool,
        #[arg(long)]
        mark_messages_deleted: bool,
        #[arg(long)]
        hard_delete_posts: bool,
        #[arg(long)]
        hard_delete_comments: bool,
    },
}

#[derive(Subcommand)]
enum JobCommand {
    /// Follow a job's progress until it finishes.
    Watch { job_id: String },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it (shown only once).
    Create {
        /// What the key is for (e.g. billing-app).
        #[arg(long)]
        name: String,
        /// A scope (events:read); repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Limit the key to one organization.
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Delete a key: the application using it is refused at once.
    Delete { id: String },
}

#[derive(Subcommand)]
enum GuardCommand {
    /// List the held deprovisionings, oldest first.
    List {
        org_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Apply held deprovisionings in arrival order (all, or those given with --id).
    Approve {
        org_id: String,
        /// A held action's id; repeat for several.
        #[arg(long = "id")]
        ids: Vec<String>,
    },
    /// Discard held deprovisionings (all, or those given with --id).
    Reject {
        org_id: String,
        #[arg(long = "id")]
        ids: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a SCIM token for an organization and print it (shown only once).
    Create {
        org_id: String,
        #[arg(long)]
        json: bool,
    },
}

fn cli_actor() -> Actor {
    Actor {
        kind: "cli",
        id: "cli".into(),
        request_id: None,
    }
}

/// Held by a command for as long as the process runs: no restore replaces the SQLite
/// file under it (and it refuses to start during one).
static IN_USE: std::sync::OnceLock<Option<offboard::backup::InUse>> = std::sync::OnceLock::new();

async fn connect(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    if IN_USE.get().is_none() {
        let claim = offboard::backup::InUse::claim(&settings.database_url)?;
        let _ = IN_USE.set(claim);
    }
    let db = offboard::db::connect(&settings.database_url, 2)
        .await
        .context("cannot connect to the database")?;
    offboard::db::migrate(&db)
        .await
        .context("migrations failed")?;
    Ok(db)
}

/// Runs the job here (unless a `serve` already holds it) while drawing its progress; on
/// Ctrl-C the current step finishes and the job is left for another process.
async fn run_and_watch(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    job_id: &str,
) -> anyhow::Result<()> {
    let runner = offboard::service::jobs::Runner::new(
        db.clone(),
        settings.job_lease,
        settings.deletion_grace,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let id = job_id.to_string();
    let mut work = tokio::spawn(async move { runner.run_job(&id, &stopped).await });
    let watch = watch_job(db, job_id);
    tokio::pin!(watch);
    let mut running = true;
    loop {
        tokio::select! {
            r = &mut watch => return r,
            w = &mut work, if running => {
                running = false;
                match w {
                    // Finished here, or held by a serve: the watch sees it through.
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => bail!("job {job_id}: {e}"),
                    Err(e) => bail!("job {job_id}: {e}"),
                }
            }
            _ = tokio::signal::ctrl_c() => {
                let _ = stop.send(true);
                if running {
                    let _ = work.await;
                }
                bail!("stopped: the job {job_id} carries on in any serve, or with `offboard job watch`");
            }
        }
    }
}

/// Draws the job's progress on standard error until it finishes, then prints its
/// outcome (and the ids it could not delete).
async fn watch_job(db: &sea_orm::DatabaseConnection, job_id: &str) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    loop {
        let job = offboard::service::jobs::get(db, job_id)
            .await
            .with_context(|| format!("job {job_id}"))?;
        bar.set_length(u64::try_from(job.total).unwrap_or(0));
        bar.set_position(u64::try_from(job.done + job.failed).unwrap_or(0));
        bar.set_message(format!("{} failed", job.failed));
        if job.status == offboard::store::jobs::FINISHED {
            bar.finish();
            eprintln!("{job_id}: {} done, {} failed", job.done, job.failed);
            if let Some(errors) = job.errors.as_array() {
                for e in errors {
                    eprintln!(
                        "  {} {}",
                        e["user_id"].as_str().unwrap_or("?"),
                        e["code"].as_str().unwrap_or("?")
                    );
                }
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn domain_command(settings: &Settings, command: DomainCommand) -> anyhow::Result<()> {
    use offboard::domain::EmailDomain;
    use offboard::service::domains;
    let parse = |raw: &str| EmailDomain::parse(raw).map_err(|e| anyhow::anyhow!("'{raw}': {e}"));
    match command {
        DomainCommand::Add {
            org_id,
            domain,
            json,
        } => {
            let domain = parse(&domain)?;
            let db = connect(settings).await?;
            let v = domains::verify(&db, &cli_actor(), &org_id, &domain).await?;
            if json {
                let mut out = domains::domain_json(&v.domain);
                out["accounts_linked"] = json!(v.accounts_linked);
                println!("{out}");
            } else {
                println!("{}", v.domain.domain);
            }
        }
        DomainCommand::List { org_id, json } => {
            let db = connect(settings).await?;
            let rows = domains::list(&db, &org_id).await?;
            if json {
                let data: Vec<_> = rows.iter().map(domains::domain_json).collect();
                println!("{}", json!({"data": data}));
            } else {
                for d in rows {
                    println!("{}", d.domain);
                }
            }
        }
        DomainCommand::Remove { org_id, domain } => {
            let domain = parse(&domain)?;
            let db = connect(settings).await?;
            domains::remove(&db, &cli_actor(), &org_id, &domain).await?;
        }
    }
    Ok(())
}

async fn guard_command(settings: &Settings, command: GuardCommand) -> anyhow::Result<()> {
    use offboard::routes::admin::guard::{held_json, resolution_json};
    use offboard::service::guard::{self, Resolution, Selection};
    let db = connect(settings).await?;
    let resolve = async |org_id: &str, ids: Vec<String>, approve: bool| {
        let once = async |selection| -> anyhow::Result<Resolution> {
            Ok(if approve {
                guard::approve(
                    &db,
                    &cli_actor(),
                    org_id,
                    selection,
                    settings.deletion_grace,
                )
                .await?
            } else {
                guard::reject(&db, &cli_actor(), org_id, selection).await?
            })
        };
        let mut total = Resolution::default();
        if !ids.is_empty() {
            total = once(Selection::Ids(ids)).await?;
        } else {
            // The oldest, a batch at a time, until nothing is held.
            loop {
                let r = once(Selection::Oldest).await?;
                total.approved += r.approved;
                total.rejected += r.rejected;
                total.skipped += r.skipped;
                total.remaining = r.remaining;
                if r.approved + r.rejected + r.skipped == 0 || r.remaining == 0 {
                    break;
                }
            }
        }
        println!("{}", resolution_json(&total));
        anyhow::Ok(())
    };
    match command {
        GuardCommand::List { org_id, json } => {
            let mut after: Option<String> = None;
            loop {
                let rows = guard::held(&db, &org_id, after.as_deref(), 1000).await?;
                for (h, m) in &rows {
                    if json {
                        println!("{}", held_json(h, m.as_ref()));
                    } else {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            h.id,
                            h.action,
                            m.as_ref()
                                .and_then(|m| m.user_name.as_deref())
                                .unwrap_or("-"),
                            h.source,
                            h.requested_at.to_rfc3339()
                        );
                    }
                }
                match rows.last() {
                    Some((h, _)) if rows.len() == 1000 => after = Some(h.id.clone()),
                    _ => break,
                }
            }
        }
        GuardCommand::Approve { org_id, ids } => resolve(&org_id, ids, true).await?,
        GuardCommand::Reject { org_id, ids } => resolve(&org_id, ids, false).await?,
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A failed command says why on one line (with its causes), never with a backtrace.
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
    if let Some(Command::Doctor { send_test, json }) = cli.command {
        return doctor(send_test, json).await;
    }
    let settings = Settings::from_env()?;
    offboard::telemetry::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            connect(&settings).await?;
            eprintln!("migrations applied");
        }
        Command::Doctor { .. } => unreachable!("handled above"),
        Command::Backup { path, json } => {
            let report = offboard::backup::backup(&settings.database_url, &path).await?;
            print_report("backup written", &report, json);
        }
        Command::Restore { path, json } => {
            let report = offboard::backup::restore(&settings.database_url, &path).await?;
            print_report("database restored", &report, json);
        }
        Command::Org {
            command:
                OrgCommand::Create {
                    name,
                    deactivated_retention,
                    guard_mode,
                    guard_max_count,
                    guard_max_percent,
                    guard_window,
                    json,
                },
        } => {
            let name = OrganizationName::parse(&name)?;
            let retention = deactivated_retention
                .as_deref()
                .map(retention_secs)
                .transpose()?;
            let mut changes = serde_json::Map::new();
            for (k, v) in [
                ("mode", guard_mode.map(|v| json!(v))),
                ("max_count", guard_max_count.map(|v| json!(v))),
                ("max_percent", guard_max_percent.map(|v| json!(v))),
                ("window", guard_window.map(|v| json!(v))),
            ] {
                if let Some(v) = v {
                    changes.insert(k.into(), v);
                }
            }
            let guard = GuardSettings::default().with_changes(&changes.into())?;
            let db = connect(&settings).await?;
            let org =
                admin::create_organization(&db, &cli_actor(), &name, retention, guard).await?;
            if json {
                let mut out = organization_json(&org);
                out["deprovision_guard"] = guard_json(&guard, None);
                println!("{out}");
            } else {
                println!("{}", org.id);
            }
        }
        Command::Org {
            command: OrgCommand::Domain { command },
        } => domain_command(&settings, command).await?,
        Command::Guard { command } => guard_command(&settings, command).await?,
        Command::ApiKey { command } => {
            use offboard::routes::admin::api_keys::key_json;
            use offboard::service::feed;
            let db = connect(&settings).await?;
            match command {
                ApiKeyCommand::Create {
                    name,
                    scopes,
                    org,
                    json,
                } => {
                    let (row, key) =
                        feed::create_key(&db, &cli_actor(), &name, &scopes, org.as_deref()).await?;
                    if json {
                        let mut out = key_json(&row);
                        out["key"] = json!(key);
                        println!("{out}");
                    } else {
                        println!("{key}");
                    }
                }
                ApiKeyCommand::List => {
                    for k in feed::list_keys(&db).await? {
                        println!("{}", key_json(&k));
                    }
                }
                ApiKeyCommand::Delete { id } => feed::delete_key(&db, &cli_actor(), &id).await?,
            }
        }
        Command::Token {
            command: TokenCommand::Create { org_id, json },
        } => {
            let db = connect(&settings).await?;
            let (row, token) = admin::create_scim_token(&db, &cli_actor(), &org_id)
                .await
                .with_context(|| format!("organization {org_id}"))?;
            if json {
                println!(
                    "{}",
                    json!({"id": row.id, "organization_id": row.organization_id, "token": token})
                );
            } else {
                println!("{token}");
            }
        }
        Command::Webhook {
            command:
                WebhookCommand::Add {
                    url,
                    events,
                    org,
                    json,
                },
        } => {
            let db = connect(&settings).await?;
            let input = offboard::service::webhooks::EndpointInput {
                url,
                event_types: events,
                organization_id: org,
                max_in_flight: None,
            };
            let (ep, secret) = offboard::service::webhooks::add_endpoint(
                &db,
                &cli_actor(),
                input,
                settings.webhook.allow_private,
            )
            .await?;
            if json {
                let mut v =
                    offboard::routes::admin::webhooks::endpoint_json(&ep, &settings.webhook);
                v["secret"] = json!(secret);
                println!("{v}");
            } else {
                println!("{secret}");
            }
        }
        Command::Webhook {
            command: WebhookCommand::Test { endpoint_id, json },
        } => {
            let db = connect(&settings).await?;
            let t = offboard::service::webhooks::send_test(
                &db,
                &cli_actor(),
                &settings.webhook,
                &endpoint_id,
            )
            .await
            .with_context(|| format!("webhook endpoint {endpoint_id}"))?;
            if json {
                println!("{}", offboard::routes::admin::webhooks::test_json(&t));
            } else {
                let status = t
                    .status_code
                    .map_or_else(|| "no answer".to_string(), |s| s.to_string());
                println!("{status} in {} ms", t.duration_ms);
                if let Some(body) = &t.response_body {
                    println!("{body}");
                }
            }
            if !t.succeeded {
                bail!(
                    "the endpoint did not accept the test event: {}",
                    t.error.as_deref().unwrap_or("not a 2xx answer")
                );
            }
        }
        Command::User {
            command: UserCommand::Export { user_id },
        } => {
            let db = connect(&settings).await?;
            let export = offboard::service::export::export(&db, &cli_actor(), &user_id)
                .await
                .with_context(|| format!("user {user_id}"))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&offboard::routes::admin::users::export_json(
                    &export
                ))?
            );
        }
        Command::User {
            command:
                UserCommand::DeleteBatch {
                    file,
                    confirm,
                    delete_all,
                    mark_messages_deleted,
                    hard_delete_posts,
                    hard_delete_comments,
                },
        } => {
            if !confirm {
                bail!("deleting users needs --confirm");
            }
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file).with_context(|| file.clone())?
            };
            let ids: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect();
            let any =
                delete_all || mark_messages_deleted || hard_delete_posts || hard_delete_comments;
            let content = any.then_some(offboard::domain::ContentDirectives {
                delete_all,
                mark_messages_deleted,
                hard_delete_posts,
                hard_delete_comments,
            });
            let db = connect(&settings).await?;
            let job = offboard::service::jobs::create_users_delete(
                &db,
                &cli_actor(),
                ids,
                content,
                offboard::service::jobs::MAX_FILE_BATCH,
            )
            .await?;
            println!("{}", job.id);
            run_and_watch(&db, &settings, &job.id).await?;
        }
        Command::Job {
            command: JobCommand::Watch { job_id },
        } => {
            let db = connect(&settings).await?;
            watch_job(&db, &job_id).await?;
        }
        Command::Purge { json } => {
            let db = connect(&settings).await?;
            let report = offboard::service::purge::run(
                &db,
                chrono::Utc::now(),
                &offboard::service::purge::Policy::from_settings(&settings),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "accounts erased: {}, records erased: {}, memberships expired: {}, events pruned: {}, suspensions ended: {}",
                    report.accounts_erased,
                    report.records_erased,
                    report.memberships_expired,
                    report.events_pruned,
                    report.suspensions_ended
                );
            }
        }
        Command::AdminToken { ttl, subject } => {
            println!("{}", admin_token(&settings, &ttl, &subject)?);
        }
        Command::ConsoleLink {
            ttl,
            subject,
            base_url,
        } => {
            let token = admin_token(&settings, &ttl, &subject)?;
            let base = base_url.unwrap_or_else(|| format!("http://{}", settings.listen));
            println!("{}/console#token={token}", base.trim_end_matches('/'));
        }
    }
    Ok(())
}

/// An admin JWT signed with the configured secret, for at most the configured lifetime.
fn admin_token(settings: &Settings, ttl: &str, subject: &str) -> anyhow::Result<String> {
    let Some(secret) = settings.admin_jwt_secret.as_deref() else {
        bail!("OFFBOARD_ADMIN_JWT_SECRET is not set");
    };
    let ttl: Duration = parse_duration(ttl)?;
    if ttl > settings.admin_jwt_max_ttl {
        bail!(
            "--ttl {} is longer than OFFBOARD_ADMIN_JWT_MAX_TTL ({}): the token would be refused",
            humantime::format_duration(ttl),
            humantime::format_duration(settings.admin_jwt_max_ttl)
        );
    }
    offboard::auth::issue_admin_token_with(
        secret,
        subject,
        ttl,
        settings.admin_jwt_issuer.as_deref(),
        settings.admin_jwt_audience.as_deref(),
    )
}

fn print_report(what: &str, r: &offboard::backup::Report, json: bool) {
    if json {
        let counts: serde_json::Map<String, serde_json::Value> = r
            .counts
            .iter()
            .map(|(t, n)| (t.to_string(), json!(n)))
            .collect();
        println!(
            "{}",
            json!({"path": r.path.display().to_string(), "bytes": r.bytes, "integrity": "ok", "rows": counts})
        );
    } else {
        let counts: Vec<String> = r.counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
        println!(
            "{what}: {} ({} bytes, integrity ok; {})",
            r.path.display(),
            r.bytes,
            counts.join(", ")
        );
    }
}

/// Runs every check and prints the report; a configuration that does not load is the
/// report's one failing line.
async fn doctor(send_test: bool, json: bool) -> anyhow::Result<()> {
    use offboard::domain::doctor::{Check, failed};
    let checks = match Settings::from_env() {
        Ok(settings) => {
            offboard::telemetry::init(settings.log_format);
            offboard::service::doctor::run(&settings, send_test).await
        }
        Err(e) => vec![Check::fail("config", format!("{e:#}"))],
    };
    if json {
        println!("{}", json!({"ok": !failed(&checks), "checks": checks}));
    } else {
        let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
        for c in &checks {
            println!(
                "{:<4}  {:<width$}  {}",
                c.status.as_str(),
                c.check,
                c.message
            );
        }
    }
    if failed(&checks) {
        let n = checks
            .iter()
            .filter(|c| c.status == offboard::domain::doctor::Level::Fail)
            .count();
        anyhow::bail!("{n} check(s) failed");
    }
    Ok(())
}
