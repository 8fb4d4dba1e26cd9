//! `offboard job …`: long operations (batch deletions), followed with a progress bar.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use offboard::configuration::Settings;
use sea_orm::DatabaseConnection;

use super::{Context, Output};

#[derive(Subcommand)]
pub enum JobCommand {
    /// Follow a job's progress until it finishes.
    Watch { job_id: String },
}

impl JobCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        match self {
            JobCommand::Watch { job_id } => {
                let db = ctx.db().await?;
                watch(&db, &job_id).await?;
                Ok(Output::nothing())
            }
        }
    }
}

/// Runs the job here (unless a `serve` already holds it) while drawing its progress; on
/// Ctrl-C the current step finishes and the job is left for another process.
pub async fn run_and_watch(
    db: &DatabaseConnection,
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
    let watching = watch(db, job_id);
    tokio::pin!(watching);
    let mut running = true;
    loop {
        tokio::select! {
            r = &mut watching => return r,
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
/// outcome (and the ids it could not delete) there too.
async fn watch(db: &DatabaseConnection, job_id: &str) -> anyhow::Result<()> {
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
        if job.status == offboard::store::jobs::JobStatus::Finished {
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
