//! Email domains verified per organization (account linking).

use chrono::{DateTime, Utc};
use entity::organization_domains as domains;
use ids::OrganizationId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain::EmailDomain;

/// Verifies `domain` for the organization; `false` when it already was.
pub async fn add(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    domain: &EmailDomain,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = domains::Entity::insert(domains::ActiveModel {
        organization_id: Set(organization_id.clone()),
        domain: Set(domain.as_str().to_string()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([domains::Column::OrganizationId, domains::Column::Domain])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(res > 0)
}

pub async fn list(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Vec<domains::Model>, DbErr> {
    domains::Entity::find()
        .filter(domains::Column::OrganizationId.eq(organization_id))
        .order_by_asc(domains::Column::Domain)
        .all(db)
        .await
}

/// Removes a verification; `false` when there was none.
pub async fn remove(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    domain: &EmailDomain,
) -> Result<bool, DbErr> {
    let res = domains::Entity::delete_many()
        .filter(domains::Column::OrganizationId.eq(organization_id))
        .filter(domains::Column::Domain.eq(domain.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

pub async fn is_verified(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    domain: &EmailDomain,
) -> Result<bool, DbErr> {
    Ok(
        domains::Entity::find_by_id((organization_id.clone(), domain.as_str().to_string()))
            .one(db)
            .await?
            .is_some(),
    )
}

/// Drops every verification of the organization (organization deletion).
pub async fn delete_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    let res = domains::Entity::delete_many()
        .filter(domains::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
