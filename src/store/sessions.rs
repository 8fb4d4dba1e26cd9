//! Application sessions, registered by the application and revoked by deprovisioning.

use chrono::{DateTime, Utc};
use entity::sessions;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::ids;

pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: &str,
    user_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<sessions::Model, DbErr> {
    let model = sessions::ActiveModel {
        id: Set(ids::new_id(ids::SESSION)),
        organization_id: Set(organization_id.to_string()),
        user_id: Set(user_id.to_string()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    };
    sessions::Entity::insert(model)
        .exec_with_returning(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<sessions::Model>, DbErr> {
    sessions::Entity::find_by_id(id.to_string()).one(db).await
}

/// Revokes the user's live sessions in one organization; returns how many.
#[tracing::instrument(skip_all, fields(organization_id, user_id))]
pub async fn revoke_for_membership(
    db: &impl ConnectionTrait,
    organization_id: &str,
    user_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Some(now).into())
        .col_expr(
            sessions::Column::RevokedReason,
            Some(reason.to_string()).into(),
        )
        .filter(sessions::Column::OrganizationId.eq(organization_id))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
