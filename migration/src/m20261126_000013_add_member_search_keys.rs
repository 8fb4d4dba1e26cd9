//! Columns for the attributes IdPs and operators filter users by, beside `userName`:
//! `name.givenName`, `name.familyName` and `displayName`, folded (NFC, lower case) so a
//! case-insensitive filter compares them directly, through an index, instead of reading
//! every record's JSON. They are personal data: erased with the record.
//!
//! On PostgreSQL the userName and name keys also get `COLLATE "C"` indexes, so sorting
//! by them (byte order, as on SQLite) is read from an index.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    Scim,
    GivenNameKey,
    FamilyNameKey,
    DisplayNameKey,
}

const KEYS: [(&str, &str); 3] = [
    ("given_name_key", "idx_memberships_live_org_given_name"),
    ("family_name_key", "idx_memberships_live_org_family_name"),
    ("display_name_key", "idx_memberships_live_org_display_name"),
];

fn fold(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Memberships::GivenNameKey,
            Memberships::FamilyNameKey,
            Memberships::DisplayNameKey,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memberships::Table)
                        .add_column(string_null(col))
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        let mut after = String::new();
        loop {
            let rows = db
                .query_all(
                    Query::select()
                        .columns([Memberships::Id, Memberships::Scim])
                        .from(Memberships::Table)
                        .and_where(Expr::col(Memberships::Id).gt(after.as_str()))
                        .and_where(Expr::col(Memberships::Scim).is_not_null())
                        .order_by(Memberships::Id, Order::Asc)
                        .limit(1000),
                )
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("", "id")?;
            for row in &rows {
                let id: String = row.try_get("", "id")?;
                let record: Option<Value> = row.try_get("", "scim")?;
                let text = |v: Option<&Value>| v.and_then(Value::as_str).map(fold);
                let Some(record) = record else { continue };
                let name = record.get("name");
                db.execute(
                    Query::update()
                        .table(Memberships::Table)
                        .value(
                            Memberships::GivenNameKey,
                            text(name.and_then(|n| n.get("givenName"))),
                        )
                        .value(
                            Memberships::FamilyNameKey,
                            text(name.and_then(|n| n.get("familyName"))),
                        )
                        .value(Memberships::DisplayNameKey, text(record.get("displayName")))
                        .and_where(Expr::col(Memberships::Id).eq(id)),
                )
                .await?;
            }
        }
        let pg = manager.get_database_backend() == DbBackend::Postgres;
        let collate = if pg { " COLLATE \"C\"" } else { "" };
        // `removed_at` is in the columns (not only in the WHERE) so the index covers the
        // query: SQLite then counts matches without reading a single row.
        for (col, name) in KEYS {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON memberships (organization_id, {col}{collate}, removed_at) WHERE removed_at IS NULL"
            ))
            .await?;
        }

        if pg {
            db.execute_unprepared(
                "CREATE INDEX idx_memberships_live_org_user_name_c ON memberships (organization_id, user_name_key COLLATE \"C\") WHERE removed_at IS NULL",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX idx_groups_org_display_name_key_c ON groups (organization_id, display_name_key COLLATE \"C\")",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (_, name) in KEYS {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        db.execute_unprepared("DROP INDEX IF EXISTS idx_memberships_live_org_user_name_c")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_groups_org_display_name_key_c")
            .await?;
        for col in [
            Memberships::DisplayNameKey,
            Memberships::FamilyNameKey,
            Memberships::GivenNameKey,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Memberships::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
