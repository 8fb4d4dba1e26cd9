//! `offboard token …`: the SCIM bearer tokens an organization's IdP connector uses.

use anyhow::Context as _;
use clap::Subcommand;
use ids::OrganizationId;
use offboard::scim::user::format_time;
use offboard::service::admin;
use offboard::views::ScimToken;
use serde_json::json;

use super::{Context, Output, actor, or_dash};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a SCIM token for an organization and print it (shown only once).
    Create { org_id: OrganizationId },
    /// List an organization's live tokens, one per line: id, created, last used (never
    /// the token itself).
    List { org_id: OrganizationId },
    /// Revoke a token: the IdP using it is refused at once.
    Revoke { token_id: String },
}

impl TokenCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let db = ctx.db().await?;
        match self {
            TokenCommand::Create { org_id } => {
                let (row, token) = admin::create_scim_token(&db, &actor(), &org_id)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                let out =
                    json!({"id": row.id, "organization_id": row.organization_id, "token": token});
                Ok(Output::new(token, out))
            }
            TokenCommand::List { org_id } => {
                let rows = admin::scim_tokens(&db, &org_id)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                Ok(Output::rows(rows.iter().map(|t| {
                    (
                        vec![
                            t.id.clone(),
                            format_time(t.created_at),
                            or_dash(t.last_used_at.map(format_time)),
                        ],
                        ScimToken::of(t),
                    )
                })))
            }
            TokenCommand::Revoke { token_id } => {
                admin::revoke_scim_token_by_id(&db, &actor(), &token_id).await?;
                Ok(Output::nothing())
            }
        }
    }
}
