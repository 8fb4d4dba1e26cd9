//! Application sessions, registered by the application and revoked by deprovisioning.

use chrono::{DateTime, Utc};
use entity::sessions;
use ids::{OrganizationId, UserId};
use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    user_id: &UserId,
    expires_at: DateTime<Utc>,
) -> Result<sessions::Model, DbErr> {
    let model = sessions::ActiveModel {
        id: Set(ids::new_id(ids::SESSION)),
        organization_id: Set(organization_id.clone()),
        user_id: Set(user_id.clone()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    };
    sessions::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<sessions::Model>, DbErr> {
    sessions::Entity::find_by_id(id.to_string()).one(db).await
}

/// Revokes the user's live sessions in one organization; returns how many.
#[tracing::instrument(skip_all, fields(organization_id, user_id))]
pub async fn revoke_for_membership(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    user_id: &UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let revoked = revoke_for_users(
        db,
        organization_id,
        std::slice::from_ref(user_id),
        reason,
        now,
    )
    .await?;
    Ok(revoked.values().sum())
}

/// Revokes the live sessions of these users in one organization; returns the count per
/// user (users without a live session are absent).
#[tracing::instrument(skip_all, fields(organization_id, users = user_ids.len()))]
pub async fn revoke_for_users(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    user_ids: &[UserId],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<HashMap<UserId, u64>, DbErr> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    // One statement: the revoked sessions' users come back from the UPDATE itself.
    let mut update = Query::update();
    update
        .table(sessions::Entity)
        .value(sessions::Column::RevokedAt, Expr::val(now))
        .value(sessions::Column::RevokedReason, Expr::val(reason))
        .and_where(Expr::col(sessions::Column::OrganizationId).eq(organization_id))
        .and_where(Expr::col(sessions::Column::UserId).is_in(user_ids.iter()))
        .and_where(Expr::col(sessions::Column::RevokedAt).is_null())
        .returning_col(sessions::Column::UserId);
    let mut counts: HashMap<UserId, u64> = HashMap::new();
    for row in db.query_all(&update).await? {
        *counts
            .entry(row.try_get_by_index::<UserId>(0)?)
            .or_default() += 1;
    }
    Ok(counts)
}

/// Revokes one session; `false` when it was already revoked.
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Some(now).into())
        .col_expr(
            sessions::Column::RevokedReason,
            Some(reason.to_string()).into(),
        )
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Every session of the account, oldest first, at most `limit`.
pub async fn for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
    limit: u64,
) -> Result<Vec<sessions::Model>, DbErr> {
    sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user_id))
        .order_by_asc(sessions::Column::CreatedAt)
        .order_by_asc(sessions::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
