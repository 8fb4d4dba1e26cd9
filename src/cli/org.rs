//! `offboard org …`: organizations and their verified domains.

use anyhow::Context as _;
use clap::Subcommand;
use entity::{memberships, organizations};
use ids::OrganizationId;
use offboard::domain::EmailDomain;
use offboard::domain::guard::GuardSettings;
use offboard::domain::organization::{OrganizationName, retention_secs};
use offboard::domain::roles::RoleMapping;
use offboard::domain::setup::{Idp, link_ttl};
use offboard::scim::user::format_time;
use offboard::service::{admin, domains};
use offboard::service::{roles, setup_links};
use offboard::store::memberships::{MemberFilter, shown_status};
use offboard::views::{DeprovisionGuard, Domain, Member, Organization};
use offboard::views::{RoleMappingView, SetupLink, SetupLinkCreated};
use serde_json::json;

use super::{Context, Output, actor, every_page, or_dash};

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organization and print its id.
    Create {
        name: String,
        /// Remove memberships that stay INACTIVE this long (e.g. 30d).
        #[arg(long)]
        deactivated_retention: Option<String>,
        /// What the deprovisioning guard does when it trips: hold (the default),
        /// dry_run or off.
        #[arg(long)]
        guard_mode: Option<String>,
        /// The guard trips above this many SCIM deprovisionings within the window…
        #[arg(long)]
        guard_max_count: Option<u64>,
        /// …that are also above this share (percent) of the active members.
        #[arg(long)]
        guard_max_percent: Option<u64>,
        /// The guard's window (e.g. 1h).
        #[arg(long)]
        guard_window: Option<String>,
    },
    /// List the organizations, one per line: id, name, created.
    List {
        /// Only those whose name contains this (case-insensitive).
        #[arg(long)]
        name: Option<String>,
    },
    /// List an organization's members, one per line: account id (usr_…, what the admin
    /// API and sessions take), SCIM id (mem_…, what the IdP holds), userName, status.
    Members {
        org_id: OrganizationId,
        /// ACTIVE, INACTIVE, removed or all (default: every live member).
        #[arg(long)]
        status: Option<String>,
        /// Only those whose userName or display name contains this.
        #[arg(long)]
        q: Option<String>,
    },
    /// Manage the email domains verified for an organization (account linking).
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Show or replace the organization's groups-to-roles mapping.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Make a setup link for the organization's IT admin and print its URL (shown this
    /// once; OFFBOARD_PUBLIC_URL is its base).
    SetupLink {
        org_id: OrganizationId,
        /// How long it opens (default 7d, at most 30d).
        #[arg(long)]
        ttl: Option<String>,
        /// The IdP to guide through: okta, entra, jumpcloud, onelogin, google or other.
        #[arg(long)]
        idp: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RolesCommand {
    /// Print the mapping as JSON (`{"default_role", "rules"}`).
    Show { org_id: OrganizationId },
    /// Replace the mapping with the JSON in FILE (`-` reads standard input); members are
    /// re-roled at once (more than 1,000 of them, or with --job: by a job, followed with a
    /// progress bar). Prints how many members' roles moved.
    Set {
        org_id: OrganizationId,
        file: String,
        /// Re-role the members in a job whatever their number.
        #[arg(long)]
        job: bool,
    },
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Verify a domain for an organization: its SCIM users with an email userName in it
    /// share one account with other organizations that verified it.
    Add {
        org_id: OrganizationId,
        domain: String,
    },
    /// List the organization's verified domains, one per line.
    List { org_id: OrganizationId },
    /// Remove a verification (accounts already linked stay linked).
    Remove {
        org_id: OrganizationId,
        domain: String,
    },
}

/// Organizations read per page by `org list`.
const PAGE: u64 = 500;

impl OrgCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        match self {
            OrgCommand::SetupLink { org_id, ttl, idp } => {
                let ttl = link_ttl(ttl.as_deref())?;
                let idp = idp.as_deref().map(Idp::parse).transpose()?;
                let settings = ctx.settings()?;
                let db = ctx.db().await?;
                let (row, secret) = setup_links::create(&db, &actor(), &org_id, ttl, idp)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                let url = offboard::routes::setup::url(settings, &secret);
                let out = SetupLinkCreated {
                    link: SetupLink::of(&row),
                    url: url.clone(),
                };
                Ok(Output::new(url, out))
            }
            OrgCommand::Create {
                name,
                deactivated_retention,
                guard_mode,
                guard_max_count,
                guard_max_percent,
                guard_window,
            } => {
                let name = OrganizationName::parse(&name)?;
                let retention = deactivated_retention
                    .as_deref()
                    .map(retention_secs)
                    .transpose()?;
                let changes: serde_json::Map<String, serde_json::Value> = [
                    ("mode", guard_mode.map(|v| json!(v))),
                    ("max_count", guard_max_count.map(|v| json!(v))),
                    ("max_percent", guard_max_percent.map(|v| json!(v))),
                    ("window", guard_window.map(|v| json!(v))),
                ]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?)))
                .collect();
                let guard = GuardSettings::default().with_changes(&changes.into())?;
                let db = ctx.db().await?;
                let org =
                    admin::create_organization(&db, &actor(), &name, retention, guard).await?;
                let out = Organization::of(&org).with_guard(DeprovisionGuard::of(&guard, None));
                Ok(Output::new(org.id.to_string(), out))
            }
            OrgCommand::List { name } => {
                let db = ctx.db().await?;
                let orgs = every_page(
                    PAGE,
                    |o: &organizations::Model| o.id.to_string(),
                    async |after| {
                        Ok(
                            admin::organizations(&db, name.as_deref(), after.as_deref(), PAGE)
                                .await?,
                        )
                    },
                )
                .await?;
                Ok(Output::rows(orgs.iter().map(|o| {
                    (
                        vec![o.id.to_string(), o.name.clone(), format_time(o.created_at)],
                        Organization::of(o),
                    )
                })))
            }
            OrgCommand::Members { org_id, status, q } => {
                let filter = status
                    .as_deref()
                    .map(|s| {
                        MemberFilter::parse(s).ok_or_else(|| {
                            anyhow::anyhow!("--status must be {}", MemberFilter::EXPECTED)
                        })
                    })
                    .transpose()?;
                let db = ctx.db().await?;
                let members = every_page(
                    PAGE,
                    |m: &memberships::Model| m.id.to_string(),
                    async |after| {
                        admin::members(&db, &org_id, filter, q.as_deref(), after.as_deref(), PAGE)
                            .await
                            .with_context(|| format!("organization {org_id}"))
                    },
                )
                .await?;
                Ok(Output::rows(members.iter().map(|m| {
                    (
                        vec![
                            m.user_id.to_string(),
                            m.scim_id.clone(),
                            or_dash(m.user_name.as_deref()),
                            shown_status(m).to_string(),
                        ],
                        Member::of(m),
                    )
                })))
            }
            OrgCommand::Domain(c) => c.exec(ctx).await,
            OrgCommand::Roles(c) => c.exec(ctx).await,
        }
    }
}

