use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_organizations::Organizations;
use crate::m20261125_000002_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    Status,
    Roles,
    ExternalId,
    UserName,
    UserNameKey,
    Scim,
    Version,
    CreatedAt,
    UpdatedAt,
    StatusChangedAt,
    RemovedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(string(Memberships::Id).primary_key())
                    .col(string(Memberships::OrganizationId))
                    .col(string(Memberships::UserId))
                    .col(string(Memberships::Status))
                    .col(json(Memberships::Roles))
                    .col(string_null(Memberships::ExternalId))
                    .col(string_null(Memberships::UserName))
                    .col(string_null(Memberships::UserNameKey))
                    // This organization's SCIM record of the user; NULL once erased.
                    .col(json_null(Memberships::Scim))
                    .col(big_integer(Memberships::Version))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .col(timestamp_with_time_zone(Memberships::UpdatedAt))
                    .col(timestamp_with_time_zone(Memberships::StatusChangedAt))
                    .col(timestamp_with_time_zone_null(Memberships::RemovedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Partial unique indexes (both SQLite and PostgreSQL have them): a removed membership
        // stays for the audit trail but no longer blocks a new one, nor its userName.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_memberships_live_org_user ON memberships (organization_id, user_id) WHERE removed_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_memberships_live_org_user_name ON memberships (organization_id, user_name_key) WHERE removed_at IS NULL",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_org_external_id")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::ExternalId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_org_created")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Memberships::Table).to_owned())
            .await
    }
}
