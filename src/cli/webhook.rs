//! `offboard webhook …`: the endpoints events are delivered to.

use anyhow::Context as _;
use clap::Subcommand;
use ids::OrganizationId;
use offboard::service::webhooks::{self, EndpointInput};
use offboard::views::{Endpoint, EndpointWithSecret};

use super::{Context, Output, actor, or_dash};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint; print its id and its signing secret (the secret is shown only
    /// once), space-separated: `ep_… whsec_…`.
    Add {
        url: String,
        /// Only these event types (repeatable); all when absent.
        #[arg(long = "event")]
        events: Vec<String>,
        /// Only this organization's events; all organizations when absent.
        #[arg(long)]
        org: Option<OrganizationId>,
    },
    /// List the endpoints, one per line: id, URL, enabled or disabled, organization,
    /// event types (never a secret).
    List,
    /// Delete an endpoint: nothing more is sent to it.
    Delete { endpoint_id: String },
    /// Send a signed webhook.test event to the endpoint now and print the receiver's
    /// status and the first bytes of its answer; fails when it did not answer 2xx.
    Test { endpoint_id: String },
}

impl WebhookCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let settings = &ctx.settings()?.webhook;
        let db = ctx.db().await?;
        match self {
            WebhookCommand::Add { url, events, org } => {
                let input = EndpointInput {
                    url,
                    event_types: events,
                    organization_id: org,
                    max_in_flight: None,
                };
                let (ep, secret) =
                    webhooks::add_endpoint(&db, &actor(), input, settings.allow_private).await?;
                let endpoint = Endpoint::of(&ep, settings, chrono::Utc::now());
                let text = format!("{} {secret}", ep.id);
                Ok(Output::new(
                    text,
                    EndpointWithSecret::of(endpoint, &ep, secret),
                ))
            }
            WebhookCommand::List => {
                let rows = webhooks::endpoints(&db).await?;
                Ok(Output::rows(rows.iter().map(|ep| {
                    let types: Vec<&str> = ep
                        .event_types
                        .as_array()
                        .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
                        .unwrap_or_default();
                    (
                        vec![
                            ep.id.clone(),
                            ep.url.clone(),
                            if ep.enabled { "enabled" } else { "disabled" }.to_string(),
                            or_dash(ep.organization_id.as_ref().map(|o| o.as_str())),
                            if types.is_empty() {
                                "*".to_string()
                            } else {
                                types.join(",")
                            },
                        ],
                        Endpoint::of(ep, settings, chrono::Utc::now()),
                    )
                })))
            }
            WebhookCommand::Delete { endpoint_id } => {
                webhooks::delete_endpoint(&db, &actor(), &endpoint_id)
                    .await
                    .with_context(|| format!("webhook endpoint {endpoint_id}"))?;
                Ok(Output::nothing())
            }
            WebhookCommand::Test { endpoint_id } => {
                let t = webhooks::send_test(&db, &actor(), settings, &endpoint_id)
                    .await
                    .with_context(|| format!("webhook endpoint {endpoint_id}"))?;
                let status = t
                    .status_code
                    .map_or_else(|| "no answer".to_string(), |s| s.to_string());
                let mut text = format!("{status} in {} ms", t.duration_ms);
                if let Some(body) = &t.response_body {
                    text = format!("{text}\n{body}");
                }
                let out = Output::new(text, &t);
                Ok(if t.succeeded {
                    out
                } else {
                    out.failed(format!(
                        "the endpoint did not accept the test event: {}",
                        t.error.as_deref().unwrap_or("not a 2xx answer")
                    ))
                })
            }
        }
    }
}
