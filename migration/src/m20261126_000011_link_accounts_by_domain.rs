//! Accounts link organizations only through operator-verified email domains.
//!
//! - `organization_domains`: the email domains an operator verified for an organization.
//! - `memberships.scim_id`: the id the organization's IdP knows the user by. Until now
//!   that was the account id, so every existing membership keeps it (a connected IdP keeps
//!   working); new memberships get an id of their own.
//! - `group_members.user_id` becomes `member_id`: a group names members by their SCIM id
//!   in the organization, which never changes when an account is split or linked.
//! - Accounts that today link several organizations were linked by userName alone, which
//!   let one organization reach another's people. No domain is verified yet, so each such
//!   account is split into one account per organization; each split is written to the
//!   audit log. Every account becomes organization-private (no identity key); verifying a
//!   domain later makes an organization's existing users in it linkable again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use sea_orm_migration::{prelude::*, schema::*};
use serde_json::{Value, json};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrganizationDomains {
    Table,
    OrganizationId,
    Domain,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    ScimId,
    Scim,
    CreatedAt,
    RemovedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    UserId,
    MemberId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    IdentityKey,
    HeldIdentityKey,
    Email,
    DisplayName,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    PurgeAfter,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
    OrganizationId,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    UserId,
    OrganizationId,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    OrderKey,
    OrganizationId,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrganizationId,
    ActorType,
    ActorId,
    Action,
    TargetType,
    TargetId,
    Details,
    RequestId,
    Outcome,
    CreatedAt,
}

const TOMBSTONE_NAME: &str = "Deleted User";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrganizationDomains::Table)
                    .if_not_exists()
                    .col(string(OrganizationDomains::OrganizationId))
                    // Lower case, IDNA ASCII form (`xn--…`), no trailing dot.
                    .col(string(OrganizationDomains::Domain))
                    .col(timestamp_with_time_zone(OrganizationDomains::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OrganizationDomains::OrganizationId)
                            .col(OrganizationDomains::Domain),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(string(Memberships::ScimId).default(""))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute(
            Query::update()
                .table(Memberships::Table)
                .value(Memberships::ScimId, Expr::col(Memberships::UserId)),
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_memberships_live_org_scim ON memberships (organization_id, scim_id) WHERE removed_at IS NULL",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(GroupMembers::Table)
                    .rename_column(GroupMembers::UserId, GroupMembers::MemberId)
                    .to_owned(),
            )
            .await?;
        split_shared_accounts(db).await?;
        db.execute(
            Query::update()
                .table(Users::Table)
                .value(Users::IdentityKey, Option::<String>::None)
                .value(Users::HeldIdentityKey, Option::<String>::None),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Splits are not undone: they are recorded in the audit log.
        manager
            .alter_table(
                Table::alter()
                    .table(GroupMembers::Table)
                    .rename_column(GroupMembers::MemberId, GroupMembers::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_memberships_live_org_scim")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::ScimId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OrganizationDomains::Table).to_owned())
            .await
    }
}

struct MembershipRow {
    organization_id: String,
    created_at: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
    record: Option<Value>,
}

fn membership_row(r: &QueryResult) -> Result<MembershipRow, DbErr> {
    Ok(MembershipRow {
        organization_id: r.try_get("", "organization_id")?,
        created_at: r.try_get("", "created_at")?,
        removed_at: r.try_get("", "removed_at")?,
        record: r.try_get("", "scim")?,
    })
}

/// The account fields an organization's record gives: primary email and display name.
fn identity_of(record: Option<&Value>) -> (Option<String>, Option<String>) {
    let Some(record) = record else {
        return (None, None);
    };
    let email = record
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|emails| {
            emails
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| emails.first())
        })
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let name = record
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            let name = record.get("name")?;
            if let Some(f) = name.get("formatted").and_then(Value::as_str) {
                return Some(f.to_string());
            }
            let parts: Vec<&str> = ["givenName", "familyName"]
                .iter()
                .filter_map(|k| name.get(*k).and_then(Value::as_str))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
    (email, name)
}

