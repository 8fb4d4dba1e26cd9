//! SCIM token lifecycle: an expiry, the networks a token may be used from, the token a
//! rotation replaced it with, and when its expiry was announced (`scim_token.expired`).
//! Connection health counts refused requests by reason.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    ExpiresAt,
    AllowedNetworks,
    ReplacedBy,
    ExpiryAnnouncedAt,
}

#[derive(DeriveIden)]
enum ConnectionStats {
    Table,
    RefusedExpired,
    RefusedNetwork,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for col in [
            timestamp_with_time_zone_null(ScimTokens::ExpiresAt),
            text_null(ScimTokens::AllowedNetworks),
            string_null(ScimTokens::ReplacedBy),
            timestamp_with_time_zone_null(ScimTokens::ExpiryAnnouncedAt),
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
        for col in [
            ConnectionStats::RefusedExpired,
            ConnectionStats::RefusedNetwork,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ConnectionStats::Table)
                        .add_column(big_integer(col).default(0))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ConnectionStats::RefusedExpired,
            ConnectionStats::RefusedNetwork,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ConnectionStats::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [
            ScimTokens::ExpiresAt,
            ScimTokens::AllowedNetworks,
            ScimTokens::ReplacedBy,
            ScimTokens::ExpiryAnnouncedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ScimTokens::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
