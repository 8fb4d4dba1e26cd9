use chrono::Utc;
use entity::organizations;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::ids;

#[tracing::instrument(skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    deactivated_retention_secs: Option<i64>,
) -> Result<organizations::Model, DbErr> {
    let now = Utc::now();
    let model = organizations::ActiveModel {
        id: Set(ids::new_id(ids::ORGANIZATION)),
        name: Set(name.to_string()),
        deactivated_retention_secs: Set(deactivated_retention_secs),
        event_seq: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    organizations::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<organizations::Model>, DbErr> {
    organizations::Entity::find_by_id(id.to_string())
        .one(db)
        .await
}

/// Reserves `n` sequence numbers for the organization's next events and returns the
/// last one. On PostgreSQL the update locks the organization row until commit, so
/// sequence order is commit order.
pub async fn reserve_sequence(
    db: &impl ConnectionTrait,
    organization_id: &str,
    n: i64,
) -> Result<i64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = organizations::Entity::update_many()
        .col_expr(
            organizations::Column::EventSeq,
            Expr::col(organizations::Column::EventSeq).add(n),
        )
        .filter(organizations::Column::Id.eq(organization_id))
        .exec_with_returning(db)
        .await?;
    rows.first()
        .map(|o| o.event_seq)
        .ok_or_else(|| DbErr::RecordNotFound(format!("organization {organization_id}")))
}
