//! Accounts (the `users` table).

use chrono::{DateTime, Utc};
use entity::users;
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db;
use ids::UserId;

pub const TOMBSTONE_NAME: &str = "Deleted User";

pub async fn find(db: &impl ConnectionTrait, id: &UserId) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id.clone()).one(db).await
}

/// Creates an organization-private account: no identity key, so no other organization
/// can ever link to it.
#[tracing::instrument(skip_all)]
pub async fn create_private(
    db: &impl ConnectionTrait,
    email: Option<String>,
    display_name: Option<String>,
    now: DateTime<Utc>,
) -> Result<users::Model, DbErr> {
    users::Entity::insert(new_account(UserId::new(), None, email, display_name, now))
        .exec_with_returning(db)
        .await
}

/// A live account's row, as both kinds of creation insert it.
fn new_account(
    id: UserId,
    identity_key: Option<&str>,
    email: Option<String>,
    display_name: Option<String>,
    now: DateTime<Utc>,
) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(id),
        identity_key: Set(identity_key.map(str::to_string)),
        email: Set(email),
        display_name: Set(display_name),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        purge_after: Set(None),
        held_identity_key: Set(None),
    }
}

/// Finds the live account linked to this verified email or creates it; `true` when
/// created. `ON CONFLICT DO NOTHING` makes concurrent creation from two organizations
/// that verified the same domain safe.
#[tracing::instrument(skip_all)]
pub async fn find_or_create(
    db: &impl ConnectionTrait,
    identity_key: &str,
    email: Option<String>,
    display_name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(users::Model, bool), DbErr> {
    let new_id = UserId::new();
    let model = new_account(new_id.clone(), Some(identity_key), email, display_name, now);
    users::Entity::insert(model)
        .on_conflict(
            OnConflict::column(users::Column::IdentityKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let mut q = users::Entity::find().filter(users::Column::IdentityKey.eq(identity_key));
    q = db::for_update(q, db);
    let account = q
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("account just inserted".into()))?;
    let created = account.id == new_id;
    Ok((account, created))
}

/// Makes private accounts linkable under their verified email (`(account id, key)`
/// pairs): used when an organization verifies a domain its users are already in. A key
/// another account already holds is left alone: two existing accounts are never merged.
/// Returns the ids of the accounts that became linkable.
pub async fn link_private(
    db: &impl ConnectionTrait,
    pairs: &[(UserId, String)],
    now: DateTime<Utc>,
) -> Result<Vec<UserId>, DbErr> {
    let mut linked = Vec::new();
    for chunk in pairs.chunks(500) {
        let taken: std::collections::HashSet<String> = users::Entity::find()
            .select_only()
            .column(users::Column::IdentityKey)
            .filter(users::Column::IdentityKey.is_in(chunk.iter().map(|(_, k)| k.as_str())))
            .into_tuple::<Option<String>>()
            .all(db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut claimed = std::collections::HashSet::new();
        for (id, key) in chunk {
            if taken.contains(key) || !claimed.insert(key.as_str()) {
                continue;
            }
            let res = users::Entity::update_many()
                .col_expr(users::Column::IdentityKey, Some(key.clone()).into())
                .col_expr(users::Column::UpdatedAt, now.into())
                .filter(users::Column::Id.eq(id))
                .filter(users::Column::IdentityKey.is_null())
                .filter(users::Column::DeletedAt.is_null())
                .exec(db)
                .await?;
            if res.rows_affected > 0 {
                linked.push(id.clone());
            }
        }
    }
    Ok(linked)
}

/// Locks the accounts for the rest of the transaction (PostgreSQL), in id order.
pub async fn lock_many(db: &impl ConnectionTrait, ids: &[UserId]) -> Result<(), DbErr> {
    if ids.is_empty() || !db::supports_row_locks(db.get_database_backend()) {
        return Ok(());
    }
    users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Id.is_in(ids))
        .order_by_asc(users::Column::Id)
        .lock_exclusive()
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(())
}

/// Deletes accounts. Without a grace period (`purge_after` `None`) their personal data is
/// erased at once and the id stays as a tombstone. Within one, the account gives up its
/// identity at once (a new POST with that userName makes a new account) but keeps its
/// data, restorable, until `purge_after`.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn delete_many(
    db: &impl ConnectionTrait,
    ids: &[UserId],
    now: DateTime<Utc>,
    purge_after: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = users::Entity::update_many()
        .col_expr(users::Column::DeletedAt, Some(now).into())
        .col_expr(users::Column::UpdatedAt, now.into())
        .col_expr(users::Column::IdentityKey, Option::<String>::None.into());
    q = match purge_after {
        Some(at) => q
            .col_expr(
                users::Column::HeldIdentityKey,
                Expr::col(users::Column::IdentityKey),
            )
            .col_expr(users::Column::PurgeAfter, Some(at).into()),
        None => erase(q),
    };
    q.filter(users::Column::Id.is_in(ids))
        .filter(users::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

fn erase(q: sea_orm::UpdateMany<users::Entity>) -> sea_orm::UpdateMany<users::Entity> {
    q.col_expr(
        users::Column::HeldIdentityKey,
        Option::<String>::None.into(),
    )
    .col_expr(users::Column::Email, Option::<String>::None.into())
    .col_expr(
        users::Column::DisplayName,
        Some(TOMBSTONE_NAME.to_string()).into(),
    )
    .col_expr(
        users::Column::PurgeAfter,
        Option::<DateTime<Utc>>::None.into(),
    )
}

/// Ids of deleted accounts whose grace period is over, at most `limit`.
pub async fn due_for_purge(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<UserId>, DbErr> {
    users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::DeletedAt.is_not_null())
        .filter(users::Column::PurgeAfter.lte(now))
        .order_by_asc(users::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Erases the personal data of deleted accounts (the purge).
pub async fn erase_many(
    db: &impl ConnectionTrait,
    ids: &[UserId],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    erase(users::Entity::update_many())
        .col_expr(users::Column::UpdatedAt, now.into())
        .filter(users::Column::Id.is_in(ids))
        .filter(users::Column::DeletedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Undoes a deletion inside the grace period: the account takes its identity back.
pub async fn restore(
    db: &impl ConnectionTrait,
    account: &users::Model,
    now: DateTime<Utc>,
) -> Result<users::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut am = account.clone().into_active_model();
    am.identity_key = Set(account.held_identity_key.clone());
    am.held_identity_key = Set(None);
    am.deleted_at = Set(None);
    am.purge_after = Set(None);
    am.updated_at = Set(now);
    am.update(db).await
}
