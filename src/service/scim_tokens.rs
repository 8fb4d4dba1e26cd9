//! SCIM tokens, the credential of an organization's IdP connection: made (by an operator
//! or a setup link), rotated with an overlap, revoked, and their expiry announced. Each
//! change is one unit of work with its audit row and its `scim_token.*` event.

use chrono::{DateTime, Utc};
use entity::scim_tokens;
use ids::OrganizationId;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::connection::Recorder;
use crate::domain::events::{Event, Id, ReplacedToken, ScimTokenData, TokenInfo};
use crate::domain::token::{Networks, Rules, overlap_end};
use crate::store::audit::{Actor, actions};
use crate::store::{organizations as orgs, tokens};

/// The token as events name it.
pub fn info(row: &scim_tokens::Model) -> TokenInfo {
    TokenInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        expires_at: row.expires_at,
        allowed_networks: Networks::from_stored(row.allowed_networks.as_deref()).as_strings(),
    }
}

fn data(row: &scim_tokens::Model, replaces: Option<ReplacedToken>) -> ScimTokenData {
    ScimTokenData {
        organization: Id::of(&row.organization_id),
        scim_token: info(row),
        replaces,
    }
}

/// Makes a token inside `work` (the organization is known to exist), with its audit row
/// and `scim_token.created`; `details` go into the audit row.
pub async fn make(
    work: &mut Work<'_>,
    organization_id: &OrganizationId,
    name: Option<&str>,
    rules: &Rules,
    details: serde_json::Value,
) -> Result<(scim_tokens::Model, String)> {
    let (row, token) = tokens::create(work.tx(), organization_id, name, rules).await?;
    work.emit(organization_id, [Event::ScimTokenCreated(data(&row, None))]);
    work.audit(
        Audit::new(actions::SCIM_TOKEN_CREATE, "scim_token", &row.id, details)
            .in_organization(organization_id)
            .listing_events(),
    );
    Ok((row, token))
}

/// Creates a token; returns the row and the token, shown this once.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    rules: &Rules,
) -> Result<(scim_tokens::Model, String)> {
    let mut work = Work::begin(db, actor).await?;
    if orgs::find(work.tx(), organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let details = json!({
        "expires_at": rules.expires_at,
        "allowed_networks": rules.networks.as_strings(),
    });
    let made = make(&mut work, organization_id, None, rules, details).await?;
    work.commit().await?;
    Ok(made)
}

/// Replaces a token with a new one (same name and networks; `expires_at` when given, or
/// none). The old one keeps working until the overlap ends, or its own expiry if sooner.
/// Returns the new row and token (shown this once) and the old row as it now is.
pub async fn rotate(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    token_id: &str,
    overlap: std::time::Duration,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(scim_tokens::Model, String, scim_tokens::Model)> {
    let now = Utc::now();
    let mut work = Work::begin_at(db, actor, now).await?;
    let Some(mut old) = tokens::find(work.tx(), organization_id, token_id).await? else {
        return Err(Error::not_found("scim token", None));
    };
    if old.replaced_by.is_some() {
        return Err(Error::conflict(
            "TOKEN_ALREADY_ROTATED",
            "This token was already rotated; rotate its replacement.",
        ));
    }
    if old.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::conflict(
            "TOKEN_EXPIRED",
            "This token has expired; create a new one instead.",
        ));
    }
    let rules = Rules {
        expires_at,
        networks: Networks::from_stored(old.allowed_networks.as_deref()),
    };
    let (new, token) =
        tokens::create(work.tx(), organization_id, old.name.as_deref(), &rules).await?;
    let ends_at = overlap_end(old.expires_at, overlap, now);
    if !tokens::mark_replaced(work.tx(), &old.id, &new.id, ends_at).await? {
        return Err(Error::conflict(
            "TOKEN_ALREADY_ROTATED",
            "This token was rotated or revoked meanwhile.",
        ));
    }
    old.expires_at = Some(ends_at);
    old.replaced_by = Some(new.id.clone());
    let replaces = ReplacedToken {
        id: old.id.clone(),
        expires_at: ends_at,
    };
    work.emit(
        organization_id,
        [Event::ScimTokenRotated(data(&new, Some(replaces)))],
    );
    work.audit(
        Audit::new(
            actions::SCIM_TOKEN_ROTATE,
            "scim_token",
            &old.id,
            json!({"replaced_by": new.id, "old_token_expires_at": ends_at, "expires_at": expires_at}),
        )
        .in_organization(organization_id)
        .listing_events(),
    );
    work.commit().await?;
    Ok((new, token, old))
}

