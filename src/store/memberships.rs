//! Memberships and each organization's SCIM record of its users.

use chrono::{DateTime, Utc};
use entity::memberships::{self, Status};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::db;
use crate::domain::text::SearchKeys;
use crate::domain::{Membership, MembershipStatus};
use ids::{MembershipId, OrganizationId, UserId};

/// A membership row as the rules see it.
pub fn to_domain(m: &memberships::Model) -> Membership {
    Membership {
        id: m.id.clone(),
        scim_id: m.scim_id.clone(),
        organization_id: m.organization_id.clone(),
        user_id: m.user_id.clone(),
        status: status_of(m.status),
        external_id: m.external_id.clone(),
        view: None,
    }
}

/// The stored state as the rules name it.
pub fn status_of(s: Status) -> MembershipStatus {
    match s {
        Status::Active => MembershipStatus::Active,
        Status::Inactive => MembershipStatus::Inactive,
        Status::PendingInvite => MembershipStatus::PendingInvite,
    }
}

/// The state the rules decided, as stored.
pub fn stored(s: MembershipStatus) -> Status {
    match s {
        MembershipStatus::Active => Status::Active,
        MembershipStatus::Inactive => Status::Inactive,
        MembershipStatus::PendingInvite => Status::PendingInvite,
    }
}

/// The live membership of `user_id` in the organization, locked for update when `lock`.
pub async fn find_live(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    user_id: &UserId,
    lock: bool,
) -> Result<Option<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if lock {
        q = db::for_update(q, db);
    }
    q.one(db).await
}

/// The live membership the organization's IdP knows by `scim_id`, locked for update when
/// `lock`.
pub async fn find_live_by_scim_id(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    scim_id: &str,
    lock: bool,
) -> Result<Option<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::ScimId.eq(scim_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if lock {
        q = db::for_update(q, db);
    }
    q.one(db).await
}

