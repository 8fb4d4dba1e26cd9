//! Suspensions (the `suspensions` table): one row per suspended account.

use chrono::{DateTime, Utc};
use entity::suspensions;
use ids::UserId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

pub async fn find(
    db: &impl ConnectionTrait,
    user_id: &UserId,
) -> Result<Option<suspensions::Model>, DbErr> {
    suspensions::Entity::find_by_id(user_id.clone())
        .one(db)
        .await
}

/// Suspends the account, or changes the reason and end of its suspension (keeping when
/// it began).
pub async fn put(
    db: &impl ConnectionTrait,
    user_id: &UserId,
    reason: Option<String>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<suspensions::Model, DbErr> {
    suspensions::Entity::insert(suspensions::ActiveModel {
        user_id: Set(user_id.clone()),
        reason: Set(reason),
        suspended_at: Set(now),
        until: Set(until),
    })
    .on_conflict(
        OnConflict::column(suspensions::Column::UserId)
            .update_columns([suspensions::Column::Reason, suspensions::Column::Until])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    find(db, user_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("suspension just written".into()))
}

/// Lifts the suspension; `false` when there was none.
pub async fn remove(db: &impl ConnectionTrait, user_id: &UserId) -> Result<bool, DbErr> {
    let res = suspensions::Entity::delete_by_id(user_id.clone())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Drops the suspensions of accounts whose personal data is being erased (the reason may
/// name the person).
pub async fn remove_for_users(db: &impl ConnectionTrait, user_ids: &[UserId]) -> Result<(), DbErr> {
    for chunk in user_ids.chunks(500) {
        suspensions::Entity::delete_many()
            .filter(suspensions::Column::UserId.is_in(chunk.iter()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Accounts whose suspension's time is up at `now`, at most `limit`.
pub async fn ended(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<UserId>, DbErr> {
    suspensions::Entity::find()
        .select_only()
        .column(suspensions::Column::UserId)
        .filter(suspensions::Column::Until.lte(now))
        .order_by_asc(suspensions::Column::UserId)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}
