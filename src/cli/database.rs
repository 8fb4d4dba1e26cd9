//! The service and its database: `serve`, `migrate`, `backup`, `restore`, `doctor`,
//! `purge`.

use std::path::Path;

use offboard::backup::Report;
use offboard::db::Opening;
use offboard::domain::doctor::{Check, Level, failed};
use offboard::startup::Application;
use serde_json::json;

use super::{Context, Output, connect};

pub async fn serve(ctx: &Context) -> anyhow::Result<Output> {
    let app = Application::build(ctx.settings()?.clone()).await?;
    app.run_until_stopped().await?;
    Ok(Output::nothing())
}

pub async fn migrate(ctx: &Context) -> anyhow::Result<Output> {
    connect(ctx.settings()?, Opening::MayCreate).await?;
    eprintln!(
        "migrations applied: {}",
        offboard::db::describe(&ctx.settings()?.database_url)
    );
    Ok(Output::nothing())
}

pub async fn backup(ctx: &Context, path: &Path) -> anyhow::Result<Output> {
    let report = offboard::backup::backup(&ctx.settings()?.database_url, path).await?;
    Ok(report_output("backup written", &report))
}

pub async fn restore(ctx: &Context, path: &Path) -> anyhow::Result<Output> {
    let report = offboard::backup::restore(&ctx.settings()?.database_url, path).await?;
    Ok(report_output("database restored", &report))
}

fn report_output(what: &str, r: &Report) -> Output {
    let counts: serde_json::Map<String, serde_json::Value> = r
        .counts
        .iter()
        .map(|(t, n)| (t.to_string(), json!(n)))
        .collect();
    let words: Vec<String> = r.counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    Output::new(
        format!(
            "{what}: {} ({} bytes, integrity ok; {})",
            r.path.display(),
            r.bytes,
            words.join(", ")
        ),
        json!({"path": r.path.display().to_string(), "bytes": r.bytes, "integrity": "ok", "rows": counts}),
    )
}

/// Runs every check and prints the report; a configuration that does not load is the
/// report's one failing line.
pub async fn doctor(ctx: &Context, send_test: bool) -> Output {
    let checks = match ctx.settings() {
        Ok(settings) => offboard::service::doctor::run(settings, send_test).await,
        Err(e) => vec![Check::fail("config", format!("{e:#}"))],
    };
    let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let text: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                "{:<4}  {:<width$}  {}",
                c.status.as_str(),
                c.check,
                c.message
            )
        })
        .collect();
    let out = Output::new(
        text.join("\n"),
        json!({"ok": !failed(&checks), "checks": checks}),
    );
    let n = checks.iter().filter(|c| c.status == Level::Fail).count();
    if n > 0 {
        out.failed(format!("{n} check(s) failed"))
    } else {
        out
    }
}

pub async fn purge(ctx: &Context) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let db = ctx.db().await?;
    let report = offboard::service::purge::run(
        &db,
        chrono::Utc::now(),
        &offboard::service::purge::Policy::from_settings(settings),
    )
    .await?;
    Ok(Output::new(
        format!(
            "accounts erased: {}, records erased: {}, memberships expired: {}, events pruned: {}, suspensions ended: {}",
            report.accounts_erased,
            report.records_erased,
            report.memberships_expired,
            report.events_pruned,
            report.suspensions_ended
        ),
        serde_json::to_value(report)?,
    ))
}
