//! Columns for the grace period, restore and organization deletion.
//!
//! SQLite alters one column per statement, so each column is its own `ALTER TABLE`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    PurgeAfter,
    RemovedWithAccount,
    OrganizationId,
    Status,
    StatusChangedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    HeldIdentityKey,
    PurgeAfter,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // When a removed membership's record is to be erased (grace period); NULL once it
        // has been, or when it was erased at removal.
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(timestamp_with_time_zone_null(Memberships::PurgeAfter))
                    .to_owned(),
            )
            .await?;
        // Removed by the deletion of its account, so a restore brings it back.
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(boolean(Memberships::RemovedWithAccount).default(false))
                    .to_owned(),
            )
            .await?;
        // A deleted account in its grace period gives up its identity at once (a new POST
        // with the same userName creates a new account) but keeps it here for a restore.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_null(Users::HeldIdentityKey))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(timestamp_with_time_zone_null(Organizations::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_purge_after")
                    .table(Memberships::Table)
                    .col(Memberships::PurgeAfter)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_purge_after")
                    .table(Users::Table)
                    .col(Users::PurgeAfter)
                    .to_owned(),
            )
            .await?;
        // Live memberships in id order, per organization (paged walks such as the
        // organization deletion and list responses) and per user (the account cascade).
        // Without them PostgreSQL may pick another partial index and sort every page.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_memberships_live_org_id ON memberships (organization_id, id) WHERE removed_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_memberships_live_user ON memberships (user_id) WHERE removed_at IS NULL",
        )
        .await?;
        // The retention policy looks for memberships INACTIVE since before a cut-off.
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_org_status_changed")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::Status)
                    .col(Memberships::StatusChangedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_memberships_live_org_id",
            "idx_memberships_live_user",
            "idx_memberships_purge_after",
            "idx_users_purge_after",
            "idx_memberships_org_status_changed",
        ] {
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::DeletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::HeldIdentityKey)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::RemovedWithAccount)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::PurgeAfter)
                    .to_owned(),
            )
            .await
    }
}