/// Revokes one token of an organization: the IdP using it is refused at once.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    token_id: &str,
) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    let Some(row) = tokens::find(work.tx(), organization_id, token_id).await? else {
        return Err(Error::not_found("scim token", None));
    };
    if !tokens::revoke(work.tx(), organization_id, token_id).await? {
        return Err(Error::not_found("scim token", None));
    }
    work.emit(organization_id, [Event::ScimTokenRevoked(data(&row, None))]);
    work.audit(
        Audit::new(
            actions::SCIM_TOKEN_REVOKE,
            "scim_token",
            token_id,
            json!({}),
        )
        .in_organization(organization_id)
        .listing_events(),
    );
    work.commit().await?;
    Ok(())
}

/// Revokes a token known by its id alone (the command line's `token revoke`).
pub async fn revoke_by_id(db: &DatabaseConnection, actor: &Actor, token_id: &str) -> Result<()> {
    let organization_id = tokens::organization_of(db, token_id)
        .await?
        .ok_or_else(|| Error::not_found("scim token", Some(token_id)))?;
    revoke(db, actor, &organization_id, token_id).await
}

/// Rotates a token known by its id alone (the command line's `token rotate`).
pub async fn rotate_by_id(
    db: &DatabaseConnection,
    actor: &Actor,
    token_id: &str,
    overlap: std::time::Duration,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(scim_tokens::Model, String, scim_tokens::Model)> {
    let organization_id = tokens::organization_of(db, token_id)
        .await?
        .ok_or_else(|| Error::not_found("scim token", Some(token_id)))?;
    rotate(db, actor, &organization_id, token_id, overlap, expires_at).await
}

/// The organization's unrevoked tokens (metadata only), expired ones included until an
/// operator revokes them: what an IdP still sends with one is refused and shown. Each
/// token's `last_used_at` includes what `recorder` (this process) has not flushed yet, so
/// an operator sees at once which token of a rotation the IdP uses.
pub async fn list(
    db: &DatabaseConnection,
    recorder: Option<&Recorder>,
    organization_id: &OrganizationId,
) -> Result<Vec<scim_tokens::Model>> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let Some(recorder) = recorder else {
        return Ok(tokens::for_organization(db, organization_id).await?);
    };
    let _consistent = recorder.consistent().await;
    let mut rows = tokens::for_organization(db, organization_id).await?;
    let unflushed = recorder.unflushed(organization_id);
    for row in &mut rows {
        if let Some(p) = unflushed.get(&row.id)
            && row.last_used_at.is_none_or(|at| p.last.at > at)
        {
            row.last_used_at = Some(p.last.at);
        }
    }
    Ok(rows)
}

/// Announces (`scim_token.expired`, audited) each token whose expiry passed by `now`,
/// once; part of the purge. Returns how many.
pub async fn announce_expired(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut announced = 0;
    loop {
        let due = tokens::expired_unannounced(db, now, 500).await?;
        if due.is_empty() {
            return Ok(announced);
        }
        for row in &due {
            let mut work = Work::begin_at(db, actor, now).await?;
            if !tokens::mark_expiry_announced(work.tx(), &row.id, now).await? {
                // Another process announced it, or it was revoked meanwhile.
                continue;
            }
            let org = &row.organization_id;
            work.emit(org, [Event::ScimTokenExpired(data(row, None))]);
            work.audit(
                Audit::new(
                    actions::SCIM_TOKEN_EXPIRE,
                    "scim_token",
                    &row.id,
                    json!({"expires_at": row.expires_at}),
                )
                .in_organization(org)
                .listing_events(),
            );
            work.commit().await?;
            announced += 1;
        }
    }
}