impl RolesCommand {
    pub async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let db = ctx.db().await?;
        match self {
            RolesCommand::Show { org_id } => {
                let mapping = roles::mapping(&db, &org_id)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                let view = RoleMappingView::of(&org_id, &mapping, None);
                Ok(Output::new(mapping.to_value().to_string(), view))
            }
            RolesCommand::Set { org_id, file, job } => {
                let text = if file == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&file).with_context(|| file.clone())?
                };
                let raw: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| format!("{file}: not JSON"))?;
                let mapping = RoleMapping::parse(&raw)?;
                let set = roles::set_mapping(&db, &actor(), &org_id, &mapping, job)
                    .await
                    .with_context(|| format!("organization {org_id}"))?;
                let moved = match set {
                    roles::MappingSet::Applied { members_changed } => members_changed,
                    roles::MappingSet::Queued(job) => {
                        // The id first, so a script has it while the job runs.
                        ctx.print(&Output::new(job.id.clone(), json!({"id": job.id})));
                        super::job::run_and_watch(&db, ctx.settings()?, &job.id).await?;
                        return Ok(Output::nothing());
                    }
                };
                let view = RoleMappingView::of(&org_id, &mapping, Some(moved));
                Ok(Output::new(format!("members re-roled: {moved}"), view))
            }
        }
    }
}

impl DomainCommand {
    async fn exec(self, ctx: &Context) -> anyhow::Result<Output> {
        let parse =
            |raw: &str| EmailDomain::parse(raw).map_err(|e| anyhow::anyhow!("'{raw}': {e}"));
        match self {
            DomainCommand::Add { org_id, domain } => {
                let domain = parse(&domain)?;
                let db = ctx.db().await?;
                let v = domains::verify(&db, &actor(), &org_id, &domain).await?;
                Ok(Output::new(v.domain.domain.clone(), Domain::verified(&v)))
            }
            DomainCommand::List { org_id } => {
                let db = ctx.db().await?;
                let rows = domains::list(&db, &org_id).await?;
                Ok(Output::rows(
                    rows.iter().map(|d| (vec![d.domain.clone()], Domain::of(d))),
                ))
            }
            DomainCommand::Remove { org_id, domain } => {
                let domain = parse(&domain)?;
                let db = ctx.db().await?;
                domains::remove(&db, &actor(), &org_id, &domain).await?;
                Ok(Output::nothing())
            }
        }
    }
}
