//! Connection health: each SCIM token's last request (flushed from memory periodically,
//! never written on a request's own path) and its request counts per hour by status
//! class.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    LastUsedAt,
    LastMethod,
    LastRoute,
    LastStatus,
    LastUserAgent,
}

#[derive(DeriveIden)]
enum ConnectionStats {
    Table,
    TokenId,
    OrganizationId,
    Hour,
    Succeeded,
    ClientErrors,
    ServerErrors,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for col in [
            timestamp_with_time_zone_null(ScimTokens::LastUsedAt),
            string_null(ScimTokens::LastMethod),
            string_null(ScimTokens::LastRoute),
            integer_null(ScimTokens::LastStatus),
            string_null(ScimTokens::LastUserAgent),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(ScimTokens::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ConnectionStats::Table)
                    .col(string(ConnectionStats::TokenId))
                    .col(string(ConnectionStats::OrganizationId))
                    .col(timestamp_with_time_zone(ConnectionStats::Hour))
                    .col(big_integer(ConnectionStats::Succeeded).default(0))
                    .col(big_integer(ConnectionStats::ClientErrors).default(0))
                    .col(big_integer(ConnectionStats::ServerErrors).default(0))
                    .primary_key(
                        Index::create()
                            .col(ConnectionStats::TokenId)
                            .col(ConnectionStats::Hour),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_connection_stats_org_hour")
                    .table(ConnectionStats::Table)
                    .col(ConnectionStats::OrganizationId)
                    .col(ConnectionStats::Hour)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConnectionStats::Table).to_owned())
            .await
    }
}
