//! Jobs: long deletions (a batch of users, an organization) run step by step by any
//! `serve` (or the CLI), each step committed with the job's progress under the job's
//! lease, so a crash or a second process never does a step twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Status,
    Params,
    Position,
    Total,
    Done,
    Failed,
    Errors,
    Result,
    ActorType,
    ActorId,
    RequestId,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(string(Jobs::Id).primary_key())
                    .col(string(Jobs::Kind))
                    .col(string(Jobs::Status))
                    .col(json(Jobs::Params))
                    .col(big_integer(Jobs::Position).default(0))
                    .col(big_integer(Jobs::Total).default(0))
                    .col(big_integer(Jobs::Done).default(0))
                    .col(big_integer(Jobs::Failed).default(0))
                    .col(json(Jobs::Errors))
                    .col(json(Jobs::Result))
                    .col(string(Jobs::ActorType))
                    .col(string(Jobs::ActorId))
                    .col(string_null(Jobs::RequestId))
                    .col(string_null(Jobs::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Workers look for unfinished jobs.
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_status")
                    .table(Jobs::Table)
                    .col(Jobs::Status)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}
