//! The delivery queue: fan-out of the outbox into one delivery per matching endpoint,
//! lease-based claiming that keeps per-user order and shares slots fairly, fenced
//! completion with attempt rows, replay, pruning, and the operator's listing.

use chrono::{DateTime, Utc};
use entity::{deliveries, delivery_attempts, events, webhook_endpoints as endpoints};
use ids::{OrganizationId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;

use crate::db;

use DeliveryStatus::{Dead, Pending, Succeeded};
pub use entity::deliveries::DeliveryStatus;

/// Clears a delivery's lease (owner, lease id, expiry).
pub(super) fn without_lease(
    q: sea_orm::UpdateMany<deliveries::Entity>,
) -> sea_orm::UpdateMany<deliveries::Entity> {
    q.col_expr(
        deliveries::Column::LeaseOwner,
        Option::<String>::None.into(),
    )
    .col_expr(deliveries::Column::LeaseId, Option::<String>::None.into())
    .col_expr(
        deliveries::Column::LeaseExpiresAt,
        Option::<DateTime<Utc>>::None.into(),
    )
}

/// Ends every pending delivery of the endpoint with `status`.
pub(super) async fn finish_pending(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    status: DeliveryStatus,
    why: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = without_lease(deliveries::Entity::update_many())
        .col_expr(deliveries::Column::Status, status.into())
        .col_expr(deliveries::Column::LastError, Some(why.to_string()).into())
        .col_expr(deliveries::Column::CompletedAt, Some(now).into())
        .col_expr(deliveries::Column::UpdatedAt, now.into())
        .filter(deliveries::Column::EndpointId.eq(endpoint_id))
        .filter(deliveries::Column::Status.eq(Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub(super) fn replay_filter(
    q: sea_orm::UpdateMany<deliveries::Entity>,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<deliveries::Entity> {
    q.col_expr(deliveries::Column::Status, Pending.into())
        .col_expr(deliveries::Column::Attempts, 0.into())
        .col_expr(deliveries::Column::NextAttemptAt, now.into())
        .col_expr(
            deliveries::Column::CompletedAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(deliveries::Column::UpdatedAt, now.into())
}

/// Replays an event: its deliveries (to one endpoint, or all) start again from the first
/// attempt. Endpoints that were added after the event was fanned out get none.
pub async fn replay_event(
    db: &impl ConnectionTrait,
    event_id: &str,
    endpoint_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut q = replay_filter(deliveries::Entity::update_many(), now)
        .filter(deliveries::Column::EventId.eq(event_id))
        .filter(deliveries::Column::Status.ne(Pending))
        .filter(
            deliveries::Column::EndpointId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(endpoints::Column::Id)
                    .from(endpoints::Entity)
                    .and_where(endpoints::Column::Enabled.eq(true))
                    .to_owned(),
            ),
        );
    if let Some(ep) = endpoint_id {
        q = q.filter(deliveries::Column::EndpointId.eq(ep));
    }
    let replayed = q.exec(db).await?.rows_affected;
    // A replay is the operator's word that the endpoints are fixed: their breakers close,
    // so the replayed delivery goes now rather than after a cooldown.
    let mut reset = endpoints::Entity::update_many()
        .col_expr(endpoints::Column::ConsecutiveFailures, 0.into())
        .col_expr(
            endpoints::Column::BreakerOpenUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(
            endpoints::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(deliveries::Column::EndpointId)
                    .from(deliveries::Entity)
                    .and_where(deliveries::Column::EventId.eq(event_id))
                    .to_owned(),
            ),
        )
        .filter(endpoints::Column::ConsecutiveFailures.ne(0));
    if let Some(ep) = endpoint_id {
        reset = reset.filter(endpoints::Column::Id.eq(ep));
    }
    reset.exec(db).await?;
    Ok(replayed)
}

/// What fan-out reads of a new event: enough to match it and order its deliveries, never
/// its body.
struct Unfanned {
    id: String,
    organization_id: OrganizationId,
    sequence: i64,
    event_type: String,
    user_id: Option<UserId>,
}

fn matches(endpoint: &endpoints::Model, event: &Unfanned) -> bool {
    if let Some(org) = &endpoint.organization_id
        && org != &event.organization_id
    {
        return false;
    }
    match endpoint.event_types.as_array() {
        Some(types) if !types.is_empty() => types
            .iter()
            .any(|t| t.as_str() == Some(event.event_type.as_str())),
        _ => true,
    }
}

/// The read of the next `limit` events not fanned out, in (organization, sequence) order:
/// the first rows of the index `(fanned_out, organization_id, sequence)`, however long
/// the backlog (a test holds the plan).
pub fn unfanned_query(limit: u64) -> sea_orm::Select<events::Entity> {
    use events::Column as C;
    events::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::OrganizationId,
            C::Sequence,
            C::EventType,
            C::UserId,
        ])
        .filter(C::FannedOut.eq(false))
        .order_by_asc(C::OrganizationId)
        .order_by_asc(C::Sequence)
        .limit(limit)
}

/// The next `limit` events not fanned out, in (organization, sequence) order; locked on
/// PostgreSQL when `lock`.
async fn unfanned(
    db: &impl ConnectionTrait,
    limit: u64,
    lock: bool,
) -> Result<Vec<Unfanned>, DbErr> {
    let mut q = unfanned_query(limit);
    if lock {
        q = db::for_update(q, db);
    }
    Ok(
        q.into_tuple::<(String, OrganizationId, i64, String, Option<UserId>)>()
            .all(db)
            .await?
            .into_iter()
            .map(
                |(id, organization_id, sequence, event_type, user_id)| Unfanned {
                    id,
                    organization_id,
                    sequence,
                    event_type,
                    user_id,
                },
            )
            .collect(),
    )
}

/// The live endpoints fan-out sends to.
async fn targets(db: &impl ConnectionTrait) -> Result<Vec<endpoints::Model>, DbErr> {
    endpoints::Entity::find()
        .filter(endpoints::Column::DeletedAt.is_null())
        .all(db)
        .await
}

/// What fan-out would find now, read without a write lock: how many of the next `limit`
/// events wait, and whether any of them would become a delivery.
pub struct Waiting {
    pub events: usize,
    pub deliverable: bool,
}

pub async fn waiting(db: &impl ConnectionTrait, limit: u64) -> Result<Waiting, DbErr> {
    let batch = unfanned(db, limit, false).await?;
    let deliverable = if batch.is_empty() {
        false
    } else {
        let targets = targets(db).await?;
        batch
            .iter()
            .any(|e| targets.iter().any(|ep| matches(ep, e)))
    };
    Ok(Waiting {
        events: batch.len(),
        deliverable,
    })
}

/// Turns up to `limit` new outbox events into deliveries, one per matching endpoint, and
/// marks them fanned out, in one transaction (the caller's): a crash leaves either both
/// or neither. Events are taken in (organization, sequence) order: an organization's
/// sequence order is its commit order, so when an event is fanned out every earlier event
/// of its organization is too, and a user's deliveries exist before a later one can be
/// claimed (ids would not do: several processes' clocks may disagree). On PostgreSQL the
/// events are locked without SKIP LOCKED, so fan-outs of several processes run one after
/// the other.
pub async fn fan_out(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<usize, DbErr> {
    let batch = unfanned(db, limit, true).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let targets = targets(db).await?;
    let mut rows = Vec::new();
    for e in &batch {
        for ep in targets.iter().filter(|ep| matches(ep, e)) {
            // A disabled endpoint's deliveries are dead at once, so a recover replays them.
            let (status, completed, error) = if ep.enabled {
                (Pending, None, None)
            } else {
                (Dead, Some(now), Some("endpoint disabled".to_string()))
            };
            rows.push(deliveries::ActiveModel {
                id: Set(ids::new_id(ids::DELIVERY)),
                event_id: Set(e.id.clone()),
                endpoint_id: Set(ep.id.clone()),
                organization_id: Set(e.organization_id.to_string()),
                order_key: Set(e.user_id.clone().map(String::from).unwrap_or_default()),
                sequence: Set(e.sequence),
                status: Set(status),
                attempts: Set(0),
                next_attempt_at: Set(now),
                lease_owner: Set(None),
                lease_id: Set(None),
                lease_expires_at: Set(None),
                last_status_code: Set(None),
                last_error: Set(error),
                created_at: Set(now),
                updated_at: Set(now),
                completed_at: Set(completed),
            });
        }
    }
    for chunk in rows.chunks(500) {
        deliveries::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([deliveries::Column::EventId, deliveries::Column::EndpointId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    let ids: Vec<&str> = batch.iter().map(|e| e.id.as_str()).collect();
    events::Entity::update_many()
        .col_expr(events::Column::FannedOut, true.into())
        .filter(events::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(batch.len())
}

/// Whether any event waits to be fanned out (a read: an idle dispatcher takes no write
/// lock to learn there is nothing to do).
pub async fn has_unfanned(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(events::Entity::find()
        .select_only()
        .column(events::Column::Id)
        .filter(events::Column::FannedOut.eq(false))
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some())
}

/// Whether any delivery is due and free to claim (a read, as `has_unfanned`).
pub async fn has_due(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool, DbErr> {
    Ok(deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::Status.eq(Pending))
        .filter(deliveries::Column::NextAttemptAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(deliveries::Column::LeaseExpiresAt.is_null())
                .add(deliveries::Column::LeaseExpiresAt.lt(now)),
        )
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some())
}

/// A claimed delivery with what sending it needs.
pub struct Claimed {
    pub delivery: deliveries::Model,
    pub payload: Value,
    pub endpoint: endpoints::Model,
}

/// How claims share the dispatcher among endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Fairness {
    /// Deliveries in flight per endpoint unless it sets its own `max_in_flight`.
    pub default_slots: u32,
    pub breaker: crate::domain::breaker::Policy,
}

/// How many more deliveries each enabled endpoint may have in flight now: its slots (by
/// its breaker's state) minus the deliveries leased to any process.
async fn free_slots(
    db: &impl ConnectionTrait,
    fairness: &Fairness,
    now: DateTime<Utc>,
) -> Result<Vec<(endpoints::Model, u32)>, DbErr> {
    use crate::domain::breaker;
    let eps = endpoints::Entity::find()
        .filter(endpoints::Column::Enabled.eq(true))
        .filter(endpoints::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    if eps.is_empty() {
        return Ok(Vec::new());
    }
    let busy: std::collections::HashMap<String, i64> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::EndpointId)
        .column_as(deliveries::Column::Id.count(), "n")
        .filter(deliveries::Column::Status.eq(Pending))
        .filter(deliveries::Column::LeaseExpiresAt.gte(now))
        .group_by(deliveries::Column::EndpointId)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(eps
        .into_iter()
        .filter_map(|ep| {
            let (state, configured) = breaker::of_endpoint(
                &fairness.breaker,
                ep.consecutive_failures,
                ep.breaker_open_until,
                ep.max_in_flight,
                fairness.default_slots,
                now,
            );
            let in_flight = busy.get(&ep.id).copied().unwrap_or(0);
            let free = i64::from(breaker::slots(state, configured)) - in_flight;
            (free > 0).then(|| (ep, u32::try_from(free).unwrap_or(0)))
        })
        .collect())
}

/// Due deliveries of one endpoint in order, at most `limit`: pending, next attempt
/// reached, no live lease, and no earlier pending delivery of the same user to the same
/// endpoint (the per-user order).
async fn due_for_endpoint(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(String, String)>, DbErr> {
    let backend = db.get_database_backend();
    // `'pending'` is `DeliveryStatus::Pending` written out, as the partial indexes'
    // predicate is (a bound value would keep the planner from using them).
    let sql = "SELECT d.id, d.organization_id FROM deliveries d \
         WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2 \
           AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $2) \
           AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
               AND p.organization_id = d.organization_id AND p.order_key = d.order_key \
               AND p.sequence < d.sequence AND p.status = 'pending') \
         ORDER BY d.next_attempt_at, d.sequence LIMIT $3";
    let sql = if backend == DbBackend::Postgres {
        sql.to_string()
    } else {
        // SQLite numbers its parameters ?1, ?2…; the same number may appear twice.
        sql.replace('$', "?")
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                endpoint_id.into(),
                now.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "organization_id")?)))
        .collect()
}

/// Picks up to `limit` deliveries from per-endpoint queues: round robin across
/// endpoints, and within an endpoint across organizations, so no endpoint or
/// organization goes first twice while another waits. Each queue keeps its order.
pub fn round_robin(queues: Vec<Vec<(String, String)>>, limit: usize) -> Vec<String> {
    use std::collections::{BTreeMap, VecDeque};
    // Per endpoint: its organizations' queues, visited in turn.
    let mut endpoints: Vec<VecDeque<VecDeque<String>>> = queues
        .into_iter()
        .map(|q| {
            let mut by_org: BTreeMap<String, (usize, VecDeque<String>)> = BTreeMap::new();
            for (i, (id, org)) in q.into_iter().enumerate() {
                by_org
                    .entry(org)
                    .or_insert((i, VecDeque::new()))
                    .1
                    .push_back(id);
            }
            let mut orgs: Vec<(usize, VecDeque<String>)> = by_org.into_values().collect();
            // The organization whose first delivery is oldest goes first.
            orgs.sort_by_key(|(first, _)| *first);
            orgs.into_iter().map(|(_, q)| q).collect()
        })
        .collect();
    let mut out = Vec::new();
    while out.len() < limit && endpoints.iter().any(|e| !e.is_empty()) {
        for orgs in endpoints.iter_mut() {
            if out.len() >= limit {
                break;
            }
            let Some(mut q) = orgs.pop_front() else {
                continue;
            };
            if let Some(id) = q.pop_front() {
                out.push(id);
            }
            if !q.is_empty() {
                orgs.push_back(q);
            }
        }
    }
    out
}

/// Claims up to `limit` due deliveries for `owner` under lease `lease_id` until
/// `lease_until`, fairly: each endpoint gets at most its free slots (its
/// `max_in_flight`, fewer while its circuit breaker is open or half-open, minus what is
/// already in flight), and endpoints and organizations take turns. A silent endpoint
/// thus holds at most its own slots, never the others'. Per-user order is kept: a
/// delivery waits while an earlier one of the same user to the same endpoint is pending.
/// The lease is taken with a conditional update, so of two processes (PostgreSQL) that
/// chose the same delivery only one gets it; SQLite's write transaction excludes other
/// claimers. (Several processes may together exceed an endpoint's slots briefly.)
pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    lease_id: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u64,
    fairness: &Fairness,
) -> Result<Vec<Claimed>, DbErr> {
    let open = free_slots(db, fairness, now).await?;
    let mut queues = Vec::with_capacity(open.len());
    for (ep, free) in &open {
        let due = due_for_endpoint(db, &ep.id, now, u64::from(*free).min(limit)).await?;
        if !due.is_empty() {
            queues.push(due);
        }
    }
    let chosen = round_robin(queues, usize::try_from(limit).unwrap_or(usize::MAX));
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = Vec::with_capacity(chosen.len());
    for chunk in chosen.chunks(500) {
        let rows = deliveries::Entity::update_many()
            .col_expr(
                deliveries::Column::LeaseOwner,
                Some(owner.to_string()).into(),
            )
            .col_expr(
                deliveries::Column::LeaseId,
                Some(lease_id.to_string()).into(),
            )
            .col_expr(deliveries::Column::LeaseExpiresAt, Some(lease_until).into())
            .col_expr(deliveries::Column::UpdatedAt, now.into())
            .filter(deliveries::Column::Id.is_in(chunk.iter()))
            .filter(deliveries::Column::Status.eq(Pending))
            .filter(
                sea_orm::Condition::any()
                    .add(deliveries::Column::LeaseExpiresAt.is_null())
                    .add(deliveries::Column::LeaseExpiresAt.lt(now)),
            )
            .exec_with_returning(db)
            .await?;
        claimed.extend(rows);
    }
    // The round-robin order, which the dispatcher sends in.
    let rank: std::collections::HashMap<&str, usize> = chosen
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    claimed.sort_by_key(|d| rank.get(d.id.as_str()).copied().unwrap_or(usize::MAX));
    let event_ids: Vec<&str> = claimed.iter().map(|d| d.event_id.as_str()).collect();
    let payloads: std::collections::HashMap<String, Value> = events::Entity::find()
        .filter(events::Column::Id.is_in(event_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.payload))
        .collect();
    let eps: std::collections::HashMap<String, endpoints::Model> = open
        .into_iter()
        .map(|(ep, _)| (ep.id.clone(), ep))
        .collect();
    Ok(claimed
        .into_iter()
        .filter_map(|d| {
            let payload = payloads.get(&d.event_id)?.clone();
            let endpoint = eps.get(&d.endpoint_id)?.clone();
            Some(Claimed {
                delivery: d,
                payload,
                endpoint,
            })
        })
        .collect())
}

/// What one attempt came to.
pub struct AttemptResult {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// The delivery's next state after an attempt.
pub enum Next {
    Succeeded,
    Retry(DateTime<Utc>),
    Dead,
}

/// One finished attempt, ready to be recorded.
pub struct Completion<'a> {
    pub delivery: &'a deliveries::Model,
    pub lease_id: &'a str,
    pub result: &'a AttemptResult,
    pub next: &'a Next,
}

/// Records finished attempts (one batch, in the caller's transaction): each delivery
/// moves on only if its `lease_id` still holds it (a process whose lease expired and was
/// taken over must not overwrite the new owner's work); the attempt rows are written
/// either way, in one statement. Returns, per completion, whether the lease was held.
pub async fn complete_all(
    db: &impl ConnectionTrait,
    owner: &str,
    batch: &[Completion<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, DbErr> {
    let mut held_all = Vec::with_capacity(batch.len());
    let mut attempts = Vec::with_capacity(batch.len());
    for c in batch {
        let claimed = c.delivery;
        let attempt = claimed.attempts + 1;
        let (status, next_at, completed) = match c.next {
            Next::Succeeded => (Succeeded, claimed.next_attempt_at, Some(now)),
            Next::Retry(at) => (Pending, *at, None),
            Next::Dead => (Dead, claimed.next_attempt_at, Some(now)),
        };
        let res = without_lease(deliveries::Entity::update_many())
            .col_expr(deliveries::Column::Status, status.into())
            .col_expr(deliveries::Column::Attempts, attempt.into())
            .col_expr(deliveries::Column::NextAttemptAt, next_at.into())
            .col_expr(deliveries::Column::CompletedAt, completed.into())
            .col_expr(
                deliveries::Column::LastStatusCode,
                c.result.status_code.into(),
            )
            .col_expr(deliveries::Column::LastError, c.result.error.clone().into())
            .col_expr(deliveries::Column::UpdatedAt, now.into())
            .filter(deliveries::Column::Id.eq(claimed.id.as_str()))
            .filter(deliveries::Column::LeaseId.eq(c.lease_id))
            .exec(db)
            .await?;
        let held = res.rows_affected > 0;
        let outcome = match (held, c.next) {
            (false, _) => "lease_lost",
            (true, Next::Succeeded) => "success",
            (true, _) => "failure",
        };
        attempts.push(delivery_attempts::ActiveModel {
            id: Set(ids::new_id(ids::ATTEMPT)),
            delivery_id: Set(claimed.id.clone()),
            event_id: Set(claimed.event_id.clone()),
            endpoint_id: Set(claimed.endpoint_id.clone()),
            attempt: Set(attempt),
            owner: Set(owner.to_string()),
            started_at: Set(c.result.started_at),
            duration_ms: Set(c.result.duration_ms),
            status_code: Set(c.result.status_code),
            error: Set(c.result.error.clone()),
            response_body: Set(c.result.response_body.clone()),
            outcome: Set(outcome.into()),
        });
        held_all.push(held);
    }
    for chunk in attempts.chunks(200) {
        delivery_attempts::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(held_all)
}

/// Deletes up to `limit` events created before `cutoff` whose deliveries are all final,
/// with those deliveries and their attempts; returns how many events went.
pub async fn prune_final_events(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let ids: Vec<String> = events::Entity::find()
        .select_only()
        .column(events::Column::Id)
        .filter(events::Column::CreatedAt.lt(cutoff))
        .filter(events::Column::FannedOut.eq(true))
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(deliveries::Entity)
                    .and_where(
                        Expr::col((deliveries::Entity, deliveries::Column::EventId))
                            .equals((events::Entity, events::Column::Id)),
                    )
                    .and_where(deliveries::Column::Status.eq(Pending))
                    .to_owned(),
            )
            .not(),
        )
        .order_by_asc(events::Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let delivery_ids: Vec<String> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::EventId.is_in(ids.iter().map(String::as_str)))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in delivery_ids.chunks(500) {
        delivery_attempts::Entity::delete_many()
            .filter(delivery_attempts::Column::DeliveryId.is_in(chunk.iter()))
            .exec(db)
            .await?;
        deliveries::Entity::delete_many()
            .filter(deliveries::Column::Id.is_in(chunk.iter()))
            .exec(db)
            .await?;
    }
    let res = events::Entity::delete_many()
        .filter(events::Column::Id.is_in(ids.iter().map(String::as_str)))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Gives back the leases of `owner` (graceful shutdown), so another process can take the
/// deliveries at once instead of after the lease expires.
pub async fn release_leases(db: &impl ConnectionTrait, owner: &str) -> Result<u64, DbErr> {
    let res = without_lease(deliveries::Entity::update_many())
        .filter(deliveries::Column::LeaseOwner.eq(owner))
        .filter(deliveries::Column::Status.eq(Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deliveries for the operator, oldest first (paged by id), by status and endpoint.
pub async fn list_deliveries(
    db: &impl ConnectionTrait,
    status: Option<DeliveryStatus>,
    endpoint_id: Option<&str>,
    event_id: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<deliveries::Model>, DbErr> {
    use deliveries::Column;
    let q = super::when_eq(deliveries::Entity::find(), Column::Status, status);
    let q = super::when_eq(q, Column::EndpointId, endpoint_id);
    let q = super::when_eq(q, Column::EventId, event_id);
    super::after_page(db, q, Column::Id, after, limit).await
}

pub async fn find_event(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<events::Model>, DbErr> {
    events::Entity::find_by_id(id.to_string()).one(db).await
}

/// Records an operator's test send (`webhook.test`, which is in no organization's outbox)
/// as a finished delivery of that endpoint with its one attempt, like any other: it is
/// listed with the endpoint's deliveries and attempts. Returns the delivery's id.
pub async fn record_test(
    db: &impl ConnectionTrait,
    endpoint: &endpoints::Model,
    event_id: &str,
    result: &AttemptResult,
    succeeded: bool,
) -> Result<String, DbErr> {
    let id = ids::new_id(ids::DELIVERY);
    let now = result.started_at;
    deliveries::Entity::insert(deliveries::ActiveModel {
        id: Set(id.clone()),
        event_id: Set(event_id.to_string()),
        endpoint_id: Set(endpoint.id.clone()),
        organization_id: Set(endpoint
            .organization_id
            .clone()
            .map(String::from)
            .unwrap_or_default()),
        order_key: Set(String::new()),
        sequence: Set(0),
        status: Set(if succeeded { Succeeded } else { Dead }),
        attempts: Set(1),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_id: Set(None),
        lease_expires_at: Set(None),
        last_status_code: Set(result.status_code),
        last_error: Set(result.error.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(Some(now)),
    })
    .exec_without_returning(db)
    .await?;
    delivery_attempts::Entity::insert(delivery_attempts::ActiveModel {
        id: Set(ids::new_id(ids::ATTEMPT)),
        delivery_id: Set(id.clone()),
        event_id: Set(event_id.to_string()),
        endpoint_id: Set(endpoint.id.clone()),
        attempt: Set(1),
        owner: Set("test".to_string()),
        started_at: Set(result.started_at),
        duration_ms: Set(result.duration_ms),
        status_code: Set(result.status_code),
        error: Set(result.error.clone()),
        response_body: Set(result.response_body.clone()),
        outcome: Set(if succeeded { "success" } else { "failure" }.to_string()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// The organization's deliveries to one endpoint counted by status (by the
/// `(endpoint, organization, …)` index).
pub async fn counts_for(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    organization_id: &OrganizationId,
) -> Result<Vec<(String, i64)>, DbErr> {
    deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Status)
        .column_as(deliveries::Column::Id.count(), "n")
        .filter(deliveries::Column::EndpointId.eq(endpoint_id))
        .filter(deliveries::Column::OrganizationId.eq(organization_id))
        .group_by(deliveries::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

/// The organization's newest dead deliveries to these endpoints.
pub async fn dead_for(
    db: &impl ConnectionTrait,
    endpoint_ids: &[String],
    organization_id: &OrganizationId,
    limit: u64,
) -> Result<Vec<deliveries::Model>, DbErr> {
    deliveries::Entity::find()
        .filter(deliveries::Column::EndpointId.is_in(endpoint_ids.iter().map(String::as_str)))
        .filter(deliveries::Column::OrganizationId.eq(organization_id))
        .filter(deliveries::Column::Status.eq(Dead))
        .order_by_desc(deliveries::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<deliveries::Model>, DbErr> {
    deliveries::Entity::find_by_id(id.to_string()).one(db).await
}

#[cfg(test)]
mod tests {
    use super::round_robin;

    fn queue(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(id, org)| (id.to_string(), org.to_string()))
            .collect()
    }

    #[test]
    fn endpoints_take_turns_and_the_limit_holds_when_more_is_due() {
        let queues = vec![
            queue(&[("a1", "o"), ("a2", "o"), ("a3", "o")]),
            queue(&[("b1", "o"), ("b2", "o"), ("b3", "o")]),
        ];
        assert_eq!(round_robin(queues.clone(), 4), ["a1", "b1", "a2", "b2"]);
        assert_eq!(round_robin(queues.clone(), 1), ["a1"]);
        assert!(round_robin(queues.clone(), 0).is_empty());
        assert_eq!(round_robin(queues, 10).len(), 6, "all, when all fit");
    }

    #[test]
    fn within_an_endpoint_organizations_take_turns_oldest_first_each_in_order() {
        let q = queue(&[
            ("x1", "org_b"),
            ("x2", "org_b"),
            ("x3", "org_a"),
            ("x4", "org_b"),
        ]);
        // org_b's first delivery is the oldest: it goes first, then org_a, then org_b's
        // next ones in their order.
        assert_eq!(round_robin(vec![q], 10), ["x1", "x3", "x2", "x4"]);
    }

    #[test]
    fn an_exhausted_endpoint_leaves_the_turns_to_the_others() {
        let queues = vec![
            queue(&[("a1", "o")]),
            queue(&[("b1", "o"), ("b2", "o"), ("b3", "o")]),
        ];
        assert_eq!(round_robin(queues, 3), ["a1", "b1", "b2"]);
        assert!(round_robin(Vec::new(), 5).is_empty());
    }
}
