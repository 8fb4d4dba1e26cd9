//! `offboard admin-token` and `offboard console-link`: admin JWTs signed with the
//! configured secret.

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use offboard::configuration::{Settings, parse_duration};
use serde_json::json;

use super::{Context, Output};

#[derive(Args)]
pub struct TokenArgs {
    /// How long the token is valid.
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// The JWT subject, recorded in the audit log.
    #[arg(long, default_value = "cli")]
    subject: String,
}

#[derive(Args)]
pub struct ConsoleLinkArgs {
    /// How long the token is valid.
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// The JWT subject, recorded in the audit log.
    #[arg(long, default_value = "console")]
    subject: String,
    /// The address the browser reaches offboard at (default: OFFBOARD_PUBLIC_URL, else
    /// OFFBOARD_LISTEN with the scheme it serves).
    #[arg(long)]
    base_url: Option<String>,
}

impl TokenArgs {
    pub fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let token = admin_token(ctx.settings()?, &self.ttl, &self.subject)?;
        Ok(Output::new(token.clone(), json!({"token": token})))
    }
}

impl ConsoleLinkArgs {
    pub fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let settings = ctx.settings()?;
        let token = admin_token(settings, &self.ttl, &self.subject)?;
        let base = self.base_url.unwrap_or_else(|| settings.public_base());
        let url = format!("{}/console#token={token}", base.trim_end_matches('/'));
        Ok(Output::new(url.clone(), json!({"url": url})))
    }
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
            offboard::domain::text::human_duration(ttl),
            offboard::domain::text::human_duration(settings.admin_jwt_max_ttl)
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
