//! Setup links: an organization's IT admin opens one to connect their IdP alone. Only a
//! hash of each link's secret is stored. SCIM tokens get a name (the IdP a setup link made
//! one for).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SetupLinks {
    Table,
    Id,
    OrganizationId,
    SecretHash,
    Idp,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    TokenId,
    Opened,
    LastOpenedAt,
}

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    Name,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SetupLinks::Table)
                    .col(string(SetupLinks::Id).primary_key())
                    .col(string(SetupLinks::OrganizationId))
                    .col(string_uniq(SetupLinks::SecretHash))
                    .col(string_null(SetupLinks::Idp))
                    .col(timestamp_with_time_zone(SetupLinks::CreatedAt))
                    .col(timestamp_with_time_zone(SetupLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SetupLinks::RevokedAt))
                    .col(string_null(SetupLinks::TokenId))
                    .col(big_integer(SetupLinks::Opened).default(0))
                    .col(timestamp_with_time_zone_null(SetupLinks::LastOpenedAt))
                    .to_owned(),
            )
            .await?;
        // An organization's links, listed and counted (the cap on live links).
        manager
            .create_index(
                Index::create()
                    .name("setup_links_by_organization")
                    .table(SetupLinks::Table)
                    .col(SetupLinks::OrganizationId)
                    .col(SetupLinks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ScimTokens::Table)
                    .add_column(string_null(ScimTokens::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ScimTokens::Table)
                    .drop_column(ScimTokens::Name)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SetupLinks::Table).to_owned())
            .await
    }
}
