//! Setup links: only a hash of each link's secret is stored, as for tokens.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::setup_links::{self, Column};
use ids::OrganizationId;
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

/// The secret's visible prefix, so a leaked one is recognised (secret scanners, logs).
pub const SECRET_PREFIX: &str = "setup_";
/// The most links listed for one organization, newest first.
pub const LIST_LIMIT: u64 = 200;

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a link; returns its row and the secret, shown this once.
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    idp: Option<&str>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(setup_links::Model, String), DbErr> {
    let secret = generate();
    let row = setup_links::Entity::insert(setup_links::ActiveModel {
        id: Set(ids::new_id(ids::SETUP_LINK)),
        organization_id: Set(organization_id.clone()),
        secret_hash: Set(super::tokens::hash(&secret)),
        idp: Set(idp.map(str::to_string)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        token_id: Set(None),
        opened: Set(0),
        last_opened_at: Set(None),
    })
    .exec_with_returning(db)
    .await?;
    Ok((row, secret))
}

/// The organization's links that still open (not revoked, not expired).
pub async fn count_live(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    setup_links::Entity::find()
        .filter(Column::OrganizationId.eq(organization_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .count(db)
        .await
}

/// The organization's links, newest first, at most [`LIST_LIMIT`].
pub async fn list(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Vec<setup_links::Model>, DbErr> {
    setup_links::Entity::find()
        .filter(Column::OrganizationId.eq(organization_id))
        .order_by_desc(Column::Id)
        .limit(LIST_LIMIT)
        .all(db)
        .await
}

/// Revokes the organization's link; `false` when it names none (or one already revoked).
pub async fn revoke(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = setup_links::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::val(now))
        .filter(Column::Id.eq(id))
        .filter(Column::OrganizationId.eq(organization_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The link this secret opens, if it is neither revoked nor expired.
pub async fn find_usable(
    db: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<setup_links::Model>, DbErr> {
    setup_links::Entity::find()
        .filter(Column::SecretHash.eq(super::tokens::hash(secret)))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .one(db)
        .await
}

/// Counts one opening of the page.
pub async fn record_opening(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    setup_links::Entity::update_many()
        .col_expr(Column::Opened, Expr::col(Column::Opened).add(1))
        .col_expr(Column::LastOpenedAt, Expr::val(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the token the page made; `false` when the link already made one (one per
/// link, so a reload or a second click never makes or shows another).
pub async fn claim_token(
    db: &impl ConnectionTrait,
    id: &str,
    token_id: &str,
    idp: &str,
) -> Result<bool, DbErr> {
    let res = setup_links::Entity::update_many()
        .col_expr(Column::TokenId, Expr::val(token_id))
        .filter(Column::Id.eq(id))
        .filter(Column::TokenId.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    // A link made without an IdP remembers the one its token was made for: the page
    // opens on that IdP's steps from then on.
    setup_links::Entity::update_many()
        .col_expr(Column::Idp, Expr::val(idp))
        .filter(Column::Id.eq(id))
        .filter(Column::Idp.is_null())
        .exec(db)
        .await?;
    Ok(true)
}
