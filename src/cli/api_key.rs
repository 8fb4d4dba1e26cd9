//! `offboard api-key …`: the keys applications read the event feed with.

use clap::Subcommand;
use ids::OrganizationId;
use offboard::service::feed;
use offboard::views::ApiKey;

use super::{Context, Output, actor, or_dash};

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print it (shown only once).
    Create {
        /// What the key is for (e.g. billing-app).
        #[arg(long)]
        name: String,
        /// A scope (sessions:write, sessions:read, users:read, events:read); repeat for
        /// several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Limit the key to one organization.
        #[arg(long)]
        org: Option<OrganizationId>,
    },
    /// List the keys, one per line: id, name, scopes, organization (never the keys
    /// themselves).
    List,
    /// Delete a key: the application using it is refused at once.
    Delete { id: String },
}

impl ApiKeyCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let db = ctx.db().await?;
        match self {
            ApiKeyCommand::Create { name, scopes, org } => {
                let (row, key) =
                    feed::create_key(&db, &actor(), &name, &scopes, org.as_ref()).await?;
                let out = ApiKey::created(&row, key.clone());
                Ok(Output::new(key, out))
            }
            ApiKeyCommand::List => {
                let keys = feed::list_keys(&db).await?;
                Ok(Output::rows(keys.iter().map(|k| {
                    (
                        vec![
                            k.id.clone(),
                            k.name.clone(),
                            k.scopes.replace(' ', ","),
                            or_dash(k.organization_id.as_ref().map(|o| o.as_str())),
                        ],
                        ApiKey::of(k),
                    )
                })))
            }
            ApiKeyCommand::Delete { id } => {
                feed::delete_key(&db, &actor(), &id).await?;
                Ok(Output::nothing())
            }
        }
    }
}
