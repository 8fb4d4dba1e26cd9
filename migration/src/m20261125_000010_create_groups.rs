//! SCIM groups and their members. Members are rows, not a list inside the group, so adding
//! or removing one costs the same whatever the group's size.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    OrganizationId,
    DisplayName,
    ExternalId,
    Scim,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
    OrganizationId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .if_not_exists()
                    .col(string(Groups::Id).primary_key())
                    .col(string(Groups::OrganizationId))
                    .col(string(Groups::DisplayName))
                    .col(string_null(Groups::ExternalId))
                    // The organization's SCIM record of the group, without members.
                    .col(json(Groups::Scim))
                    .col(big_integer(Groups::Version))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_groups_org_id")
                    .table(Groups::Table)
                    .col(Groups::OrganizationId)
                    .col(Groups::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .if_not_exists()
                    .col(string(GroupMembers::GroupId))
                    .col(string(GroupMembers::UserId))
                    .col(string(GroupMembers::OrganizationId))
                    .col(timestamp_with_time_zone(GroupMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's groups in an organization (the user's `groups`, removal on DELETE).
        manager
            .create_index(
                Index::create()
                    .name("idx_group_members_org_user")
                    .table(GroupMembers::Table)
                    .col(GroupMembers::OrganizationId)
                    .col(GroupMembers::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GroupMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Groups::Table).to_owned())
            .await
    }
}
