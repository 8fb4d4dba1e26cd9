//! The outbox: events are written in the same transaction as the change they report, so
//! a change is never committed without its events, nor an event without its change.

use chrono::{DateTime, Utc};
use entity::events;
use ids::{OrganizationId, UserId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::events::{Event, Head, Provenance};
use crate::store::organizations;

/// Rows per `INSERT`: eight values each, well under the values one statement may bind
/// (32,766 on SQLite, 65,535 on PostgreSQL) however many events a unit appends at once.
const ROWS_PER_INSERT: usize = 1000;

/// Appends the events, numbered with the organization's next sequence numbers; returns
/// their ids in order.
pub async fn append(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    events: Vec<Event>,
    provenance: &Provenance,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    let events: Vec<(String, Event)> = events.into_iter().map(|e| (new_id(), e)).collect();
    let ids = events.iter().map(|(id, _)| id.clone()).collect();
    append_identified(db, organization_id, events, provenance, now).await?;
    Ok(ids)
}

/// A new event id (for [`append_identified`]).
pub fn new_id() -> String {
    ids::new_id(ids::EVENT)
}

/// Appends events whose ids were chosen beforehand (with [`new_id`]), numbered with the
/// organization's next sequence numbers.
#[tracing::instrument(skip_all, fields(organization_id, count = events.len()))]
pub async fn append_identified(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    events: Vec<(String, Event)>,
    provenance: &Provenance,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    use events::Column as C;
    use sea_orm::DatabaseBackend;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let n = events.len() as i64;
    let last = organizations::reserve_sequence(db, organization_id, n).await?;
    let first = last - n + 1;
    let new_insert = || {
        let mut insert = Query::insert();
        insert.into_table(events::Entity).columns([
            C::Id,
            C::OrganizationId,
            C::Sequence,
            C::EventType,
            C::UserId,
            C::Payload,
            C::CreatedAt,
            C::FannedOut,
        ]);
        insert
    };
    let on_postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    for (c, chunk) in events.chunks(ROWS_PER_INSERT).enumerate() {
        let mut insert = new_insert();
        for (i, (id, e)) in chunk.iter().enumerate() {
            let sequence = first + (c * ROWS_PER_INSERT + i) as i64;
            let head = Head {
                id,
                timestamp: now,
                organization_id: organization_id.as_str(),
                sequence,
            };
            // The body is serialized once, straight from the event, and stored as it is.
            let payload = e.body(head, provenance).map_err(|err| {
                DbErr::Custom(format!(
                    "event {} did not serialize: {err}",
                    e.event_type().as_str()
                ))
            })?;
            let payload = if on_postgres {
                Expr::val(payload).cast_as(Alias::new("json"))
            } else {
                Expr::val(payload)
            };
            insert
                .values([
                    Expr::val(id.as_str()),
                    Expr::val(organization_id),
                    Expr::val(sequence),
                    Expr::val(e.event_type().as_str()),
                    Expr::val(e.user_id()),
                    payload,
                    Expr::val(now),
                    Expr::val(false),
                ])
                .map_err(|err| DbErr::Custom(format!("event row: {err}")))?;
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Erases the personal data of stored events about these users: the organization's view
/// of the user and the id its IdP gave it (`data.user` keeps only `id`;
/// `external_id` becomes `null`) and what they were before a change
/// (`data.previous_attributes` goes), in one organization or,
/// with `None`, in every one. Run when the record the view came from is erased, so the
/// outbox never keeps what the account no longer has (and a retry or replay sends the
/// erased form). Set-based: one statement per 500 users.
pub async fn erase_personal(
    db: &impl ConnectionTrait,
    user_ids: &[UserId],
    organization_id: Option<&OrganizationId>,
) -> Result<u64, DbErr> {
    use sea_orm::{DatabaseBackend, Statement};
    let backend = db.get_database_backend();
    let mut erased = 0;
    for chunk in user_ids.chunks(500) {
        let mut values: Vec<sea_orm::Value> = chunk.iter().map(|u| u.clone().into()).collect();
        let placeholders: Vec<String> = match backend {
            DatabaseBackend::Postgres => (1..=chunk.len()).map(|i| format!("${i}")).collect(),
            _ => chunk.iter().map(|_| "?".to_string()).collect(),
        };
        let org_filter = match (organization_id, backend) {
            // `|| ''`: not a column the planner can seek by. With the plain column,
            // PostgreSQL (whose statistics never know the events a transaction just
            // wrote) chose the (organization, sequence) index and read every event of
            // the organization for each page of erased users: an organization of
            // 100,000 members took minutes to delete. By user it reads only theirs.
            (Some(org), DatabaseBackend::Postgres) => {
                values.push(org.into());
                format!(" AND organization_id || '' = ${}", chunk.len() + 1)
            }
            (Some(org), _) => {
                values.push(org.into());
                " AND organization_id = ?".to_string()
            }
            (None, _) => String::new(),
        };
        let users = placeholders.join(", ");
        let sql = match backend {
            DatabaseBackend::Postgres => format!(
                "UPDATE events SET payload = (jsonb_set(payload::jsonb, '{{data,user}}', \
                 jsonb_build_object('id', payload::jsonb #> '{{data,user,id}}', \
                 'external_id', NULL)) #- '{{data,previous_attributes}}')::json \
                 WHERE user_id IN ({users}){org_filter} \
                 AND (payload::jsonb #> '{{data,user,status}}' IS NOT NULL \
                 OR jsonb_typeof(payload::jsonb #> '{{data,user,external_id}}') = 'string' \
                 OR payload::jsonb #> '{{data,previous_attributes}}' IS NOT NULL)"
            ),
            // INDEXED BY: with the organization's filter SQLite's planner (no statistics)
            // prefers the (organization, sequence) index and parses every event of the
            // organization for each erased user; by user it reads only theirs.
            _ => format!(
                "UPDATE events INDEXED BY idx_events_user \
                 SET payload = json_remove(json_set(payload, '$.data.user', \
                 json_object('id', json_extract(payload, '$.data.user.id'), \
                 'external_id', NULL)), '$.data.previous_attributes') \
                 WHERE user_id IN ({users}){org_filter} \
                 AND (json_type(payload, '$.data.user.status') IS NOT NULL \
                 OR json_type(payload, '$.data.user.external_id') = 'text' \
                 OR json_type(payload, '$.data.previous_attributes') IS NOT NULL)"
            ),
        };
        let res = db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        erased += res.rows_affected();
    }
    Ok(erased)
}

/// A page of events in id (creation) order after the event `after`, optionally of one
/// organization and one type.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: Option<&OrganizationId>,
    event_type: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<events::Model>, DbErr> {
    use events::Column;
    let q = super::when_eq(
        events::Entity::find(),
        Column::OrganizationId,
        organization_id,
    );
    let q = super::when_eq(q, Column::EventType, event_type);
    super::after_page(db, q, Column::Id, after, limit).await
}

/// The organization's events after sequence number `after` (0: from its first retained
/// event), in sequence order, at most `limit`. Sequence order is commit order: an
/// organization's numbers are reserved under its row lock, held until commit.
pub async fn after_sequence(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    after: i64,
    limit: u64,
) -> Result<Vec<events::Model>, DbErr> {
    events::Entity::find()
        .filter(events::Column::OrganizationId.eq(organization_id))
        .filter(events::Column::Sequence.gt(after))
        .order_by_asc(events::Column::Sequence)
        .limit(limit)
        .all(db)
        .await
}

/// One event by id.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<events::Model>, DbErr> {
    events::Entity::find_by_id(id.to_string()).one(db).await
}

/// An organization's events in sequence order.
pub async fn list_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Vec<events::Model>, DbErr> {
    events::Entity::find()
        .filter(events::Column::OrganizationId.eq(organization_id))
        .order_by_asc(events::Column::Sequence)
        .all(db)
        .await
}

/// The types of the organization's events since `since`, reading at most its newest
/// `limit` events (through the sequence index: bounded however long its history).
pub async fn recent_types(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<std::collections::BTreeSet<String>, DbErr> {
    // The time is checked here, not in SQL: a filter the index cannot serve would let the
    // scan run through the whole history looking for `limit` matches.
    let newest: Vec<(String, DateTime<Utc>)> = events::Entity::find()
        .select_only()
        .column(events::Column::EventType)
        .column(events::Column::CreatedAt)
        .filter(events::Column::OrganizationId.eq(organization_id))
        .order_by_desc(events::Column::Sequence)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(newest
        .into_iter()
        .filter(|(_, at)| *at >= since)
        .map(|(t, _)| t)
        .collect())
}

/// The events about the account, in every organization, oldest first, at most `limit`.
pub async fn for_user(
    db: &impl ConnectionTrait,
    user_id: &UserId,
    limit: u64,
) -> Result<Vec<events::Model>, DbErr> {
    events::Entity::find()
        .filter(events::Column::UserId.eq(user_id))
        .order_by_asc(events::Column::CreatedAt)
        .order_by_asc(events::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The organization's newest events, newest first.
pub async fn newest_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    limit: u64,
) -> Result<Vec<events::Model>, DbErr> {
    events::Entity::find()
        .filter(events::Column::OrganizationId.eq(organization_id))
        .order_by_desc(events::Column::Sequence)
        .limit(limit)
        .all(db)
        .await
}
