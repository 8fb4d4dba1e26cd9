//! Webhook endpoints, deliveries and attempts: fan-out of the outbox into deliveries,
//! lease-based claiming, fenced completion, and the operator's replay.

use chrono::{DateTime, Utc};
use entity::{deliveries, delivery_attempts, events, webhook_endpoints as endpoints};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;

use crate::{db, ids};

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const DEAD: &str = "dead";
pub const CANCELLED: &str = "cancelled";

pub struct NewEndpoint {
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub organization_id: Option<String>,
}

pub async fn create_endpoint(
    db: &impl ConnectionTrait,
    new: NewEndpoint,
    now: DateTime<Utc>,
) -> Result<endpoints::Model, DbErr> {
    let model = endpoints::ActiveModel {
        id: Set(ids::new_id(ids::ENDPOINT)),
        url: Set(new.url),
        secret: Set(new.secret),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        event_types: Set(Value::from(new.event_types)),
        organization_id: Set(new.organization_id),
        enabled: Set(true),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    endpoints::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

/// The endpoint unless unknown or deleted.
pub async fn find_endpoint(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<endpoints::Model>, DbErr> {
    endpoints::Entity::find_by_id(id.to_string())
        .filter(endpoints::Column::DeletedAt.is_null())
        .one(db)
        .await
}

pub async fn list_endpoints(db: &impl ConnectionTrait) -> Result<Vec<endpoints::Model>, DbErr> {
    endpoints::Entity::find()
        .filter(endpoints::Column::DeletedAt.is_null())
        .order_by_asc(endpoints::Column::Id)
        .all(db)
        .await
}

/// Deletes an endpoint; its pending deliveries are cancelled.
pub async fn delete_endpoint(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = endpoints::Entity::update_many()
        .col_expr(endpoints::Column::DeletedAt, Some(now).into())
        .col_expr(endpoints::Column::Enabled, false.into())
        .col_expr(endpoints::Column::UpdatedAt, now.into())
        .filter(endpoints::Column::Id.eq(id))
        .filter(endpoints::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    finish_pending(db, id, CANCELLED, "endpoint deleted", now).await?;
    Ok(res.rows_affected > 0)
}

/// Clears a delivery's lease (owner, lease id, expiry).
fn without_lease(
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
async fn finish_pending(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    status: &str,
    why: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = without_lease(deliveries::Entity::update_many())
        .col_expr(deliveries::Column::Status, status.into())
        .col_expr(deliveries::Column::LastError, Some(why.to_string()).into())
        .col_expr(deliveries::Column::CompletedAt, Some(now).into())
        .col_expr(deliveries::Column::UpdatedAt, now.into())
        .filter(deliveries::Column::EndpointId.eq(endpoint_id))
        .filter(deliveries::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Disables an endpoint (410 Gone, or failing too long): its pending deliveries die, so
/// a later recover replays them.
pub async fn disable_endpoint(
    db: &impl ConnectionTrait,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    endpoints::Entity::update_many()
        .col_expr(endpoints::Column::Enabled, false.into())
        .col_expr(
            endpoints::Column::DisabledReason,
            Some(reason.to_string()).into(),
        )
        .col_expr(endpoints::Column::UpdatedAt, now.into())
        .filter(endpoints::Column::Id.eq(id))
        .exec(db)
        .await?;
    finish_pending(db, id, DEAD, "endpoint disabled", now).await?;
    Ok(())
}

/// Re-enables an endpoint and replays its deliveries that died since `since`; returns
/// how many were replayed.
pub async fn recover_endpoint(
    db: &impl ConnectionTrait,
    endpoint: &endpoints::Model,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut am = endpoint.clone().into_active_model();
    am.enabled = Set(true);
    am.disabled_reason = Set(None);
    am.failing_since = Set(None);
    am.updated_at = Set(now);
    am.update(db).await?;
    let res = replay_filter(deliveries::Entity::update_many(), now)
        .filter(deliveries::Column::EndpointId.eq(endpoint.id.as_str()))
        .filter(deliveries::Column::Status.eq(DEAD))
        .filter(deliveries::Column::CompletedAt.gte(since))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

fn replay_filter(
    q: sea_orm::UpdateMany<deliveries::Entity>,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<deliveries::Entity> {
    q.col_expr(deliveries::Column::Status, PENDING.into())
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
        .filter(deliveries::Column::Status.ne(PENDING))
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
    Ok(q.exec(db).await?.rows_affected)
}

/// Rotates the secret: the new one signs at once, the old one too until `old_until`.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    endpoint: &endpoints::Model,
    new_secret: String,
    old_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<endpoints::Model, DbErr> {
    let mut am = endpoint.clone().into_active_model();
    am.previous_secret = Set(Some(endpoint.secret.clone()));
    am.previous_secret_expires_at = Set(Some(old_until));
    am.secret = Set(new_secret);
    am.updated_at = Set(now);
    am.update(db).await
}

fn matches(endpoint: &endpoints::Model, event: &events::Model) -> bool {
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
    let mut q = events::Entity::find()
        .filter(events::Column::FannedOut.eq(false))
        .order_by_asc(events::Column::OrganizationId)
        .order_by_asc(events::Column::Sequence)
        .limit(limit);
    q = db::for_update(q, db);
    let batch = q.all(db).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let targets: Vec<endpoints::Model> = endpoints::Entity::find()
        .filter(endpoints::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let mut rows = Vec::new();
    for e in &batch {
        for ep in targets.iter().filter(|ep| matches(ep, e)) {
            // A disabled endpoint's deliveries are dead at once, so a recover replays them.
            let (status, completed, error) = if ep.enabled {
                (PENDING, None, None)
            } else {
                (DEAD, Some(now), Some("endpoint disabled".to_string()))
            };
            rows.push(deliveries::ActiveModel {
                id: Set(ids::new_id(ids::DELIVERY)),
                event_id: Set(e.id.clone()),
                endpoint_id: Set(ep.id.clone()),
                organization_id: Set(e.organization_id.clone()),
                order_key: Set(e.user_id.clone().unwrap_or_default()),
                sequence: Set(e.sequence),
                status: Set(status.to_string()),
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

/// A claimed delivery with what sending it needs.
pub struct Claimed {
    pub delivery: deliveries::Model,
    pub payload: Value,
    pub endpoint: endpoints::Model,
}

/// Claims up to `limit` due deliveries for `owner` under lease `lease_id` until
/// `lease_until`. Due: pending, its next attempt reached, no live lease, its endpoint
/// enabled, and no earlier pending delivery of the same user to the same endpoint (the
/// per-user order). PostgreSQL skips rows another process is claiming; SQLite's write
/// transaction excludes other claimers.
pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    lease_id: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let backend = db.get_database_backend();
    let skip_locked = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE deliveries SET lease_owner = $1, lease_id = $2, lease_expires_at = $3, updated_at = $4 \
         WHERE id IN ( \
           SELECT d.id FROM deliveries d \
           WHERE d.status = 'pending' AND d.next_attempt_at <= $4 \
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $4) \
             AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled AND e.deleted_at IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
                 AND p.organization_id = d.organization_id AND p.order_key = d.order_key \
                 AND p.sequence < d.sequence AND p.status = 'pending') \
           ORDER BY d.next_attempt_at, d.sequence \
           LIMIT $5 {skip_locked}) \
         RETURNING *"
    );
    let sql = if backend == DbBackend::Postgres {
        sql
    } else {
        // SQLite numbers its parameters ?1, ?2…; the same number may appear twice.
        sql.replace('$', "?")
    };
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            owner.into(),
            lease_id.into(),
            lease_until.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    );
    let claimed = deliveries::Entity::find()
        .from_raw_sql(stmt)
        .all(db)
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let event_ids: Vec<&str> = claimed.iter().map(|d| d.event_id.as_str()).collect();
    let payloads: std::collections::HashMap<String, Value> = events::Entity::find()
        .filter(events::Column::Id.is_in(event_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.payload))
        .collect();
    let endpoint_ids: Vec<&str> = claimed.iter().map(|d| d.endpoint_id.as_str()).collect();
    let eps: std::collections::HashMap<String, endpoints::Model> = endpoints::Entity::find()
        .filter(endpoints::Column::Id.is_in(endpoint_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
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

/// Records the attempt and moves the delivery on, only if `lease_id` still holds it (a
/// process whose lease expired and was taken over must not overwrite the new owner's
/// work). Returns `false` when the lease was lost. The attempt row is written either way.
pub async fn complete(
    db: &impl ConnectionTrait,
    claimed: &deliveries::Model,
    owner: &str,
    lease_id: &str,
    result: &AttemptResult,
    next: &Next,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let attempt = claimed.attempts + 1;
    let (status, next_at, completed) = match next {
        Next::Succeeded => (SUCCEEDED, claimed.next_attempt_at, Some(now)),
        Next::Retry(at) => (PENDING, *at, None),
        Next::Dead => (DEAD, claimed.next_attempt_at, Some(now)),
    };
    let res = without_lease(deliveries::Entity::update_many())
        .col_expr(deliveries::Column::Status, status.into())
        .col_expr(deliveries::Column::Attempts, attempt.into())
        .col_expr(deliveries::Column::NextAttemptAt, next_at.into())
        .col_expr(deliveries::Column::CompletedAt, completed.into())
        .col_expr(
            deliveries::Column::LastStatusCode,
            result.status_code.into(),
        )
        .col_expr(deliveries::Column::LastError, result.error.clone().into())
        .col_expr(deliveries::Column::UpdatedAt, now.into())
        .filter(deliveries::Column::Id.eq(claimed.id.as_str()))
        .filter(deliveries::Column::LeaseId.eq(lease_id))
        .exec(db)
        .await?;
    let held = res.rows_affected > 0;
    let outcome = match (held, next) {
        (false, _) => "lease_lost",
        (true, Next::Succeeded) => "success",
        (true, _) => "failure",
    };
    delivery_attempts::Entity::insert(delivery_attempts::ActiveModel {
        id: Set(ids::new_id(ids::ATTEMPT)),
        delivery_id: Set(claimed.id.clone()),
        event_id: Set(claimed.event_id.clone()),
        endpoint_id: Set(claimed.endpoint_id.clone()),
        attempt: Set(attempt),
        owner: Set(owner.to_string()),
        started_at: Set(result.started_at),
        duration_ms: Set(result.duration_ms),
        status_code: Set(result.status_code),
        error: Set(result.error.clone()),
        response_body: Set(result.response_body.clone()),
        outcome: Set(outcome.into()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(held)
}

/// Tracks an endpoint's run of failures; returns when it started (`None` after success).
pub async fn record_endpoint_health(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    success: bool,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let q = endpoints::Entity::update_many().filter(endpoints::Column::Id.eq(endpoint_id));
    if success {
        // Only a failing endpoint is written to: an UPDATE that matches nothing takes no
        // row lock, so concurrent successes do not queue on the endpoint's row.
        q.col_expr(
            endpoints::Column::FailingSince,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(endpoints::Column::FailingSince.is_not_null())
        .exec(db)
        .await?;
        return Ok(None);
    }
    q.col_expr(endpoints::Column::FailingSince, Some(now).into())
        .filter(endpoints::Column::FailingSince.is_null())
        .exec(db)
        .await?;
    Ok(find_endpoint(db, endpoint_id)
        .await?
        .and_then(|e| e.failing_since))
}

/// Gives back the leases of `owner` (graceful shutdown), so another process can take the
/// deliveries at once instead of after the lease expires.
pub async fn release_leases(db: &impl ConnectionTrait, owner: &str) -> Result<u64, DbErr> {
    let res = without_lease(deliveries::Entity::update_many())
        .filter(deliveries::Column::LeaseOwner.eq(owner))
        .filter(deliveries::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deliveries for the operator, newest first, by status and endpoint.
pub async fn list_deliveries(
    db: &impl ConnectionTrait,
    status: Option<&str>,
    endpoint_id: Option<&str>,
    event_id: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<deliveries::Model>, DbErr> {
    let mut q = deliveries::Entity::find();
    if let Some(s) = status {
        q = q.filter(deliveries::Column::Status.eq(s));
    }
    if let Some(e) = endpoint_id {
        q = q.filter(deliveries::Column::EndpointId.eq(e));
    }
    if let Some(e) = event_id {
        q = q.filter(deliveries::Column::EventId.eq(e));
    }
    if let Some(a) = after {
        q = q.filter(deliveries::Column::Id.gt(a));
    }
    q.order_by_asc(deliveries::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn find_event(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<events::Model>, DbErr> {
    events::Entity::find_by_id(id.to_string()).one(db).await
}
