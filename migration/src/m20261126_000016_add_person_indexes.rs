//! Reading everything about one person (the export before erasure): their sessions,
//! the audit rows about them and the events about them, by index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    TargetId,
    Id,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_target")
                    .table(AuditLog::Table)
                    .col(AuditLog::TargetId)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_user")
                    .table(Events::Table)
                    .col(Events::UserId)
                    .col(Events::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_sessions_user", "sessions"),
            ("idx_audit_log_target", "audit_log"),
            ("idx_events_user", "events"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
