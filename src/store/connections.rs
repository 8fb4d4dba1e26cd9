//! Connection health rows: each SCIM token's last request, and its requests per hour by
//! status class (`connection_stats`). Written by the recorder's periodic flush only.

use chrono::{DateTime, Utc};
use entity::{connection_stats as stats, scim_tokens};
use ids::OrganizationId;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain::connection::Counts;

/// A token's last request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    pub route: String,
    pub status: u16,
    pub user_agent: Option<String>,
}

/// Records the token's last request (unless a later one is already recorded, by another
/// process).
pub async fn set_last(
    db: &impl ConnectionTrait,
    token_id: &str,
    last: &LastRequest,
) -> Result<(), DbErr> {
    scim_tokens::Entity::update_many()
        .col_expr(scim_tokens::Column::LastUsedAt, Some(last.at).into())
        .col_expr(
            scim_tokens::Column::LastMethod,
            Some(last.method.clone()).into(),
        )
        .col_expr(
            scim_tokens::Column::LastRoute,
            Some(last.route.clone()).into(),
        )
        .col_expr(
            scim_tokens::Column::LastStatus,
            Some(i32::from(last.status)).into(),
        )
        .col_expr(
            scim_tokens::Column::LastUserAgent,
            last.user_agent.clone().into(),
        )
        .filter(scim_tokens::Column::Id.eq(token_id))
        .filter(
            sea_orm::Condition::any()
                .add(scim_tokens::Column::LastUsedAt.is_null())
                .add(scim_tokens::Column::LastUsedAt.lt(last.at)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Adds counts to the token's hour.
pub async fn add_counts(
    db: &impl ConnectionTrait,
    token_id: &str,
    organization_id: &OrganizationId,
    hour: DateTime<Utc>,
    c: Counts,
) -> Result<(), DbErr> {
    stats::Entity::insert(stats::ActiveModel {
        token_id: Set(token_id.to_string()),
        hour: Set(hour),
        organization_id: Set(organization_id.clone()),
        succeeded: Set(c.succeeded),
        client_errors: Set(c.client_errors),
        server_errors: Set(c.server_errors),
        refused_expired: Set(c.refused_expired),
        refused_network: Set(c.refused_network),
    })
    .on_conflict(
        OnConflict::columns([stats::Column::TokenId, stats::Column::Hour])
            .value(
                stats::Column::Succeeded,
                Expr::col((stats::Entity, stats::Column::Succeeded)).add(c.succeeded),
            )
            .value(
                stats::Column::ClientErrors,
                Expr::col((stats::Entity, stats::Column::ClientErrors)).add(c.client_errors),
            )
            .value(
                stats::Column::ServerErrors,
                Expr::col((stats::Entity, stats::Column::ServerErrors)).add(c.server_errors),
            )
            .value(
                stats::Column::RefusedExpired,
                Expr::col((stats::Entity, stats::Column::RefusedExpired)).add(c.refused_expired),
            )
            .value(
                stats::Column::RefusedNetwork,
                Expr::col((stats::Entity, stats::Column::RefusedNetwork)).add(c.refused_network),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One stored hour's counts.
pub fn counts_of(r: &stats::Model) -> Counts {
    Counts {
        succeeded: r.succeeded,
        client_errors: r.client_errors,
        server_errors: r.server_errors,
        refused_expired: r.refused_expired,
        refused_network: r.refused_network,
    }
}

/// The organization's hourly counts since `since`, per token.
pub async fn since(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    since: DateTime<Utc>,
) -> Result<Vec<stats::Model>, DbErr> {
    stats::Entity::find()
        .filter(stats::Column::OrganizationId.eq(organization_id))
        .filter(stats::Column::Hour.gte(since))
        .order_by_asc(stats::Column::Hour)
        .all(db)
        .await
}

/// Drops counts older than `before` (a day is all the health view reads).
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = stats::Entity::delete_many()
        .filter(stats::Column::Hour.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// For the metrics: each live organization's last request (any live token) and its
/// counts since `since`, and whether the guard holds some of its deprovisionings.
pub async fn summaries(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<Summary>, DbErr> {
    use entity::organizations;
    use sea_orm::QuerySelect;
    use std::collections::HashMap;
    let orgs: Vec<OrganizationId> = organizations::Entity::find()
        .filter(organizations::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let mut last: HashMap<OrganizationId, DateTime<Utc>> = HashMap::new();
    for t in scim_tokens::Entity::find()
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .filter(scim_tokens::Column::LastUsedAt.is_not_null())
        .all(db)
        .await?
    {
        if let Some(at) = t.last_used_at {
            let e = last.entry(t.organization_id).or_insert(at);
            if at > *e {
                *e = at;
            }
        }
    }
    let mut counts: HashMap<OrganizationId, Counts> = HashMap::new();
    for r in stats::Entity::find()
        .filter(stats::Column::Hour.gte(since))
        .all(db)
        .await?
    {
        let c = counts_of(&r);
        counts.entry(r.organization_id).or_default().add(c);
    }
    let held: std::collections::HashSet<OrganizationId> = entity::held_actions::Entity::find()
        .select_only()
        .column(entity::held_actions::Column::OrganizationId)
        .distinct()
        .into_tuple::<OrganizationId>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(orgs
        .into_iter()
        .map(|o| Summary {
            last_used: last.remove(&o),
            last_hour: counts.remove(&o).unwrap_or_default(),
            held: held.contains(&o),
        })
        .collect())
}

/// One organization's connection, as counted for `/metrics`.
pub struct Summary {
    pub last_used: Option<DateTime<Utc>>,
    pub last_hour: Counts,
    /// The guard holds some of its deprovisionings.
    pub held: bool,
}
