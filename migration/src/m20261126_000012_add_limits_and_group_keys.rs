//! Per-organization request rate limits, and the groups' normalized display name (an
//! IdP looks groups up by `displayName eq`, which must match case-insensitively, as
//! userName does, through an index).

use sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};
use unicode_normalization::UnicodeNormalization;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    RateLimitPerSecond,
    RateLimitBurst,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    OrganizationId,
    DisplayName,
    DisplayNameKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // NULL: the server's default (OFFBOARD_RATE_LIMIT_PER_SECOND / _BURST).
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(integer_null(Organizations::RateLimitPerSecond))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(integer_null(Organizations::RateLimitBurst))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .add_column(string(Groups::DisplayNameKey).default(""))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let rows = db
            .query_all(
                Query::select()
                    .columns([Groups::Id, Groups::DisplayName])
                    .from(Groups::Table),
            )
            .await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let name: String = row.try_get("", "display_name")?;
            db.execute(
                Query::update()
                    .table(Groups::Table)
                    .value(Groups::DisplayNameKey, normalize_key(&name))
                    .and_where(Expr::col(Groups::Id).eq(id)),
            )
            .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_org_display_name_key")
                    .table(Groups::Table)
                    .col(Groups::OrganizationId)
                    .col(Groups::DisplayNameKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_groups_org_display_name_key")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Groups::Table)
                    .drop_column(Groups::DisplayNameKey)
                    .to_owned(),
            )
            .await?;
        for col in [
            Organizations::RateLimitBurst,
            Organizations::RateLimitPerSecond,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// As the application normalizes keys: trimmed, NFC, lower case.
fn normalize_key(s: &str) -> String {
    s.trim().nfc().collect::<String>().to_lowercase()
}
