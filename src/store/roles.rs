//! Roles from groups as stored: the organization's mapping (one JSON document on its
//! row) and each membership's computed roles.

use std::collections::HashSet;

use entity::{groups, memberships, organizations};
use ids::{GroupId, MembershipId, OrganizationId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Iterable, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::domain::roles::RoleMapping;

/// The organization's mapping (empty when none was set). With `lock`, the organization's
/// row is locked for update on PostgreSQL, so a change that recomputes roles and a change
/// of the mapping never interleave (each takes it after its memberships: the order of
/// locks everywhere, the organization's row last).
pub async fn mapping(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    lock: bool,
) -> Result<RoleMapping, DbErr> {
    let mut q = organizations::Entity::find_by_id(organization_id.clone())
        .select_only()
        .column(organizations::Column::RoleMapping);
    // `FOR NO KEY UPDATE`, as the sequence reservation's own update takes: it does not
    // wait for the key-share locks this unit's inserts (foreign keys) took on the row,
    // which a plain `FOR UPDATE` would, in a circle, with another unit doing the same.
    if lock && crate::db::supports_row_locks(db.get_database_backend()) {
        q = q.lock(sea_orm::sea_query::LockType::NoKeyUpdate);
    }
    let raw: Option<Option<Value>> = q.into_tuple().one(db).await?;
    Ok(RoleMapping::from_stored(raw.flatten().as_ref()))
}

/// Replaces the organization's mapping (`None` when it is empty).
pub async fn set_mapping(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    mapping: &RoleMapping,
) -> Result<(), DbErr> {
    let stored = (!mapping.is_empty()).then(|| mapping.to_value());
    organizations::Entity::update_many()
        .col_expr(organizations::Column::RoleMapping, Expr::val(stored))
        .filter(organizations::Column::Id.eq(organization_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Of `ids`, the groups of the organization that exist.
pub async fn existing_groups(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    ids: &[&GroupId],
) -> Result<HashSet<GroupId>, DbErr> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<GroupId> = groups::Entity::find()
            .select_only()
            .column(groups::Column::Id)
            .filter(groups::Column::OrganizationId.eq(organization_id))
            .filter(groups::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(found);
    }
    Ok(out)
}

/// The organization's live memberships among these SCIM ids, in id order, locked for
/// update on PostgreSQL; without their SCIM records.
pub async fn live_by_scim_ids(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    scim_ids: &[String],
) -> Result<Vec<memberships::Model>, DbErr> {
    let mut out = Vec::new();
    for chunk in scim_ids.chunks(500) {
        // Their SCIM records are not read (`scim` is `None`): roles do not need them.
        let q = memberships::Entity::find()
            .select_only()
            .columns(
                memberships::Column::iter().filter(|c| !matches!(c, memberships::Column::Scim)),
            )
            .column_as(Expr::cust("NULL"), memberships::Column::Scim.as_str())
            .filter(memberships::Column::OrganizationId.eq(organization_id))
            .filter(memberships::Column::RemovedAt.is_null())
            .filter(memberships::Column::ScimId.is_in(chunk.iter()))
            .order_by_asc(memberships::Column::Id);
        out.extend(crate::db::for_update(q, db).all(db).await?);
    }
    Ok(out)
}

/// Records a membership's computed roles.
pub async fn set_granted(
    db: &impl ConnectionTrait,
    membership_id: &MembershipId,
    roles: &[String],
) -> Result<(), DbErr> {
    memberships::Entity::update_many()
        .col_expr(
            memberships::Column::GrantedRoles,
            Expr::val(Some(serde_json::json!(roles))),
        )
        .filter(memberships::Column::Id.eq(membership_id))
        .exec(db)
        .await?;
    Ok(())
}
