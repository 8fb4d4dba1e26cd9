//! The request inspector: an organization's recent SCIM requests (what was asked, what
//! was answered, the body with personal values redacted), flushed from memory
//! periodically and kept for a bounded count and age; and the window in which an
//! operator asked for full bodies of one organization.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    InspectFullBodiesUntil,
}

#[derive(DeriveIden)]
enum ScimRequests {
    Table,
    Id,
    OrganizationId,
    TokenId,
    At,
    Method,
    Route,
    Path,
    Query,
    Status,
    LatencyMs,
    RequestId,
    ScimType,
    ErrorDetail,
    Body,
    FullBody,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(timestamp_with_time_zone_null(
                        Organizations::InspectFullBodiesUntil,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScimRequests::Table)
                    .col(string(ScimRequests::Id).primary_key())
                    .col(string(ScimRequests::OrganizationId))
                    .col(string(ScimRequests::TokenId))
                    .col(timestamp_with_time_zone(ScimRequests::At))
                    .col(string(ScimRequests::Method))
                    .col(string(ScimRequests::Route))
                    .col(string(ScimRequests::Path))
                    .col(string_null(ScimRequests::Query))
                    .col(integer(ScimRequests::Status))
                    .col(big_integer(ScimRequests::LatencyMs))
                    .col(string_null(ScimRequests::RequestId))
                    .col(string_null(ScimRequests::ScimType))
                    .col(string_null(ScimRequests::ErrorDetail))
                    .col(text_null(ScimRequests::Body))
                    .col(text_null(ScimRequests::FullBody))
                    .to_owned(),
            )
            .await?;
        // Listing newest first per organization, and pruning by count and age.
        manager
            .create_index(
                Index::create()
                    .name("idx_scim_requests_org_id")
                    .table(ScimRequests::Table)
                    .col(ScimRequests::OrganizationId)
                    .col(ScimRequests::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scim_requests_at")
                    .table(ScimRequests::Table)
                    .col(ScimRequests::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimRequests::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::InspectFullBodiesUntil)
                    .to_owned(),
            )
            .await
    }
}
