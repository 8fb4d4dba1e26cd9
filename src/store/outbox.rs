//! The outbox: events are written in the same transaction as the change they report, so
//! a change is never committed without its events, nor an event without its change.

use chrono::{DateTime, Utc};
use entity::events;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::domain::events::{Envelope, Event};
use crate::ids;
use crate::store::organizations;

/// Appends the events, numbered with the organization's next sequence numbers; returns
/// their ids in order.
#[tracing::instrument(skip_all, fields(organization_id, count = events.len()))]
pub async fn append(
    db: &impl ConnectionTrait,
    organization_id: &str,
    events: Vec<Event>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = events.len() as i64;
    let last = organizations::reserve_sequence(db, organization_id, n).await?;
    let first = last - n + 1;
    let mut ids_out = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let id = ids::new_id(ids::EVENT);
        let sequence = first + i as i64;
        let event_type = e.event_type().as_str();
        let envelope = Envelope {
            id: &id,
            event_type,
            timestamp: now,
            organization_id,
            sequence,
            data: e.data(),
        };
        let payload = serde_json::to_value(&envelope)
            .map_err(|err| DbErr::Custom(format!("event {event_type} did not serialize: {err}")))?;
        rows.push(events::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(organization_id.to_string()),
            sequence: Set(sequence),
            event_type: Set(event_type.to_string()),
            user_id: Set(e.user_id().map(str::to_string)),
            payload: Set(payload),
            created_at: Set(now),
            fanned_out: Set(false),
        });
        ids_out.push(id);
    }
    events::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(ids_out)
}

/// A page of events in id (creation) order after the event `after`, optionally of one
/// organization and one type.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: Option<&str>,
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

/// An organization's events in sequence order.
pub async fn list_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &str,
) -> Result<Vec<events::Model>, DbErr> {
    events::Entity::find()
        .filter(events::Column::OrganizationId.eq(organization_id))
        .order_by_asc(events::Column::Sequence)
        .all(db)
        .await
}

/// The events about the account, in every organization, oldest first, at most `limit`.
pub async fn for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
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
