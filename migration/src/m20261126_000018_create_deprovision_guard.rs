//! The deprovisioning guard: per organization, its settings and the state of its current
//! window (one row, locked by every SCIM deprovisioning so concurrent requests are
//! counted one after another), and the deprovisionings it holds for an operator.

use sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeprovisionGuards {
    Table,
    OrganizationId,
    Mode,
    MaxCount,
    MaxPercent,
    WindowSecs,
    WindowStartedAt,
    WindowCount,
    ActiveAtStart,
    Reported,
    TrippedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HeldActions {
    Table,
    Id,
    OrganizationId,
    MembershipId,
    UserId,
    Action,
    Source,
    TokenId,
    RequestId,
    RequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeprovisionGuards::Table)
                    .col(string(DeprovisionGuards::OrganizationId).primary_key())
                    .col(string(DeprovisionGuards::Mode).default("hold"))
                    .col(integer(DeprovisionGuards::MaxCount).default(20))
                    .col(integer(DeprovisionGuards::MaxPercent).default(10))
                    .col(big_integer(DeprovisionGuards::WindowSecs).default(3600))
                    .col(timestamp_with_time_zone_null(
                        DeprovisionGuards::WindowStartedAt,
                    ))
                    .col(big_integer(DeprovisionGuards::WindowCount).default(0))
                    .col(big_integer(DeprovisionGuards::ActiveAtStart).default(0))
                    .col(boolean(DeprovisionGuards::Reported).default(false))
                    .col(timestamp_with_time_zone_null(DeprovisionGuards::TrippedAt))
                    .col(timestamp_with_time_zone(DeprovisionGuards::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Every organization gets the default guard (on), as new ones do.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO deprovision_guards (organization_id, updated_at) \
                 SELECT id, created_at FROM organizations",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HeldActions::Table)
                    .col(string(HeldActions::Id).primary_key())
                    .col(string(HeldActions::OrganizationId))
                    .col(string(HeldActions::MembershipId))
                    .col(string(HeldActions::UserId))
                    .col(string(HeldActions::Action))
                    .col(string(HeldActions::Source))
                    .col(string(HeldActions::TokenId))
                    .col(string_null(HeldActions::RequestId))
                    .col(timestamp_with_time_zone(HeldActions::RequestedAt))
                    .to_owned(),
            )
            .await?;
        // One row per membership and action: an IdP's retry adds nothing.
        manager
            .create_index(
                Index::create()
                    .name("idx_held_actions_membership_action")
                    .table(HeldActions::Table)
                    .col(HeldActions::MembershipId)
                    .col(HeldActions::Action)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // An organization's held actions in arrival order.
        manager
            .create_index(
                Index::create()
                    .name("idx_held_actions_organization")
                    .table(HeldActions::Table)
                    .col(HeldActions::OrganizationId)
                    .col(HeldActions::RequestedAt)
                    .col(HeldActions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HeldActions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DeprovisionGuards::Table).to_owned())
            .await
    }
}
