//! Accounts (the `users` table).

use chrono::{DateTime, Utc};
use entity::users;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use crate::{db, ids};

pub const TOMBSTONE_NAME: &str = "Deleted User";

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id.to_string()).one(db).await
}

/// Locks the account row for the rest of the transaction (PostgreSQL), so that two
/// organizations removing the same user cannot both see the other's membership as live.
pub async fn lock(db: &impl ConnectionTrait, id: &str) -> Result<Option<users::Model>, DbErr> {
    let mut q = users::Entity::find_by_id(id.to_string());
    if db::supports_row_locks(db.get_database_backend()) {
        q = q.lock_exclusive();
    }
    q.one(db).await
}

/// Finds the live account with this identity or creates it; `true` when created.
/// `ON CONFLICT DO NOTHING` makes concurrent creation from two organizations safe.
#[tracing::instrument(skip_all)]
pub async fn find_or_create(
    db: &impl ConnectionTrait,
    identity_key: &str,
    email: Option<String>,
    display_name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(users::Model, bool), DbErr> {
    let new_id = ids::new_id(ids::USER);
    let model = users::ActiveModel {
        id: Set(new_id.clone()),
        identity_key: Set(Some(identity_key.to_string())),
        email: Set(email),
        display_name: Set(display_name),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        purge_after: Set(None),
    };
    users::Entity::insert(model)
        .on_conflict(
            OnConflict::column(users::Column::IdentityKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let mut q = users::Entity::find().filter(users::Column::IdentityKey.eq(identity_key));
    if db::supports_row_locks(db.get_database_backend()) {
        q = q.lock_exclusive();
    }
    let account = q
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("account just inserted".into()))?;
    let created = account.id == new_id;
    Ok((account, created))
}

/// Deletes the account: personal data erased, the id kept as a tombstone.
#[tracing::instrument(skip_all, fields(user_id = id))]
pub async fn erase(db: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::IdentityKey, Option::<String>::None.into())
        .col_expr(users::Column::Email, Option::<String>::None.into())
        .col_expr(
            users::Column::DisplayName,
            Some(TOMBSTONE_NAME.to_string()).into(),
        )
        .col_expr(users::Column::DeletedAt, Some(now).into())
        .col_expr(users::Column::UpdatedAt, now.into())
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
