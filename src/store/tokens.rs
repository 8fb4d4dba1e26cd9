//! SCIM bearer tokens. Only a SHA-256 hash is stored; the token is shown once.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::scim_tokens;
use ids::OrganizationId;
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::domain::token::Rules;

pub const TOKEN_PREFIX: &str = "scim_";

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a token for the organization; returns its row and the plaintext token.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    name: Option<&str>,
    rules: &Rules,
) -> Result<(scim_tokens::Model, String), DbErr> {
    let token = generate();
    let model = scim_tokens::ActiveModel {
        id: Set(ids::new_id(ids::SCIM_TOKEN)),
        organization_id: Set(organization_id.clone()),
        token_hash: Set(hash(&token)),
        name: Set(name.map(str::to_string)),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        last_used_at: Set(None),
        last_method: Set(None),
        last_route: Set(None),
        last_status: Set(None),
        last_user_agent: Set(None),
        expires_at: Set(rules.expires_at),
        allowed_networks: Set(rules.networks.to_stored()),
        replaced_by: Set(None),
        expiry_announced_at: Set(None),
    };
    let row = scim_tokens::Entity::insert(model)
        .exec_with_returning(db)
        .await?;
    Ok((row, token))
}

/// The unrevoked token with this plaintext, if any (its expiry and networks are the
/// caller's to check: [`crate::domain::token::admit`]).
pub async fn find_unrevoked(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<scim_tokens::Model>, DbErr> {
    scim_tokens::Entity::find()
        .filter(scim_tokens::Column::TokenHash.eq(hash(token)))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// The organization of the live token with this id, if any.
pub async fn organization_of(
    db: &impl ConnectionTrait,
    token_id: &str,
) -> Result<Option<OrganizationId>, DbErr> {
    Ok(scim_tokens::Entity::find_by_id(token_id)
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(|t| t.organization_id))
}

/// Deletes every token of the organization (organization deletion).
pub async fn delete_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    let res = scim_tokens::Entity::delete_many()
        .filter(scim_tokens::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Revokes one token of the organization; `false` if it is unknown or already revoked.
pub async fn revoke(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    token_id: &str,
) -> Result<bool, DbErr> {
    let res = scim_tokens::Entity::update_many()
        .col_expr(scim_tokens::Column::RevokedAt, Some(Utc::now()).into())
        .filter(scim_tokens::Column::Id.eq(token_id))
        .filter(scim_tokens::Column::OrganizationId.eq(organization_id))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The organization's live tokens (metadata; only hashes are stored).
pub async fn for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Vec<scim_tokens::Model>, DbErr> {
    use sea_orm::QueryOrder;
    scim_tokens::Entity::find()
        .filter(scim_tokens::Column::OrganizationId.eq(organization_id))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .order_by_asc(scim_tokens::Column::Id)
        .all(db)
        .await
}

/// One unrevoked token of the organization.
pub async fn find(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    token_id: &str,
) -> Result<Option<scim_tokens::Model>, DbErr> {
    scim_tokens::Entity::find_by_id(token_id)
        .filter(scim_tokens::Column::OrganizationId.eq(organization_id))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// Ends a rotated token's life at `ends_at` and names its successor; `false` when it was
/// revoked or rotated meanwhile (a rotation's lost race).
pub async fn mark_replaced(
    db: &impl ConnectionTrait,
    token_id: &str,
    replaced_by: &str,
    ends_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = scim_tokens::Entity::update_many()
        .col_expr(scim_tokens::Column::ExpiresAt, Some(ends_at).into())
        .col_expr(
            scim_tokens::Column::ReplacedBy,
            Some(replaced_by.to_string()).into(),
        )
        .filter(scim_tokens::Column::Id.eq(token_id))
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .filter(scim_tokens::Column::ReplacedBy.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Unrevoked tokens whose expiry has passed by `now` and was not announced yet (oldest
/// expiry first, at most `limit`).
pub async fn expired_unannounced(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<scim_tokens::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    scim_tokens::Entity::find()
        .filter(scim_tokens::Column::ExpiresAt.lte(now))
        .filter(scim_tokens::Column::ExpiryAnnouncedAt.is_null())
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .order_by_asc(scim_tokens::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await
}

/// Records that the token's expiry was announced; `false` when another process did first
/// (or the token was revoked or given a new expiry meanwhile).
pub async fn mark_expiry_announced(
    db: &impl ConnectionTrait,
    token_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = scim_tokens::Entity::update_many()
        .col_expr(scim_tokens::Column::ExpiryAnnouncedAt, Some(now).into())
        .filter(scim_tokens::Column::Id.eq(token_id))
        .filter(scim_tokens::Column::ExpiresAt.lte(now))
        .filter(scim_tokens::Column::ExpiryAnnouncedAt.is_null())
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
