//! `offboard user …`: what offboard holds about a person, and batch deletions.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use ids::UserId;
use offboard::domain::ContentDirectives;
use offboard::service::jobs;
use serde_json::json;

use super::{Context, Output, actor};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Print everything offboard holds about the user as one JSON document (audited;
    /// until the purge erases the data).
    Export { user_id: UserId },
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

impl UserCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        match self {
            UserCommand::Export { user_id } => {
                let db = ctx.db().await?;
                let export = offboard::service::export::export(&db, &actor(), &user_id)
                    .await
                    .with_context(|| format!("user {user_id}"))?;
                let doc = offboard::views::UserExport::of(&export, chrono::Utc::now());
                // One document either way, indented for reading.
                Ok(Output::new(serde_json::to_string_pretty(&doc)?, doc))
            }
            UserCommand::DeleteBatch {
                file,
                confirm,
                delete_all,
                mark_messages_deleted,
                hard_delete_posts,
                hard_delete_comments,
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
                let any = delete_all
                    || mark_messages_deleted
                    || hard_delete_posts
                    || hard_delete_comments;
                let content = any.then_some(ContentDirectives {
                    delete_all,
                    mark_messages_deleted,
                    hard_delete_posts,
                    hard_delete_comments,
                });
                let db = ctx.db().await?;
                let job =
                    jobs::create_users_delete(&db, &actor(), ids, content, jobs::MAX_FILE_BATCH)
                        .await?;
                // The id first, so a script has it while the job runs.
                ctx.print(&Output::new(job.id.clone(), json!({"id": job.id})));
                super::job::run_and_watch(&db, ctx.settings()?, &job.id).await?;
                Ok(Output::nothing())
            }
        }
    }
}
