//! SCIM bearer tokens. Only a SHA-256 hash is stored; the token is shown once.

use base64::Engine;
use chrono::Utc;
use entity::scim_tokens;
use ids::OrganizationId;
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

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
    };
    let row = scim_tokens::Entity::insert(model)
        .exec_with_returning(db)
        .await?;
    Ok((row, token))
}

/// The live token with this plaintext, if any.
pub async fn find_live(
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
