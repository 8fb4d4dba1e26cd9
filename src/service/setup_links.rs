//! Setup links: the operator hands an organization's IT admin a URL; the admin opens it,
//! follows the steps for their IdP, and makes the organization's SCIM token there. A link
//! opens one organization's page only, until it expires or is revoked; each opening is
//! audited with the visitor's address.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::audit_log::ActorKind;
use entity::{organizations, setup_links as model};
use ids::OrganizationId;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::setup::{Idp, MAX_LIVE_LINKS};
use crate::domain::token::Rules;
use crate::store::audit::{Actor, actions};
use crate::store::{organizations as orgs, setup_links as store};

/// Creates a link; returns its row and its secret, shown this once.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    ttl: Duration,
    idp: Option<Idp>,
) -> Result<(model::Model, String)> {
    let mut work = Work::begin(db, actor).await?;
    if orgs::find_locked(work.tx(), organization_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("organization", None));
    }
    let now = work.now;
    if store::count_live(work.tx(), organization_id, now).await? >= MAX_LIVE_LINKS {
        return Err(Error::conflict(
            "TOO_MANY_SETUP_LINKS",
            format!("The organization has {MAX_LIVE_LINKS} live setup links; revoke some first."),
        ));
    }
    let expires_at = chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| Error::invalid("ttl is too long"))?;
    let (row, secret) = store::create(
        work.tx(),
        organization_id,
        idp.map(Idp::name),
        expires_at,
        now,
    )
    .await?;
    work.audit(
        Audit::new(
            actions::SETUP_LINK_CREATE,
            "setup_link",
            &row.id,
            json!({"idp": row.idp, "expires_at": row.expires_at}),
        )
        .in_organization(organization_id),
    );
    work.commit().await?;
    Ok((row, secret))
}

/// The organization's links, newest first (never their secrets).
pub async fn list(
    db: &DatabaseConnection,
    organization_id: &OrganizationId,
) -> Result<Vec<model::Model>> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    Ok(store::list(db, organization_id).await?)
}

/// Revokes a link at once.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    link_id: &str,
) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    if !store::revoke(work.tx(), organization_id, link_id, work.now).await? {
        return Err(Error::not_found("setup link", None));
    }
    work.audit(
        Audit::new(actions::SETUP_LINK_REVOKE, "setup_link", link_id, json!({}))
            .in_organization(organization_id),
    );
    work.commit().await?;
    Ok(())
}

/// A link that opens, with its organization.
pub struct Opened {
    pub link: model::Model,
    pub organization: organizations::Model,
}

/// The visitor of a link, as the audit log names them: the link, from this address.
fn visitor(link: &model::Model, client_address: Option<String>) -> Actor {
    Actor {
        kind: ActorKind::SetupLink,
        id: link.id.clone(),
        request_id: None,
        client_address,
    }
}

/// The link and organization this secret opens, if it is neither expired nor revoked
/// and its organization is not deleted; `None` otherwise, whichever it is. Not counted
/// as an opening.
pub async fn usable(
    db: &impl sea_orm::ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Opened>> {
    let Some(link) = store::find_usable(db, secret, now).await? else {
        return Ok(None);
    };
    let Some(organization) = orgs::find(db, &link.organization_id).await? else {
        return Ok(None);
    };
    Ok(Some(Opened { link, organization }))
}

/// Opens the page: the link and its organization, the opening counted and audited.
pub async fn open(
    db: &DatabaseConnection,
    secret: &str,
    client_address: Option<String>,
) -> Result<Option<Opened>> {
    let Some(opened) = usable(db, secret, Utc::now()).await? else {
        return Ok(None);
    };
    let actor = visitor(&opened.link, client_address);
    let mut work = Work::begin(db, &actor).await?;
    store::record_opening(work.tx(), &opened.link.id, work.now).await?;
    work.audit(
        Audit::new(
            actions::SETUP_LINK_OPEN,
            "setup_link",
            &opened.link.id,
            json!({}),
        )
        .in_organization(&opened.organization.id),
    );
    work.commit().await?;
    Ok(Some(opened))
}

/// Makes the organization's SCIM token from the page, named after the IdP; one per link.
/// Answers the link as it now is, with the token when this call made it (shown this
/// once); a link that made one before answers without it (never shown again).
pub async fn create_token(
    db: &DatabaseConnection,
    secret: &str,
    idp: Idp,
    client_address: Option<String>,
) -> Result<Option<(Opened, Option<String>)>> {
    let Some(mut opened) = usable(db, secret, Utc::now()).await? else {
        return Ok(None);
    };
    if opened.link.token_id.is_some() {
        return Ok(Some((opened, None)));
    }
    let actor = visitor(&opened.link, client_address);
    let mut work = Work::begin(db, &actor).await?;
    let org = &opened.organization.id;
    let name = format!("{} (setup link)", idp.label());
    let details = json!({"setup_link_id": opened.link.id, "idp": idp.name()});
    let (row, token) =
        super::scim_tokens::make(&mut work, org, Some(&name), &Rules::default(), details).await?;
    if !store::claim_token(work.tx(), &opened.link.id, &row.id, idp.name()).await? {
        // Another click won the race: nothing of this one is kept, and the link is read
        // again for the winner's token id.
        drop(work);
        return Ok(usable(db, secret, Utc::now()).await?.map(|o| (o, None)));
    }
    work.commit().await?;
    opened.link.token_id = Some(row.id);
    opened
        .link
        .idp
        .get_or_insert_with(|| idp.name().to_string());
    Ok(Some((opened, Some(token))))
}
