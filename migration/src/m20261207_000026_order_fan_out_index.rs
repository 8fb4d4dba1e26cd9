//! Fan-out reads the next events not fanned out in (organization, sequence) order. The
//! index it had, `(fanned_out, id)`, found them but not in that order: every batch sorted
//! the whole backlog to take its first rows (on SQLite, 0.11 s a batch of 500 behind the
//! 290,000 events of a 100,000-member organization's deletion). Keyed in the order fan-out
//! reads, a batch is the index's first rows. `has_unfanned` (whether any event waits) uses
//! its first column as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    FannedOut,
    OrganizationId,
    Sequence,
    Id,
}

/// The index fan-out had, and the one that replaces it (under a new name: on SQLite the
/// migration's statements may run on different pooled connections, and one that has not
/// seen the drop yet would refuse to create an index of the old name).
const OLD: &str = "idx_events_fanned_out";
const NEW: &str = "idx_events_fan_out_order";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(OLD).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(Events::Table)
                    .col(Events::FannedOut)
                    .col(Events::OrganizationId)
                    .col(Events::Sequence)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NEW).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Events::Table)
                    .col(Events::FannedOut)
                    .col(Events::Id)
                    .to_owned(),
            )
            .await
    }
}
