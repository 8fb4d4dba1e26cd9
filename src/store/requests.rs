//! The request inspector's rows (`scim_requests`): written by the inspector's periodic
//! flush only, pruned by count per organization and by age.

use ids::OrganizationId;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{organizations, scim_requests as rows};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// Which answers a listing shows: a status class (`4xx`) or one status (`404`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Class(u16),
    Exact(u16),
}

impl StatusFilter {
    /// `2xx`..`5xx` or a status from 100 to 599.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(class) = s.strip_suffix("xx") {
            return match class.parse::<u16>() {
                Ok(c @ 1..=5) => Some(Self::Class(c)),
                _ => None,
            };
        }
        match s.parse::<u16>() {
            Ok(code @ 100..=599) => Some(Self::Exact(code)),
            _ => None,
        }
    }

    fn range(self) -> (i32, i32) {
        match self {
            Self::Class(c) => (i32::from(c) * 100, i32::from(c) * 100 + 99),
            Self::Exact(s) => (i32::from(s), i32::from(s)),
        }
    }
}

pub async fn insert_many(
    db: &impl ConnectionTrait,
    models: Vec<rows::ActiveModel>,
) -> Result<(), DbErr> {
    // 15 columns: 60 rows stay well under every database's bound-parameter limit.
    let mut models = models;
    while !models.is_empty() {
        let rest = models.split_off(models.len().min(60));
        let chunk = std::mem::replace(&mut models, rest);
        rows::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Until when each of these organizations asked for full bodies (those that did).
pub async fn full_body_windows(
    db: &impl ConnectionTrait,
    organization_ids: impl IntoIterator<Item = &OrganizationId>,
) -> Result<HashMap<OrganizationId, DateTime<Utc>>, DbErr> {
    let found: Vec<(OrganizationId, Option<DateTime<Utc>>)> = organizations::Entity::find()
        .select_only()
        .column(organizations::Column::Id)
        .column(organizations::Column::InspectFullBodiesUntil)
        .filter(organizations::Column::Id.is_in(organization_ids))
        .filter(organizations::Column::InspectFullBodiesUntil.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(id, until)| until.map(|u| (id, u)))
        .collect())
}

/// Keeps the organization's newest `keep` rows.
pub async fn keep_newest(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    keep: u64,
) -> Result<(), DbErr> {
    let oldest_kept: Option<String> = rows::Entity::find()
        .select_only()
        .column(rows::Column::Id)
        .filter(rows::Column::OrganizationId.eq(organization_id))
        .order_by_desc(rows::Column::Id)
        .offset(keep.saturating_sub(1))
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(oldest) = oldest_kept {
        rows::Entity::delete_many()
            .filter(rows::Column::OrganizationId.eq(organization_id))
            .filter(rows::Column::Id.lt(oldest))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Drops rows older than `before`, and full bodies captured before `full_before`.
pub async fn prune(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    full_before: DateTime<Utc>,
) -> Result<(), DbErr> {
    rows::Entity::delete_many()
        .filter(rows::Column::At.lt(before))
        .exec(db)
        .await?;
    rows::Entity::update_many()
        .col_expr(rows::Column::FullBody, Expr::value(Option::<String>::None))
        .filter(rows::Column::At.lt(full_before))
        .filter(rows::Column::FullBody.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn delete_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<(), DbErr> {
    rows::Entity::delete_many()
        .filter(rows::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The organization's requests newest first, after (older than) `after`, at most
/// `limit`, not older than `since`.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    status: Option<StatusFilter>,
    after: Option<&str>,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<rows::Model>, DbErr> {
    let mut q = rows::Entity::find()
        .filter(rows::Column::OrganizationId.eq(organization_id))
        .filter(rows::Column::At.gte(since));
    if let Some(s) = status {
        let (lo, hi) = s.range();
        q = q
            .filter(rows::Column::Status.gte(lo))
            .filter(rows::Column::Status.lte(hi));
    }
    if let Some(a) = after {
        q = q.filter(rows::Column::Id.lt(a));
    }
    q.order_by_desc(rows::Column::Id).limit(limit).all(db).await
}

/// The organization's newest answered-with-an-error requests (4xx and 5xx) since `since`.
pub async fn errors_since(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<rows::Model>, DbErr> {
    rows::Entity::find()
        .filter(rows::Column::OrganizationId.eq(organization_id))
        .filter(rows::Column::At.gte(since))
        .filter(rows::Column::Status.gte(400))
        .order_by_desc(rows::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
