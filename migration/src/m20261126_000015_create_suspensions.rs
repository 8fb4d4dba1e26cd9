//! Account suspensions: a ban without data loss. One row per suspended account, removed
//! when the suspension ends (by the operator, by its expiry, or when the account's
//! personal data is erased: the reason may name the person).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Suspensions {
    Table,
    UserId,
    Reason,
    SuspendedAt,
    Until,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Suspensions::Table)
                    .col(string(Suspensions::UserId).primary_key())
                    .col(text_null(Suspensions::Reason))
                    .col(timestamp_with_time_zone(Suspensions::SuspendedAt))
                    .col(timestamp_with_time_zone_null(Suspensions::Until))
                    .to_owned(),
            )
            .await?;
        // The purge ends the suspensions whose time is up.
        manager
            .create_index(
                Index::create()
                    .name("idx_suspensions_until")
                    .table(Suspensions::Table)
                    .col(Suspensions::Until)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Suspensions::Table).to_owned())
            .await
    }
}