/// Splits every account with memberships in more than one organization into one account
/// per organization. The organization of the first live membership keeps the account
/// (so the account the application knows stays with a live member where there is one).
async fn split_shared_accounts<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let shared = db
        .query_all(
            Query::select()
                .column(Memberships::UserId)
                .from(Memberships::Table)
                .group_by_col(Memberships::UserId)
                .and_having(Func::count_distinct(Expr::col(Memberships::OrganizationId)).gt(1))
                .order_by(Memberships::UserId, Order::Asc),
        )
        .await?;
    let now = Utc::now();
    for row in shared {
        let user_id: String = row.try_get("", "user_id")?;
        let Some(account) = db
            .query_one(
                Query::select()
                    .columns([
                        Users::DeletedAt,
                        Users::PurgeAfter,
                        Users::CreatedAt,
                        Users::UpdatedAt,
                    ])
                    .from(Users::Table)
                    .and_where(Expr::col(Users::Id).eq(user_id.as_str())),
            )
            .await?
        else {
            continue;
        };
        let deleted_at: Option<DateTime<Utc>> = account.try_get("", "deleted_at")?;
        let purge_after: Option<DateTime<Utc>> = account.try_get("", "purge_after")?;
        let updated_at: DateTime<Utc> = account.try_get("", "updated_at")?;
        let rows = db
            .query_all(
                Query::select()
                    .columns([
                        Memberships::OrganizationId,
                        Memberships::CreatedAt,
                        Memberships::RemovedAt,
                        Memberships::Scim,
                    ])
                    .from(Memberships::Table)
                    .and_where(Expr::col(Memberships::UserId).eq(user_id.as_str()))
                    .order_by(Memberships::Id, Order::Asc),
            )
            .await?;
        let rows: Vec<MembershipRow> = rows.iter().map(membership_row).collect::<Result<_, _>>()?;
        let Some(keeper) = rows
            .iter()
            .find(|m| m.removed_at.is_none())
            .or_else(|| rows.first())
            .map(|m| m.organization_id.clone())
        else {
            continue;
        };
        let mut per_org: BTreeMap<&str, Vec<&MembershipRow>> = BTreeMap::new();
        for m in &rows {
            per_org.entry(&m.organization_id).or_default().push(m);
        }
        // The keeper's own record now names the account (it may have come from another
        // organization's IdP).
        if deleted_at.is_none()
            && let Some(live) = per_org
                .get(keeper.as_str())
                .and_then(|ms| ms.iter().find(|m| m.removed_at.is_none()))
        {
            let (email, name) = identity_of(live.record.as_ref());
            db.execute(
                Query::update()
                    .table(Users::Table)
                    .value(Users::Email, email)
                    .value(Users::DisplayName, name)
                    .and_where(Expr::col(Users::Id).eq(user_id.as_str())),
            )
            .await?;
        }
        for (org, ms) in per_org {
            if org == keeper {
                continue;
            }
            let live = ms.iter().find(|m| m.removed_at.is_none());
            let latest_record = live
                .and_then(|m| m.record.as_ref())
                .or_else(|| ms.iter().rev().find_map(|m| m.record.as_ref()));
            // Deleted with the account: the split account is deleted alike. No live
            // membership left here: the split account is a tombstone, as the cascade
            // would have made it.
            let (new_deleted, new_purge, keep_data) = match (deleted_at, live) {
                (Some(d), _) => (Some(d), purge_after, purge_after.is_some()),
                (None, Some(_)) => (None, None, true),
                (None, None) => (ms.iter().filter_map(|m| m.removed_at).max(), None, false),
            };
            let (email, name) = if keep_data {
                identity_of(latest_record)
            } else {
                (None, Some(TOMBSTONE_NAME.to_string()))
            };
            let created = ms.iter().map(|m| m.created_at).min().unwrap_or(now);
            let new_id = format!("usr_{}", ulid::Ulid::new());
            db.execute(
                Query::insert()
                    .into_table(Users::Table)
                    .columns([
                        Users::Id,
                        Users::IdentityKey,
                        Users::Email,
                        Users::DisplayName,
                        Users::CreatedAt,
                        Users::UpdatedAt,
                        Users::DeletedAt,
                        Users::PurgeAfter,
                        Users::HeldIdentityKey,
                    ])
                    .values_panic([
                        new_id.clone().into(),
                        Option::<String>::None.into(),
                        email.into(),
                        name.into(),
                        created.into(),
                        std::cmp::Ord::max(updated_at, created).into(),
                        new_deleted.into(),
                        new_purge.into(),
                        Option::<String>::None.into(),
                    ]),
            )
            .await?;
            db.execute(
                Query::update()
                    .table(Memberships::Table)
                    .value(Memberships::UserId, new_id.as_str())
                    .and_where(Expr::col(Memberships::UserId).eq(user_id.as_str()))
                    .and_where(Expr::col(Memberships::OrganizationId).eq(org)),
            )
            .await?;
            db.execute(
                Query::update()
                    .table(Sessions::Table)
                    .value(Sessions::UserId, new_id.as_str())
                    .and_where(Expr::col(Sessions::UserId).eq(user_id.as_str()))
                    .and_where(Expr::col(Sessions::OrganizationId).eq(org)),
            )
            .await?;
            // Per-user delivery order follows the account the organization now has.
            db.execute(
                Query::update()
                    .table(Events::Table)
                    .value(Events::UserId, new_id.as_str())
                    .and_where(Expr::col(Events::UserId).eq(user_id.as_str()))
                    .and_where(Expr::col(Events::OrganizationId).eq(org)),
            )
            .await?;
            db.execute(
                Query::update()
                    .table(Deliveries::Table)
                    .value(Deliveries::OrderKey, new_id.as_str())
                    .and_where(Expr::col(Deliveries::OrderKey).eq(user_id.as_str()))
                    .and_where(Expr::col(Deliveries::OrganizationId).eq(org)),
            )
            .await?;
            let details = json!({
                "reason": "accounts link organizations only through verified domains",
                "from_user_id": user_id,
                "to_user_id": new_id,
                "memberships": ms.len(),
            });
            db.execute(
                Query::insert()
                    .into_table(AuditLog::Table)
                    .columns([
                        AuditLog::Id,
                        AuditLog::OrganizationId,
                        AuditLog::ActorType,
                        AuditLog::ActorId,
                        AuditLog::Action,
                        AuditLog::TargetType,
                        AuditLog::TargetId,
                        AuditLog::Details,
                        AuditLog::RequestId,
                        AuditLog::Outcome,
                        AuditLog::CreatedAt,
                    ])
                    .values_panic([
                        format!("aud_{}", ulid::Ulid::new()).into(),
                        Some(org.to_string()).into(),
                        "system".into(),
                        "migration".into(),
                        "account.split".into(),
                        "user".into(),
                        user_id.clone().into(),
                        details.into(),
                        Option::<String>::None.into(),
                        "success".into(),
                        now.into(),
                    ]),
            )
            .await?;
        }
    }
    Ok(())
}
