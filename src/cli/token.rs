//! `offboard token …`: the SCIM bearer tokens an organization's IdP connector uses.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use ids::OrganizationId;
use offboard::domain::token::{self, Networks, Rules};
use offboard::scim::user::format_time;
use offboard::service::scim_tokens;
use offboard::views::{ScimToken, ScimTokenCreated, ScimTokenRotated};

use super::{Context, Output, actor, or_dash};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a SCIM token for an organization and print it (shown only once).
    Create {
        org_id: OrganizationId,
        /// Refuse it after this long (e.g. 90d); absent: it never expires.
        #[arg(long, conflicts_with = "expires_at")]
        ttl: Option<String>,
        /// Refuse it after this instant (RFC 3339).
        #[arg(long)]
        expires_at: Option<DateTime<Utc>>,
        /// A CIDR or address the IdP calls from (repeat for several); absent: anywhere.
        #[arg(long = "allow")]
        allowed_networks: Vec<String>,
    },
    /// List an organization's unrevoked tokens, one per line: id, created, last used,
    /// expiry, state (never the token itself).
    List { org_id: OrganizationId },
    /// Replace a token with a new one and print it (shown only once); the old one keeps
    /// working until the overlap ends.
    Rotate {
        token_id: String,
        /// How long the old token keeps working (default 24h, at most 30d; 0s: at once).
        #[arg(long)]
        overlap: Option<String>,
        /// Refuse the new token after this long (e.g. 90d); absent: it never expires.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Revoke a token: the IdP using it is refused at once.
    Revoke { token_id: String },
}

impl TokenCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let db = ctx.db().await?;
        match self {
            TokenCommand::Create {
                org_id,
                ttl,
                expires_at,
                allowed_networks,
            } => {
                let rules = Rules {
                    expires_at: token::expiry(expires_at, ttl.as_deref(), Utc::now())?,
                    networks: Networks::parse(&allowed_networks)?,
                };
                let (row, token) = scim_tokens::create(&db, &actor(), &org_id, &rules)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                Ok(Output::new(
                    token.clone(),
                    ScimTokenCreated::of(&row, token),
                ))
            }
            TokenCommand::List { org_id } => {
                let rows = scim_tokens::list(&db, None, &org_id)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                Ok(Output::rows(rows.iter().map(|t| {
                    let view = ScimToken::of(t);
                    (
                        vec![
                            t.id.clone(),
                            format_time(t.created_at),
                            or_dash(t.last_used_at.map(format_time)),
                            or_dash(t.expires_at.map(format_time)),
                            view.state.to_string(),
                        ],
                        view,
                    )
                })))
            }
            TokenCommand::Rotate {
                token_id,
                overlap,
                ttl,
            } => {
                let overlap = token::overlap(overlap.as_deref())?;
                let expires_at = token::expiry(None, ttl.as_deref(), Utc::now())?;
                let (new, token, old) =
                    scim_tokens::rotate_by_id(&db, &actor(), &token_id, overlap, expires_at)
                        .await?;
                let out = ScimTokenRotated {
                    token: ScimTokenCreated::of(&new, token.clone()),
                    replaces: ScimToken::of(&old),
                };
                Ok(Output::new(token, out))
            }
            TokenCommand::Revoke { token_id } => {
                scim_tokens::revoke_by_id(&db, &actor(), &token_id).await?;
                Ok(Output::nothing())
            }
        }
    }
}
