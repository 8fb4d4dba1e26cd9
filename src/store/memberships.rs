//! Memberships and each organization's SCIM record of its users.

use chrono::{DateTime, Utc};
use entity::memberships;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::{db, ids};

/// Narrows a list query to an index: what a filter's top-level equalities allow.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub user_id: Option<String>,
    pub user_name_key: Option<String>,
    pub external_id: Option<String>,
}

/// The live membership of `user_id` in the organization, locked for update when `lock`.
pub async fn find_live(
    db: &impl ConnectionTrait,
    organization_id: &str,
    user_id: &str,
    lock: bool,
) -> Result<Option<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if lock && db::supports_row_locks(db.get_database_backend()) {
        q = q.lock_exclusive();
    }
    q.one(db).await
}

pub async fn find_live_by_user_name(
    db: &impl ConnectionTrait,
    organization_id: &str,
    user_name_key: &str,
) -> Result<Option<memberships::Model>, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::UserNameKey.eq(user_name_key))
        .filter(memberships::Column::RemovedAt.is_null())
        .one(db)
        .await
}

/// Live memberships of the organization in creation order (a stable order for paging),
/// narrowed by `lookup`.
pub async fn list_live(
    db: &impl ConnectionTrait,
    organization_id: &str,
    lookup: &Lookup,
) -> Result<Vec<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if let Some(v) = &lookup.user_id {
        q = q.filter(memberships::Column::UserId.eq(v.as_str()));
    }
    if let Some(v) = &lookup.user_name_key {
        q = q.filter(memberships::Column::UserNameKey.eq(v.as_str()));
    }
    if let Some(v) = &lookup.external_id {
        q = q.filter(memberships::Column::ExternalId.eq(v.as_str()));
    }
    q.order_by_asc(memberships::Column::Id).all(db).await
}

/// Every membership of the user, removed ones included (the admin view).
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<memberships::Model>, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .order_by_asc(memberships::Column::Id)
        .all(db)
        .await
}

pub async fn count_other_live(
    db: &impl ConnectionTrait,
    user_id: &str,
    except_membership_id: &str,
) -> Result<u64, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::RemovedAt.is_null())
        .filter(memberships::Column::Id.ne(except_membership_id))
        .count(db)
        .await
}

pub struct NewMembership<'a> {
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub status: &'a str,
    pub external_id: Option<String>,
    pub user_name: &'a str,
    pub user_name_key: String,
    pub roles: Value,
    pub record: Value,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    m: NewMembership<'_>,
    now: DateTime<Utc>,
) -> Result<memberships::Model, DbErr> {
    let model = memberships::ActiveModel {
        id: Set(ids::new_id(ids::MEMBERSHIP)),
        organization_id: Set(m.organization_id.to_string()),
        user_id: Set(m.user_id.to_string()),
        status: Set(m.status.to_string()),
        roles: Set(m.roles),
        external_id: Set(m.external_id),
        user_name: Set(Some(m.user_name.to_string())),
        user_name_key: Set(Some(m.user_name_key)),
        scim: Set(Some(m.record)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        status_changed_at: Set(now),
        removed_at: Set(None),
    };
    memberships::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

/// Writes a changed membership back, bumping its version.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &memberships::Model,
    next: memberships::Model,
) -> Result<memberships::Model, DbErr> {
    let mut am: memberships::ActiveModel = current.clone().into();
    am.status = Set(next.status);
    am.roles = Set(next.roles);
    am.external_id = Set(next.external_id);
    am.user_name = Set(next.user_name);
    am.user_name_key = Set(next.user_name_key);
    am.scim = Set(next.scim);
    am.version = Set(current.version + 1);
    am.updated_at = Set(next.updated_at);
    am.status_changed_at = Set(next.status_changed_at);
    am.removed_at = Set(next.removed_at);
    am.update(db).await
}

/// Erases every organization's copy of the user's SCIM record (account deletion).
pub async fn erase_all_for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    memberships::Entity::update_many()
        .col_expr(memberships::Column::Scim, Option::<Value>::None.into())
        .col_expr(memberships::Column::UserName, Option::<String>::None.into())
        .col_expr(
            memberships::Column::UserNameKey,
            Option::<String>::None.into(),
        )
        .col_expr(
            memberships::Column::ExternalId,
            Option::<String>::None.into(),
        )
        .col_expr(memberships::Column::UpdatedAt, now.into())
        .filter(memberships::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
