//! `offboard guard …`: what the deprovisioning guard holds for an organization.

use clap::Subcommand;
use ids::OrganizationId;
use offboard::service::guard::{self, Resolution, Selection};
use offboard::views::{self, HeldAction};
use sea_orm::DatabaseConnection;

use super::{Context, Output, actor, every_page, or_dash};

/// A held action with the membership it is about (gone when removed since).
type HeldRow = (
    entity::held_actions::Model,
    Option<entity::memberships::Model>,
);

#[derive(Subcommand)]
pub enum GuardCommand {
    /// List the held deprovisionings, oldest first, one per line: id, action,
    /// userName, source, time.
    List { org_id: OrganizationId },
    /// Apply held deprovisionings in arrival order (all, or those given with --id).
    Approve {
        org_id: OrganizationId,
        /// A held action's id; repeat for several.
        #[arg(long = "id")]
        ids: Vec<String>,
    },
    /// Discard held deprovisionings (all, or those given with --id).
    Reject {
        org_id: OrganizationId,
        #[arg(long = "id")]
        ids: Vec<String>,
    },
}

/// Held actions read or resolved per round.
const PAGE: u64 = 1000;

impl GuardCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let db = ctx.db().await?;
        let grace = ctx.settings()?.deletion_grace;
        match self {
            GuardCommand::List { org_id } => {
                let held = every_page(
                    PAGE,
                    |(h, _): &HeldRow| h.id.clone(),
                    async |after| Ok(guard::held(&db, &org_id, after.as_deref(), PAGE).await?),
                )
                .await?;
                Ok(Output::rows(held.iter().map(|(h, m)| {
                    (
                        vec![
                            h.id.clone(),
                            h.action.as_str().to_string(),
                            or_dash(m.as_ref().and_then(|m| m.user_name.as_deref())),
                            h.source.clone(),
                            h.requested_at.to_rfc3339(),
                        ],
                        HeldAction::of(h, m.as_ref()),
                    )
                })))
            }
            GuardCommand::Approve { org_id, ids } => resolve(&db, &org_id, ids, Some(grace)).await,
            GuardCommand::Reject { org_id, ids } => resolve(&db, &org_id, ids, None).await,
        }
    }
}

/// Approves (with the deletion grace period) or rejects the given held actions, or all
/// of them, a batch at a time, oldest first, until nothing is held.
async fn resolve(
    db: &DatabaseConnection,
    org_id: &OrganizationId,
    ids: Vec<String>,
    approve_with_grace: Option<std::time::Duration>,
) -> anyhow::Result<Output> {
    let once = async |selection| -> anyhow::Result<Resolution> {
        Ok(match approve_with_grace {
            Some(grace) => guard::approve(db, &actor(), org_id, selection, grace).await?,
            None => guard::reject(db, &actor(), org_id, selection).await?,
        })
    };
    let total = if ids.is_empty() {
        let mut total = Resolution::default();
        loop {
            let r = once(Selection::Oldest).await?;
            total.approved += r.approved;
            total.rejected += r.rejected;
            total.skipped += r.skipped;
            total.remaining = r.remaining;
            if r.approved + r.rejected + r.skipped == 0 || r.remaining == 0 {
                break total;
            }
        }
    } else {
        once(Selection::Ids(ids)).await?
    };
    let out = views::Resolution::of(&total);
    Ok(Output::new(serde_json::to_string(&out)?, out))
}
