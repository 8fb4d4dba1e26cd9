//! Webhook endpoints: registration, secrets and their rotation, slots, health (the
//! failure run and the circuit breaker), and disabling or recovering one, which ends or
//! replays its deliveries (`deliveries`).

use chrono::{DateTime, Utc};
use entity::{deliveries, webhook_endpoints as endpoints};
use ids::OrganizationId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::Value;

use crate::db;

use super::deliveries::{DeliveryStatus, finish_pending, replay_filter};

pub struct NewEndpoint {
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub organization_id: Option<OrganizationId>,
    pub max_in_flight: Option<i32>,
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
        max_in_flight: Set(new.max_in_flight),
        consecutive_failures: Set(0),
        breaker_open_until: Set(None),
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

/// Deletes an endpoint (the caller found it live); its pending deliveries are cancelled.
pub async fn delete_endpoint(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    endpoints::Entity::update_many()
        .col_expr(endpoints::Column::DeletedAt, Some(now).into())
        .col_expr(endpoints::Column::Enabled, false.into())
        .col_expr(endpoints::Column::UpdatedAt, now.into())
        .filter(endpoints::Column::Id.eq(id))
        .filter(endpoints::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    finish_pending(db, id, DeliveryStatus::Cancelled, "endpoint deleted", now).await?;
    Ok(())
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
    finish_pending(db, id, DeliveryStatus::Dead, "endpoint disabled", now).await?;
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
    // The operator says the endpoint is back: its breaker closes.
    am.consecutive_failures = Set(0);
    am.breaker_open_until = Set(None);
    am.updated_at = Set(now);
    am.update(db).await?;
    let res = replay_filter(deliveries::Entity::update_many(), now)
        .filter(deliveries::Column::EndpointId.eq(endpoint.id.as_str()))
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Dead))
        .filter(deliveries::Column::CompletedAt.gte(since))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn set_max_in_flight(
    db: &impl ConnectionTrait,
    endpoint: &endpoints::Model,
    max_in_flight: Option<i32>,
    now: DateTime<Utc>,
) -> Result<endpoints::Model, DbErr> {
    let mut am = endpoint.clone().into_active_model();
    am.max_in_flight = Set(max_in_flight);
    am.updated_at = Set(now);
    am.update(db).await
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

/// Tracks an endpoint's health after attempts (successes `true`, in order): its run of
/// failures (`failing_since`) and its circuit breaker. Returns when the current run of
/// failures started (`None` after a success). An endpoint that only succeeds, and was
/// healthy, is not written to: an UPDATE that matches nothing takes no row lock, so
/// concurrent successes do not queue on the endpoint's row.
pub async fn record_endpoint_health(
    db: &impl ConnectionTrait,
    endpoint_id: &str,
    outcomes: &[bool],
    policy: &crate::domain::breaker::Policy,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    if outcomes.iter().all(|ok| *ok) {
        endpoints::Entity::update_many()
            .col_expr(
                endpoints::Column::FailingSince,
                Option::<DateTime<Utc>>::None.into(),
            )
            .col_expr(endpoints::Column::ConsecutiveFailures, 0.into())
            .col_expr(
                endpoints::Column::BreakerOpenUntil,
                Option::<DateTime<Utc>>::None.into(),
            )
            .filter(endpoints::Column::Id.eq(endpoint_id))
            .filter(
                sea_orm::Condition::any()
                    .add(endpoints::Column::FailingSince.is_not_null())
                    .add(
                        sea_orm::sea_query::Expr::col(endpoints::Column::ConsecutiveFailures).ne(0),
                    ),
            )
            .exec(db)
            .await?;
        return Ok(None);
    }
    let mut q = endpoints::Entity::find_by_id(endpoint_id.to_string());
    q = db::for_update(q, db);
    let Some(ep) = q.one(db).await? else {
        return Ok(None);
    };
    let (mut failures, mut open_until) = (ep.consecutive_failures, ep.breaker_open_until);
    let mut failing_since = ep.failing_since;
    for ok in outcomes {
        let (f, until) = crate::domain::breaker::after_attempt(policy, failures, *ok, now);
        failures = f;
        open_until = until.or(if *ok { None } else { open_until });
        failing_since = if *ok {
            None
        } else {
            failing_since.or(Some(now))
        };
    }
    let mut am = ep.into_active_model();
    am.consecutive_failures = Set(failures);
    am.breaker_open_until = Set(open_until);
    am.failing_since = Set(failing_since);
    am.update(db).await?;
    Ok(failing_since)
}
