//! The pull feed for applications: scoped API keys (not admin JWTs) and an
//! organization's events in commit order after a cursor, long-polling when there is
//! nothing newer. It reads what the outbox retention keeps.

use ids::OrganizationId;
use std::time::Duration;

use entity::{api_keys, events};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::scope::Scope;
use crate::store::audit::{Actor, actions};
use crate::store::{api_keys as keys, organizations as orgs, outbox};

/// The longest a feed request waits for an event.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks again (every process writes the outbox, so it is
/// read, not notified).
const POLL: Duration = Duration::from_millis(250);

/// Creates an API key; returns its row and the key, shown this once.
pub async fn create_key(
    db: &DatabaseConnection,
    actor: &Actor,
    name: &str,
    scopes: &[String],
    organization_id: Option<&OrganizationId>,
) -> Result<(api_keys::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid("name must be 1 to 100 printable characters"));
    }
    let mut wanted: Vec<&str> = Vec::new();
    for s in scopes {
        let known = Scope::parse(s).ok_or_else(|| {
            Error::invalid(format!("scopes: unknown scope (known: {})", Scope::known()))
        })?;
        if !wanted.contains(&known.as_str()) {
            wanted.push(known.as_str());
        }
    }
    if wanted.is_empty() {
        return Err(Error::invalid("scopes must name at least one scope"));
    }
    let mut work = Work::begin(db, actor).await?;
    if let Some(org) = organization_id
        && orgs::find(work.tx(), org).await?.is_none()
    {
        return Err(Error::not_found("organization", None));
    }
    let (row, key) = keys::create(work.tx(), name, &wanted, organization_id, work.now).await?;
    work.audit(
        Audit::new(
            actions::API_KEY_CREATE,
            "api_key",
            &row.id,
            json!({"scopes": wanted, "organization_id": organization_id}),
        )
        .scoped_to(organization_id),
    );
    work.commit().await?;
    Ok((row, key))
}

pub async fn list_keys(db: &DatabaseConnection) -> Result<Vec<api_keys::Model>> {
    Ok(keys::list(db).await?)
}

/// Deletes a key: the application using it is refused at once.
pub async fn delete_key(db: &DatabaseConnection, actor: &Actor, id: &str) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    if !keys::delete(work.tx(), id).await? {
        return Err(Error::not_found("api key", None));
    }
    work.audit(Audit::new(
        actions::API_KEY_DELETE,
        "api_key",
        id,
        json!({}),
    ));
    work.commit().await?;
    Ok(())
}

/// The key an application presented, if it is one.
pub async fn authenticate(db: &DatabaseConnection, key: &str) -> Result<Option<api_keys::Model>> {
    if !key.starts_with(keys::KEY_PREFIX) {
        return Ok(None);
    }
    Ok(keys::find_by_key(db, key).await?)
}

/// What a feed request asks for.
pub struct FeedRequest<'a> {
    /// Required for a key that is not limited to one organization.
    pub organization_id: Option<&'a OrganizationId>,
    /// The last event the application has (`None`: from the first retained).
    pub after: Option<&'a str>,
    pub limit: u64,
    pub wait: Duration,
}

/// A page of the feed: the organization read, and its events.
pub struct FeedPage {
    pub organization_id: OrganizationId,
    pub events: Vec<events::Model>,
}

/// The organization's events after the cursor, in commit order with no gaps; when there
/// are none yet, waits up to `wait` for one. The key's organization scope is enforced:
/// another organization's events and cursors name nothing.
pub async fn read(
    db: &DatabaseConnection,
    key: &api_keys::Model,
    req: FeedRequest<'_>,
) -> Result<FeedPage> {
    let org = match (key.organization_id.as_ref(), req.organization_id) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(Error::not_found("organization", None));
        }
        (Some(own), _) => own.clone(),
        (None, Some(asked)) => asked.clone(),
        (None, None) => {
            return Err(Error::invalid(
                "organization_id is required: the feed is ordered per organization",
            ));
        }
    };
    // A deleted organization's events stay readable while retention keeps them.
    if orgs::find(db, &org).await?.is_none()
        && outbox::after_sequence(db, &org, 0, 1).await?.is_empty()
    {
        return Err(Error::not_found("organization", None));
    }
    let after = match req.after {
        None => 0,
        Some(id) => match outbox::find(db, id).await? {
            Some(e) if e.organization_id == org => e.sequence,
            _ => {
                return Err(Error::not_found("event", Some(id)));
            }
        },
    };
    let deadline = tokio::time::Instant::now() + req.wait.min(MAX_WAIT);
    loop {
        let events = outbox::after_sequence(db, &org, after, req.limit).await?;
        let now = tokio::time::Instant::now();
        if !events.is_empty() || now >= deadline {
            return Ok(FeedPage {
                organization_id: org,
                events,
            });
        }
        // The last look is at the deadline itself: a request waits the whole `wait`.
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}
