//! An organization's SCIM connection health, as operators read it: each live token's
//! last request and its last 24 hours by status class, and the organization's state.
//! What this process has recorded and not flushed yet is included.

use ids::OrganizationId;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::scim_tokens;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::{Error, Result};
use crate::connection::{Recorder, hour_of};
use crate::domain::connection::{ConnectionState, Counts, state};
use crate::store::connections::{self as store, LastRequest};
use crate::store::organizations as orgs;

pub struct TokenHealth {
    pub token: scim_tokens::Model,
    pub last: Option<LastRequest>,
    pub last_24h: Counts,
    pub last_hour: Counts,
}

pub struct Connection {
    pub state: ConnectionState,
    pub last_used_at: Option<DateTime<Utc>>,
    pub tokens: Vec<TokenHealth>,
}

pub async fn connection(
    db: &DatabaseConnection,
    recorder: &Recorder,
    organization_id: &OrganizationId,
    quiet_after: Duration,
    now: DateTime<Utc>,
) -> Result<Connection> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    // The database and what is still in memory, read with no flush half done.
    let _consistent = recorder.consistent().await;
    let tokens = scim_tokens::Entity::find()
        .filter(scim_tokens::Column::OrganizationId.eq(organization_id))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .order_by_asc(scim_tokens::Column::Id)
        .all(db)
        .await?;
    let day_ago = hour_of(now - chrono::Duration::hours(23));
    let hour_ago = now - chrono::Duration::hours(1);
    let mut rows: HashMap<String, Vec<(DateTime<Utc>, Counts)>> = HashMap::new();
    for r in store::since(db, organization_id, day_ago).await? {
        rows.entry(r.token_id.clone())
            .or_default()
            .push((r.hour, store::counts_of(&r)));
    }
    let mut unflushed = recorder.unflushed(organization_id);
    let mut out = Vec::new();
    for t in tokens {
        let mut last = t.last_used_at.map(|at| LastRequest {
            at,
            method: t.last_method.clone().unwrap_or_default(),
            route: t.last_route.clone().unwrap_or_default(),
            status: t
                .last_status
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
            user_agent: t.last_user_agent.clone(),
        });
        let mut hours = rows.remove(&t.id).unwrap_or_default();
        if let Some(p) = unflushed.remove(&t.id) {
            if last.as_ref().is_none_or(|l| p.last.at > l.at) {
                last = Some(p.last.clone());
            }
            hours.extend(p.hours);
        }
        let (mut last_24h, mut last_hour) = (Counts::default(), Counts::default());
        for (hour, c) in hours {
            if hour >= day_ago {
                last_24h.add(c);
            }
            // The current hour and the one before: "recently".
            if hour >= hour_of(hour_ago) {
                last_hour.add(c);
            }
        }
        out.push(TokenHealth {
            token: t,
            last,
            last_24h,
            last_hour,
        });
    }
    let last_used_at = out
        .iter()
        .filter_map(|t| t.last.as_ref().map(|l| l.at))
        .max();
    let mut recent = Counts::default();
    for t in &out {
        recent.add(t.last_hour);
    }
    let quiet = chrono::Duration::from_std(quiet_after).unwrap_or(chrono::Duration::MAX);
    let held = crate::store::guard::count(db, organization_id).await? > 0;
    Ok(Connection {
        state: state(last_used_at, recent, held, now, quiet),
        last_used_at,
        tokens: out,
    })
}
