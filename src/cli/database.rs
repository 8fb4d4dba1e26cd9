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
            "accounts erased: {}, records erased: {}, memberships expired: {}, events pruned: {}, suspensions ended: {}, tokens expired: {}",
            report.accounts_erased,
            report.records_erased,
            report.memberships_expired,
            report.events_pruned,
            report.suspensions_ended,
            report.tokens_expired
        ),
        serde_json::to_value(report)?,
    ))
}

/// How long the health check waits for an answer.
const HEALTHCHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /readyz` on this machine's `serve`: ready (exit 0) or why not (exit 1).
pub async fn healthcheck(ctx: &Context) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let url = readyz_url(&settings.listen, settings.tls.is_some());
    // The certificate names the public host, not the address called here; this asks
    // this machine's own process whether it is ready, so it is not verified.
    let client = reqwest::Client::builder()
        .timeout(HEALTHCHECK_TIMEOUT)
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()?;
    let (text, ok) = match client.get(&url).send().await {
        Ok(res) => {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            (
                format!("{url}: {} {}", status.as_u16(), body.trim()),
                status.is_success(),
            )
        }
        Err(e) => (format!("{url}: no answer ({e})"), false),
    };
    let out = Output::new(text.clone(), json!({"ready": ok, "url": url}));
    Ok(if ok {
        out
    } else {
        out.failed(format!("not ready: {text}"))
    })
}

/// `/readyz` at `OFFBOARD_LISTEN`, an address bound to every interface called on
/// loopback.
fn readyz_url(listen: &str, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => match a {
            std::net::SocketAddr::V4(_) => format!("127.0.0.1:{}", a.port()),
            std::net::SocketAddr::V6(_) => format!("[::1]:{}", a.port()),
        },
        _ => listen.to_string(),
    };
    format!("{scheme}://{host}/readyz")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_health_check_calls_this_machine() {
        assert_eq!(
            super::readyz_url("0.0.0.0:8080", true),
            "https://127.0.0.1:8080/readyz"
        );
        assert_eq!(
            super::readyz_url("[::]:8080", false),
            "http://[::1]:8080/readyz"
        );
        assert_eq!(
            super::readyz_url("127.0.0.1:9000", false),
            "http://127.0.0.1:9000/readyz"
        );
        assert_eq!(
            super::readyz_url("localhost:8080", false),
            "http://localhost:8080/readyz"
        );
    }
}