/// The accounts behind these SCIM ids of live members of the organization: scim id ->
/// account id. Ids that name no live member are absent.
pub async fn accounts_of(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    scim_ids: &[String],
) -> Result<std::collections::HashMap<String, UserId>, DbErr> {
    let mut out = std::collections::HashMap::with_capacity(scim_ids.len());
    for chunk in scim_ids.chunks(500) {
        let rows: Vec<(String, UserId)> = memberships::Entity::find()
            .select_only()
            .column(memberships::Column::ScimId)
            .column(memberships::Column::UserId)
            .filter(memberships::Column::OrganizationId.eq(organization_id))
            .filter(memberships::Column::ScimId.is_in(chunk.iter()))
            .filter(memberships::Column::RemovedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// A page of (membership id, account id, userName key) of the organization's live
/// members after `after_id`, in id order.
pub async fn live_user_names_page(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    after_id: Option<&MembershipId>,
    limit: u64,
) -> Result<Vec<(MembershipId, UserId, Option<String>)>, DbErr> {
    let mut q = memberships::Entity::find()
        .select_only()
        .column(memberships::Column::Id)
        .column(memberships::Column::UserId)
        .column(memberships::Column::UserNameKey)
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if let Some(after) = after_id {
        q = q.filter(memberships::Column::Id.gt(after));
    }
    q.order_by_asc(memberships::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

pub async fn find_live_by_user_name(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    user_name_key: &str,
) -> Result<Option<memberships::Model>, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::UserNameKey.eq(user_name_key))
        .filter(memberships::Column::RemovedAt.is_null())
        .one(db)
        .await
}

/// Every membership of the user, removed ones included (the admin view).
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
) -> Result<Vec<memberships::Model>, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .order_by_asc(memberships::Column::Id)
        .all(db)
        .await
}

pub struct NewMembership<'a> {
    pub organization_id: &'a OrganizationId,
    pub user_id: &'a UserId,
    pub status: MembershipStatus,
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
    // The membership's own id is the id its IdP sees: opaque, never the account's.
    let id = MembershipId::new();
    let keys = SearchKeys::of(&m.record);
    let model = memberships::ActiveModel {
        scim_id: Set(id.to_string()),
        id: Set(id),
        organization_id: Set(m.organization_id.clone()),
        user_id: Set(m.user_id.clone()),
        status: Set(stored(m.status)),
        roles: Set(m.roles),
        external_id: Set(m.external_id),
        user_name: Set(Some(m.user_name.to_string())),
        user_name_key: Set(Some(m.user_name_key)),
        scim: Set(Some(m.record)),
        given_name_key: Set(keys.given_name),
        family_name_key: Set(keys.family_name),
        display_name_key: Set(keys.display_name),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        status_changed_at: Set(now),
        removed_at: Set(None),
        purge_after: Set(None),
        removed_with_account: Set(false),
        granted_roles: Set(None),
    };
    memberships::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

/// Writes a changed membership back, bumping its version. Only the columns whose value
/// changes are in the `UPDATE`: SQLite rewrites the entries of every index that names a
/// column of its `SET` list (or, for a partial index, whose condition does), changed or
/// not, so a deactivation that wrote every column touched the fourteen indexes of
/// `memberships` where it needs one (`status`).
pub async fn save(
    db: &impl ConnectionTrait,
    current: &memberships::Model,
    next: memberships::Model,
) -> Result<memberships::Model, DbErr> {
    let mut am: memberships::ActiveModel = current.clone().into();
    am.status.set_ne(next.status);
    am.roles.set_ne(next.roles);
    am.external_id.set_ne(next.external_id);
    am.user_name.set_ne(next.user_name);
    am.user_name_key.set_ne(next.user_name_key);
    let keys = next.scim.as_ref().map(SearchKeys::of).unwrap_or_default();
    am.given_name_key.set_ne(keys.given_name);
    am.family_name_key.set_ne(keys.family_name);
    am.display_name_key.set_ne(keys.display_name);
    am.scim.set_ne(next.scim);
    am.version = Set(current.version + 1);
    am.updated_at = Set(next.updated_at);
    am.status_changed_at.set_ne(next.status_changed_at);
    am.removed_at.set_ne(next.removed_at);
    am.update(db).await
}

/// A page of the organization's live memberships after `after_id`, in id order, locked
/// for update on PostgreSQL: the organization deletion walks the members with it. Their
/// SCIM records are not read (`scim` is `None`): a removal does not need them, and
/// decoding them was a tenth of a large organization's deletion.
pub async fn live_page(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    after_id: Option<&MembershipId>,
    limit: u64,
) -> Result<Vec<memberships::Model>, DbErr> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{IdenStatic, Iterable};
    let mut q = memberships::Entity::find()
        .select_only()
        .columns(memberships::Column::iter().filter(|c| !matches!(c, memberships::Column::Scim)))
        .column_as(Expr::cust("NULL"), memberships::Column::Scim.as_str())
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null());
    if let Some(after) = after_id {
        q = q.filter(memberships::Column::Id.gt(after));
    }
    q = db::for_update(q, db);
    q.order_by_asc(memberships::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Live memberships of the organization that have been INACTIVE since `cutoff` or
/// longer (the retention policy), locked for update on PostgreSQL.
pub async fn inactive_since(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null())
        .filter(memberships::Column::Status.eq(Status::Inactive))
        .filter(memberships::Column::StatusChangedAt.lte(cutoff));
    q = db::for_update(q, db);
    q.order_by_asc(memberships::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Every live membership of the user, locked for update on PostgreSQL.
pub async fn live_for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
) -> Result<Vec<memberships::Model>, DbErr> {
    let mut q = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::RemovedAt.is_null());
    q = db::for_update(q, db);
    q.order_by_asc(memberships::Column::OrganizationId)
        .all(db)
        .await
}

/// Takes the row locks on every live membership of the organization without reading
/// them (PostgreSQL), so a long organization deletion is never a deadlock partner of a
/// SCIM write, which locks its membership first. A no-op on SQLite, where the write
/// transaction already excludes every other writer.
pub async fn lock_all_live(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<(), DbErr> {
    if !db::supports_row_locks(db.get_database_backend()) {
        return Ok(());
    }
    // One row back, not one per member; and a lock, not a new version of every row
    // (an `UPDATE … SET version = version` was a fifth of the deletion's time).
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT count(*) FROM (SELECT 1 FROM memberships \
         WHERE organization_id = $1 AND removed_at IS NULL FOR UPDATE) AS locked",
        [organization_id.into()],
    ))
    .await?;
    Ok(())
}

/// What the users of a removal have besides the memberships removed.
#[derive(Debug, Default)]
pub struct Others {
    /// Those with a live membership anywhere else.
    pub live: std::collections::HashSet<UserId>,
    /// Those with any other membership row, live or removed (whose records an account
    /// deletion erases too).
    pub any: std::collections::HashSet<UserId>,
}

/// The memberships of `user_ids` other than `removed` (one statement).
pub async fn others_of(
    db: &impl ConnectionTrait,
    user_ids: &[UserId],
    removed: &[MembershipId],
) -> Result<Others, DbErr> {
    let mut others = Others::default();
    if user_ids.is_empty() {
        return Ok(others);
    }
    let mut q = memberships::Entity::find()
        .select_only()
        .column(memberships::Column::UserId)
        .column(memberships::Column::RemovedAt)
        .filter(memberships::Column::UserId.is_in(user_ids.iter()));
    if !removed.is_empty() {
        q = q.filter(memberships::Column::Id.is_not_in(removed.iter()));
    }
    let rows: Vec<(UserId, Option<DateTime<Utc>>)> = q.into_tuple().all(db).await?;
    for (user, removed_at) in rows {
        if removed_at.is_none() {
            others.live.insert(user.clone());
        }
        others.any.insert(user);
    }
    Ok(others)
}

