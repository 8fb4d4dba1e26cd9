//! Applications' API keys. Only a SHA-256 hash is stored; the key is shown once.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::api_keys;
use ids::OrganizationId;
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

pub const KEY_PREFIX: &str = "obk_";

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a key; returns its row and the plaintext key.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    scopes: &[&str],
    organization_id: Option<&OrganizationId>,
    now: DateTime<Utc>,
) -> Result<(api_keys::Model, String), DbErr> {
    let key = generate();
    let row = api_keys::Entity::insert(api_keys::ActiveModel {
        id: Set(ids::new_id(ids::API_KEY)),
        name: Set(name.to_string()),
        key_hash: Set(super::tokens::hash(&key)),
        scopes: Set(scopes.join(" ")),
        organization_id: Set(organization_id.cloned()),
        created_at: Set(now),
    })
    .exec_with_returning(db)
    .await?;
    Ok((row, key))
}

/// The key with this plaintext, if any.
pub async fn find_by_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<api_keys::Model>, DbErr> {
    api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(super::tokens::hash(key)))
        .one(db)
        .await
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<api_keys::Model>, DbErr> {
    api_keys::Entity::find()
        .order_by_asc(api_keys::Column::Id)
        .all(db)
        .await
}

/// Deletes a key; `false` if there was none.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let res = api_keys::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
