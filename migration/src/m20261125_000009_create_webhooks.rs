//! Webhook endpoints, deliveries (one per event and endpoint, claimed by leases) and their
//! immutable attempts; events learn whether they have been fanned out to deliveries.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    EventTypes,
    OrganizationId,
    Enabled,
    DisabledReason,
    FailingSince,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventId,
    EndpointId,
    OrganizationId,
    OrderKey,
    Sequence,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseId,
    LeaseExpiresAt,
    LastStatusCode,
    LastError,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    EventId,
    EndpointId,
    Attempt,
    Owner,
    StartedAt,
    DurationMs,
    StatusCode,
    Error,
    ResponseBody,
    Outcome,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    FannedOut,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .if_not_exists()
                    .col(string(WebhookEndpoints::Id).primary_key())
                    .col(string(WebhookEndpoints::Url))
                    // The signing key must be readable to sign; it is never logged or
                    // returned after creation (rotation returns the new one once).
                    .col(string(WebhookEndpoints::Secret))
                    .col(string_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretExpiresAt,
                    ))
                    .col(json(WebhookEndpoints::EventTypes))
                    .col(string_null(WebhookEndpoints::OrganizationId))
                    .col(boolean(WebhookEndpoints::Enabled))
                    .col(string_null(WebhookEndpoints::DisabledReason))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .if_not_exists()
                    .col(string(Deliveries::Id).primary_key())
                    .col(string(Deliveries::EventId))
                    .col(string(Deliveries::EndpointId))
                    .col(string(Deliveries::OrganizationId))
                    // The user the event is about ("" for organization events): deliveries
                    // with the same endpoint, organization and key go out in sequence order.
                    .col(string(Deliveries::OrderKey))
                    .col(big_integer(Deliveries::Sequence))
                    // pending | succeeded | dead | cancelled
                    .col(string(Deliveries::Status))
                    .col(integer(Deliveries::Attempts))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(string_null(Deliveries::LeaseOwner))
                    .col(string_null(Deliveries::LeaseId))
                    .col(timestamp_with_time_zone_null(Deliveries::LeaseExpiresAt))
                    .col(integer_null(Deliveries::LastStatusCode))
                    .col(string_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Deliveries::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_event_endpoint")
                    .table(Deliveries::Table)
                    .col(Deliveries::EventId)
                    .col(Deliveries::EndpointId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_due")
                    .table(Deliveries::Table)
                    .col(Deliveries::Status)
                    .col(Deliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_order")
                    .table(Deliveries::Table)
                    .col(Deliveries::EndpointId)
                    .col(Deliveries::OrganizationId)
                    .col(Deliveries::OrderKey)
                    .col(Deliveries::Sequence)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .if_not_exists()
                    .col(string(DeliveryAttempts::Id).primary_key())
                    .col(string(DeliveryAttempts::DeliveryId))
                    .col(string(DeliveryAttempts::EventId))
                    .col(string(DeliveryAttempts::EndpointId))
                    .col(integer(DeliveryAttempts::Attempt))
                    .col(string(DeliveryAttempts::Owner))
                    .col(timestamp_with_time_zone(DeliveryAttempts::StartedAt))
                    .col(big_integer(DeliveryAttempts::DurationMs))
                    .col(integer_null(DeliveryAttempts::StatusCode))
                    .col(string_null(DeliveryAttempts::Error))
                    .col(string_null(DeliveryAttempts::ResponseBody))
                    // success | failure | lease_lost
                    .col(string(DeliveryAttempts::Outcome))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_delivery_attempts_delivery")
                    .table(DeliveryAttempts::Table)
                    .col(DeliveryAttempts::DeliveryId)
                    .to_owned(),
            )
            .await?;
        // Events written before webhooks existed have nowhere to go: they count as fanned
        // out, so an endpoint added later does not receive the whole history.
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(boolean(Events::FannedOut).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_fanned_out")
                    .table(Events::Table)
                    .col(Events::FannedOut)
                    .col(Events::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_events_fanned_out").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::FannedOut)
                    .to_owned(),
            )
            .await?;
        for t in [
            DeliveryAttempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