/// Soft-deletes memberships: `INACTIVE`, `removed_at` set. Their records are erased at
/// once, or kept until `purge_after` when a grace period applies.
pub async fn mark_removed(
    db: &impl ConnectionTrait,
    ids: &[MembershipId],
    now: DateTime<Utc>,
    purge_after: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    if ids.is_empty() {
        return Ok(());
    }
    let inactive = || sea_orm::ActiveEnum::into_value(Status::Inactive);
    // The status changes (and with it `status_changed_at`) unless already INACTIVE.
    let status_changed_at = sea_orm::sea_query::CaseStatement::new()
        .case(
            Expr::col(memberships::Column::Status).ne(inactive()),
            Expr::val(now),
        )
        .finally(Expr::col(memberships::Column::StatusChangedAt));
    let mut q = memberships::Entity::update_many()
        .col_expr(
            memberships::Column::StatusChangedAt,
            status_changed_at.into(),
        )
        .col_expr(memberships::Column::Status, inactive().into())
        .col_expr(memberships::Column::RemovedAt, Some(now).into())
        .col_expr(memberships::Column::UpdatedAt, now.into())
        .col_expr(
            memberships::Column::Version,
            Expr::col(memberships::Column::Version).add(1),
        )
        .col_expr(memberships::Column::PurgeAfter, purge_after.into());
    if purge_after.is_none() {
        q = erase_record(q);
    }
    q.filter(memberships::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

fn erase_record(
    q: sea_orm::UpdateMany<memberships::Entity>,
) -> sea_orm::UpdateMany<memberships::Entity> {
    q.col_expr(memberships::Column::Scim, Option::<Value>::None.into())
        .col_expr(
            memberships::Column::GivenNameKey,
            Option::<String>::None.into(),
        )
        .col_expr(
            memberships::Column::FamilyNameKey,
            Option::<String>::None.into(),
        )
        .col_expr(
            memberships::Column::DisplayNameKey,
            Option::<String>::None.into(),
        )
        .col_expr(memberships::Column::UserName, Option::<String>::None.into())
        .col_expr(
            memberships::Column::UserNameKey,
            Option::<String>::None.into(),
        )
        .col_expr(
            memberships::Column::ExternalId,
            Option::<String>::None.into(),
        )
        .col_expr(memberships::Column::Roles, Value::Array(Vec::new()).into())
}

/// Flags memberships as removed by their account's deletion (a restore brings them back).
pub async fn mark_removed_with_account(
    db: &impl ConnectionTrait,
    ids: &[MembershipId],
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    memberships::Entity::update_many()
        .col_expr(memberships::Column::RemovedWithAccount, true.into())
        .filter(memberships::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Erases every organization's copy of these users' SCIM records (account erasure),
/// but for the memberships in `erased` (removed with their records erased in the same
/// transaction: writing them again doubled the cost of a large organization's deletion).
pub async fn erase_all_for_users(
    db: &impl ConnectionTrait,
    user_ids: &[UserId],
    erased: &[MembershipId],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let mut q = erase_record(memberships::Entity::update_many())
        .col_expr(memberships::Column::UpdatedAt, now.into())
        .col_expr(
            memberships::Column::PurgeAfter,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(memberships::Column::UserId.is_in(user_ids.iter()));
    if !erased.is_empty() {
        q = q.filter(memberships::Column::Id.is_not_in(erased));
    }
    q.exec(db).await?;
    Ok(())
}

/// Erases the records of removed memberships whose grace period is over; returns them as
/// (organization, account). Bounded by `limit` so a large backlog is purged in short
/// transactions.
pub async fn purge_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(OrganizationId, UserId)>, DbErr> {
    let due: Vec<(MembershipId, OrganizationId, UserId)> = memberships::Entity::find()
        .select_only()
        .column(memberships::Column::Id)
        .column(memberships::Column::OrganizationId)
        .column(memberships::Column::UserId)
        .filter(memberships::Column::PurgeAfter.lte(now))
        .filter(memberships::Column::RemovedAt.is_not_null())
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&MembershipId> = due.iter().map(|(id, _, _)| id).collect();
    erase_record(memberships::Entity::update_many())
        .col_expr(memberships::Column::UpdatedAt, now.into())
        .col_expr(
            memberships::Column::PurgeAfter,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(memberships::Column::Id.is_in(ids))
        .filter(memberships::Column::RemovedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(due.into_iter().map(|(_, org, user)| (org, user)).collect())
}

/// Memberships a restore may bring back: removed with the account and not yet purged.
pub async fn restorable_for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
) -> Result<Vec<memberships::Model>, DbErr> {
    memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::RemovedWithAccount.eq(true))
        .filter(memberships::Column::RemovedAt.is_not_null())
        .filter(memberships::Column::Scim.is_not_null())
        .order_by_asc(memberships::Column::OrganizationId)
        .all(db)
        .await
}

/// Brings a removed membership back, INACTIVE.
pub async fn restore(
    db: &impl ConnectionTrait,
    current: &memberships::Model,
    now: DateTime<Utc>,
) -> Result<memberships::Model, DbErr> {
    let mut am: memberships::ActiveModel = current.clone().into();
    am.status = Set(Status::Inactive);
    am.removed_at = Set(None);
    am.purge_after = Set(None);
    am.removed_with_account = Set(false);
    am.version = Set(current.version + 1);
    am.updated_at = Set(now);
    am.status_changed_at = Set(now);
    am.update(db).await
}

/// What `/Users` or `/Groups` lists: the organization's live memberships.
pub fn listed(organization_id: &OrganizationId) -> sea_orm::Select<memberships::Entity> {
    memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null())
}

/// How many live members the organization has.
pub async fn count_live(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    memberships::Entity::find()
        .filter(memberships::Column::OrganizationId.eq(organization_id))
        .filter(memberships::Column::RemovedAt.is_null())
        .count(db)
        .await
}

/// How many live members of the organization are `ACTIVE`.
pub async fn count_active(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    listed(organization_id)
        .filter(memberships::Column::Status.eq(Status::Active))
        .count(db)
        .await
}

/// The live memberships of the organization among `ids`, in id order, locked for update
/// when `lock` (in id order, as every use case that locks several does).
pub async fn find_live_by_ids(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    ids: &[MembershipId],
    lock: bool,
) -> Result<Vec<memberships::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = listed(organization_id)
        .filter(memberships::Column::Id.is_in(ids))
        .order_by_asc(memberships::Column::Id);
    if lock {
        q = db::for_update(q, db);
    }
    q.all(db).await
}

/// Which members an operator lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFilter {
    Active,
    Inactive,
    /// Soft-deleted memberships (their records may be erased).
    Removed,
    /// Every membership, removed ones included.
    All,
}

impl MemberFilter {
    /// `ACTIVE`, `INACTIVE`, `removed` or `all`, as the admin API, the console and the
    /// command line take it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "INACTIVE" => Some(Self::Inactive),
            "removed" => Some(Self::Removed),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// What `parse` refuses, in words.
    pub const EXPECTED: &str = "ACTIVE, INACTIVE, removed or all";
}

/// A membership's state as operators read it: its status, or `removed` once removed.
pub fn shown_status(m: &memberships::Model) -> &'static str {
    if m.removed_at.is_some() {
        "removed"
    } else {
        status_of(m.status).as_str()
    }
}

/// A page of the organization's memberships in id order after `after`: live ones (by
/// status), removed ones, or all; `q` matches the userName or display name (case-insensitive).
pub async fn admin_page(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    filter: Option<MemberFilter>,
    q: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<memberships::Model>, DbErr> {
    use sea_orm::sea_query::LikeExpr;
    let mut query =
        memberships::Entity::find().filter(memberships::Column::OrganizationId.eq(organization_id));
    query = match filter {
        None => query.filter(memberships::Column::RemovedAt.is_null()),
        Some(MemberFilter::Active) => query
            .filter(memberships::Column::RemovedAt.is_null())
            .filter(memberships::Column::Status.eq(Status::Active)),
        Some(MemberFilter::Inactive) => query
            .filter(memberships::Column::RemovedAt.is_null())
            .filter(memberships::Column::Status.ne(Status::Active)),
        Some(MemberFilter::Removed) => query.filter(memberships::Column::RemovedAt.is_not_null()),
        Some(MemberFilter::All) => query,
    };
    if let Some(q) = q {
        let pattern = format!(
            "%{}%",
            super::organizations::like_escaped(&crate::domain::text::fold(q.trim()))
        );
        query = query.filter(
            sea_orm::Condition::any()
                .add(
                    memberships::Column::UserNameKey
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(memberships::Column::DisplayNameKey.like(LikeExpr::new(pattern).escape('\\'))),
        );
    }
    super::after_page(db, query, memberships::Column::Id, after, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn every_stored_status_reads_back_under_its_own_name() {
        for s in Status::iter() {
            assert_eq!(stored(status_of(s)), s);
            assert_eq!(s.to_value(), status_of(s).as_str());
        }
    }
}
