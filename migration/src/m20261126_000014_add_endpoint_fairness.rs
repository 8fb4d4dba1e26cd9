//! Fair delivery: how many deliveries an endpoint may have in flight, and its circuit
//! breaker (a run of failures opens it for a while; then one probe at a time). Also the
//! indexes the claim and the retention prune read.

use sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    MaxInFlight,
    ConsecutiveFailures,
    BreakerOpenUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // NULL: the server's default (OFFBOARD_WEBHOOK_ENDPOINT_CONCURRENCY).
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(integer_null(WebhookEndpoints::MaxInFlight))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(integer(WebhookEndpoints::ConsecutiveFailures).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(timestamp_with_time_zone_null(
                        WebhookEndpoints::BreakerOpenUntil,
                    ))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // An endpoint's due deliveries in order (the fair claim reads each endpoint's).
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, sequence) WHERE status = 'pending'",
        )
        .await?;
        // Deliveries in flight per endpoint (leased and pending).
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_pending_endpoint_lease ON deliveries (endpoint_id, lease_expires_at) WHERE status = 'pending'",
        )
        .await?;
        // Retention: events old enough, oldest first.
        db.execute_unprepared("CREATE INDEX idx_events_created ON events (created_at)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_events_created")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_deliveries_pending_endpoint_lease")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_deliveries_endpoint_due")
            .await?;
        for col in [
            WebhookEndpoints::BreakerOpenUntil,
            WebhookEndpoints::ConsecutiveFailures,
            WebhookEndpoints::MaxInFlight,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WebhookEndpoints::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
