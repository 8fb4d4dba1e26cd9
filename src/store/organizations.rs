use chrono::{DateTime, Utc};
use entity::organizations;
use ids::OrganizationId;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

#[tracing::instrument(skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    deactivated_retention_secs: Option<i64>,
) -> Result<organizations::Model, DbErr> {
    let now = Utc::now();
    let model = organizations::ActiveModel {
        id: Set(OrganizationId::new()),
        name: Set(name.to_string()),
        deactivated_retention_secs: Set(deactivated_retention_secs),
        event_seq: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        rate_limit_per_second: Set(None),
        rate_limit_burst: Set(None),
        inspect_full_bodies_until: Set(None),
        role_mapping: Set(None),
    };
    organizations::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

/// The organization, unless it is unknown or deleted.
pub async fn find(
    db: &impl ConnectionTrait,
    id: &OrganizationId,
) -> Result<Option<organizations::Model>, DbErr> {
    Ok(organizations::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .filter(|o| o.deleted_at.is_none()))
}

/// [`find`], locking the row for update on PostgreSQL (serializes use cases that must
/// not run twice at once for one organization).
pub async fn find_locked(
    db: &impl ConnectionTrait,
    id: &OrganizationId,
) -> Result<Option<organizations::Model>, DbErr> {
    let q = crate::db::for_update(organizations::Entity::find_by_id(id.clone()), db);
    Ok(q.one(db).await?.filter(|o| o.deleted_at.is_none()))
}

/// Marks the organization deleted (a tombstone: its id still resolves in events and the
/// audit log) and drops its settings.
pub async fn mark_deleted(
    db: &impl ConnectionTrait,
    id: &OrganizationId,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    organizations::Entity::update_many()
        .col_expr(organizations::Column::DeletedAt, Some(now).into())
        .col_expr(organizations::Column::UpdatedAt, now.into())
        .col_expr(
            organizations::Column::DeactivatedRetentionSecs,
            Option::<i64>::None.into(),
        )
        .filter(organizations::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// What `PATCH /organizations/{id}` may change; `None` leaves a field as it is.
pub struct Changes {
    pub name: Option<String>,
    pub deactivated_retention_secs: Option<Option<i64>>,
    /// `Some(None)` goes back to the server's default; `Some(Some((rate, burst)))` sets it.
    pub rate_limit: Option<Option<(i32, i32)>>,
    pub inspect_full_bodies_until: Option<Option<DateTime<Utc>>>,
}

pub async fn update(
    db: &impl ConnectionTrait,
    org: &organizations::Model,
    changes: Changes,
    now: DateTime<Utc>,
) -> Result<organizations::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut am = org.clone().into_active_model();
    if let Some(name) = changes.name {
        am.name = Set(name);
    }
    if let Some(r) = changes.deactivated_retention_secs {
        am.deactivated_retention_secs = Set(r);
    }
    if let Some(limit) = changes.rate_limit {
        am.rate_limit_per_second = Set(limit.map(|(rate, _)| rate));
        am.rate_limit_burst = Set(limit.map(|(_, burst)| burst));
    }
    if let Some(until) = changes.inspect_full_bodies_until {
        am.inspect_full_bodies_until = Set(until);
    }
    am.updated_at = Set(now);
    am.update(db).await
}

/// Live organizations with a retention policy.
pub async fn with_retention(db: &impl ConnectionTrait) -> Result<Vec<organizations::Model>, DbErr> {
    organizations::Entity::find()
        .filter(organizations::Column::DeactivatedRetentionSecs.is_not_null())
        .filter(organizations::Column::DeletedAt.is_null())
        .all(db)
        .await
}

/// Reserves `n` sequence numbers for the organization's next events and returns the
/// last one. On PostgreSQL the update locks the organization row until commit, so
/// sequence order is commit order.
pub async fn reserve_sequence(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    n: i64,
) -> Result<i64, DbErr> {
    use organizations::Column as C;
    let update = sea_orm::sea_query::Query::update()
        .table(organizations::Entity)
        .value(C::EventSeq, Expr::col(C::EventSeq).add(n))
        .and_where(C::Id.eq(organization_id))
        // A write that waited on a concurrent organization deletion fails here, so
        // nothing is added to a deleted organization.
        .and_where(C::DeletedAt.is_null())
        // The number only: every event's append runs this, and the whole row carries the
        // role mapping.
        .returning_col(C::EventSeq)
        .to_owned();
    db.query_one(&update)
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .ok_or_else(|| DbErr::RecordNotFound(format!("organization {organization_id}")))
}

/// `%` and `_` taken literally in a `LIKE` pattern (escaped with `\`).
pub fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A page of live organizations in id order after `after`, whose name contains `q`
/// (case-insensitive), at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    q: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<organizations::Model>, DbErr> {
    use sea_orm::sea_query::{Func, LikeExpr};
    let mut query =
        organizations::Entity::find().filter(organizations::Column::DeletedAt.is_null());
    if let Some(q) = q {
        let pattern = format!("%{}%", like_escaped(&q.to_lowercase()));
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(organizations::Column::Name)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    super::after_page(db, query, organizations::Column::Id, after, limit).await
}
