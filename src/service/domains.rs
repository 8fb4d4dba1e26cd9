//! Verified email domains: the operator's statement that an organization owns a domain,
//! which is what lets its SCIM users share one account with other organizations that
//! verified the same domain.

use entity::organization_domains;
use ids::{MembershipId, OrganizationId, UserId};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::{EmailDomain, EmailIdentity};
use crate::store::audit::{Actor, actions};
use crate::store::{accounts, domains, memberships, organizations as orgs};

/// Members are examined in pages of this many when a domain is verified.
const PAGE: u64 = 1000;

/// What verifying a domain did.
pub struct Verified {
    pub domain: organization_domains::Model,
    /// `false` when the domain was already verified for the organization.
    pub created: bool,
    /// The organization's existing accounts in the domain that became linkable.
    pub accounts_linked: usize,
}

/// Verifies `domain` for the organization. The organization's existing private accounts
/// whose userName is an email in the domain become linkable under that email, unless
/// another organization's account already holds it (two accounts are never merged).
pub async fn verify(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    domain: &EmailDomain,
) -> Result<Verified> {
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    if orgs::find(work.tx(), organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let created = domains::add(work.tx(), organization_id, domain, now).await?;
    let mut linked = Vec::new();
    if created {
        let mut after: Option<MembershipId> = None;
        loop {
            let page =
                memberships::live_user_names_page(work.tx(), organization_id, after.as_ref(), PAGE)
                    .await?;
            let Some((last, _, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            let pairs: Vec<(UserId, String)> = page
                .into_iter()
                .filter_map(|(_, user, key)| {
                    let id = EmailIdentity::of(key.as_deref()?)?;
                    (id.domain == *domain).then_some((user, id.key))
                })
                .collect();
            linked.extend(accounts::link_private(work.tx(), &pairs, now).await?);
        }
        work.audit(
            Audit::new(
                actions::DOMAIN_VERIFY,
                "organization",
                organization_id,
                json!({"domain": domain.as_str(), "accounts_linked": linked.len()}),
            )
            .in_organization(organization_id),
        );
    }
    let row = domains::list(work.tx(), organization_id)
        .await?
        .into_iter()
        .find(|d| d.domain == domain.as_str())
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("domain just verified".into()))?;
    work.commit().await?;
    Ok(Verified {
        domain: row,
        created,
        accounts_linked: linked.len(),
    })
}

pub async fn list(
    db: &DatabaseConnection,
    organization_id: &OrganizationId,
) -> Result<Vec<organization_domains::Model>> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    Ok(domains::list(db, organization_id).await?)
}

/// Removes a verification. Accounts already linked stay linked (splitting them would
/// change the account an application knows a person by); new users of the organization
/// in the domain get private accounts from now on.
pub async fn remove(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    domain: &EmailDomain,
) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    let _now = work.now;
    if orgs::find(work.tx(), organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    if !domains::remove(work.tx(), organization_id, domain).await? {
        return Err(Error::not_found("domain", None));
    }
    work.audit(
        Audit::new(
            actions::DOMAIN_REMOVE,
            "organization",
            organization_id,
            json!({"domain": domain.as_str()}),
        )
        .in_organization(organization_id),
    );
    work.commit().await?;
    Ok(())
}
