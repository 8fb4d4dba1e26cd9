//! SCIM /Groups use cases for one organization. Member changes touch member rows one by
//! one (never the whole list, except for a full replace), each with its event, in the
//! same transaction as the change.

use chrono::Utc;
use entity::groups as group_model;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use super::users::Scope;
use super::{Error, Result, check_if_match};
use crate::db;
use crate::domain::IfMatch;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::group::{GroupInput, GroupView, MemberOp, split_patch};
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{Document, canonicalize};
use crate::scim::schema::GROUP;
use crate::scim::user::etag;
use crate::store::audit::{self, Entry};
use crate::store::groups::{self as store, NewGroup};
use crate::store::{memberships, outbox};
use crate::webhook::event::{EventType, NewEvent, group_data};

pub struct GroupResource {
    pub body: Value,
    pub etag: String,
}

fn record_of(g: &group_model::Model) -> Document {
    match &g.scim {
        Value::Object(o) => o.clone(),
        _ => Document::new(),
    }
}

async fn render(
    db: &impl ConnectionTrait,
    scope: &Scope,
    g: &group_model::Model,
    with_members: bool,
) -> Result<GroupResource> {
    let members = if with_members {
        Some(store::members(db, &scope.organization_id, &g.id).await?)
    } else {
        None
    };
    let record = record_of(g);
    let body = GroupView {
        id: &g.id,
        record: &record,
        members: members.as_deref(),
        created: g.created_at,
        last_modified: g.updated_at,
        version: g.version,
        base_url: &scope.base_url,
    }
    .render();
    Ok(GroupResource {
        body,
        etag: etag(g.version),
    })
}

fn not_found(id: &str) -> Error {
    Error::not_found("Group", Some(id))
}

/// Refuses member ids (SCIM ids) that are not live users of the organization: nothing
/// changes. Another organization's ids name nobody here.
async fn require_members(db: &impl ConnectionTrait, org: &str, ids: &[String]) -> Result<()> {
    let live = memberships::accounts_of(db, org, ids).await?;
    if let Some(bad) = ids.iter().find(|id| !live.contains_key(*id)) {
        let shown = crate::service::shown_id(bad);
        return Err(ScimError::invalid_value(format!(
            "member {shown} is not a user of this organization"
        ))
        .into());
    }
    Ok(())
}

/// One event per member (SCIM id), naming the member's account too.
async fn member_events(
    db: &impl ConnectionTrait,
    org: &str,
    group: &str,
    ids: &[String],
    t: EventType,
) -> Result<Vec<NewEvent>> {
    let accounts = memberships::accounts_of(db, org, ids).await?;
    Ok(ids
        .iter()
        .filter_map(|m| {
            let user = accounts.get(m)?;
            Some(NewEvent::new(
                t,
                user,
                group_data(org, group, Some((user, m))),
            ))
        })
        .collect())
}

/// A create or replace body as a valid `GroupInput` (the route runs this off the async
/// workers for large bodies).
pub fn parse_input(body: &Value) -> std::result::Result<GroupInput, ScimError> {
    GroupInput::from_document(canonicalize(&GROUP, body)?)
}

#[tracing::instrument(skip_all, fields(organization_id = %scope.organization_id))]
pub async fn create(
    db: &DatabaseConnection,
    scope: &Scope,
    input: GroupInput,
    with_members: bool,
) -> Result<GroupResource> {
    let org = scope.organization_id.as_str();
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let members = input.members.clone().unwrap_or_default();
    require_members(&txn, org, &members).await?;
    let g = store::insert(
        &txn,
        NewGroup {
            organization_id: org,
            display_name: input.display_name,
            external_id: input.external_id,
            record: Value::Object(input.record),
        },
        now,
    )
    .await?;
    let added = store::add_members(&txn, org, &g.id, &members, now).await?;
    let mut events = vec![NewEvent::organization(
        EventType::GroupCreated,
        group_data(org, &g.id, None),
    )];
    events.extend(member_events(&txn, org, &g.id, &added, EventType::GroupMemberAdded).await?);
    let event_ids = outbox::append(&txn, org, events, now).await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action: audit::actions::SCIM_GROUP_CREATE,
            target_type: "group",
            target_id: &g.id,
            details: json!({"members_added": added.len(), "events": event_ids}),
        },
        now,
    )
    .await?;
    let r = render(&txn, scope, &g, with_members).await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn get(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    with_members: bool,
) -> Result<GroupResource> {
    let g = store::find(db, &scope.organization_id, id, false)
        .await?
        .ok_or_else(|| not_found(id))?;
    render(db, scope, &g, with_members).await
}

/// Rows read per round when a filter must be checked here row by row.
const SCAN_BATCH: u64 = 200;

/// Lists the organization's groups. The filter and the sort run in SQL (members through
/// the member table), so only the page is loaded; members are loaded only for the page
/// and only when returned, so `excludedAttributes=members` stays cheap for large groups.
pub async fn list(
    db: &DatabaseConnection,
    scope: &Scope,
    query: &ListQuery,
) -> Result<(usize, Vec<Value>)> {
    use crate::store::scim_query::{self, Condition, Resource};
    let org = scope.organization_id.as_str();
    let backend = db.get_database_backend();
    let condition = match &query.filter {
        Some(f) => scim_query::compile(f, Resource::Groups, backend)?,
        None => Condition::Exact(None),
    };
    let order = scim_query::order(
        query.sort_by.as_ref(),
        query.descending,
        Resource::Groups,
        backend,
    )?;
    let offset = query.start_index.saturating_sub(1) as u64;
    let wanted = query.count as u64;
    let (total, rows) = match (&condition, &query.filter) {
        (Condition::Superset(_), Some(filter)) => {
            let needs_members = filter.mentions("members");
            let (mut matched, mut rows, mut at) = (0u64, Vec::new(), 0u64);
            loop {
                let batch =
                    store::filtered_page(db, org, condition.expr(), &order, at, SCAN_BATCH).await?;
                if batch.is_empty() {
                    break;
                }
                at += batch.len() as u64;
                for g in batch {
                    let body = render(db, scope, &g, needs_members).await?.body;
                    if filter.matches(&body) {
                        if matched >= offset && (rows.len() as u64) < wanted {
                            rows.push(g);
                        }
                        matched += 1;
                    }
                }
            }
            (matched, rows)
        }
        _ => {
            let total = store::filtered_count(db, org, condition.expr()).await?;
            let rows = if wanted == 0 || offset >= total {
                Vec::new()
            } else {
                store::filtered_page(db, org, condition.expr(), &order, offset, wanted).await?
            };
            (total, rows)
        }
    };
    let with_members = query.projection.returns("members");
    let mut page = Vec::with_capacity(rows.len());
    for g in &rows {
        page.push(
            query
                .projection
                .apply(render(db, scope, g, with_members).await?.body),
        );
    }
    Ok((usize::try_from(total).unwrap_or(usize::MAX), page))
}

/// The changes a PUT or PATCH asks for, applied inside one transaction.
struct Plan {
    record: Option<GroupInput>,
    members: Vec<MemberOp>,
}

async fn modify(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    if_match: &IfMatch,
    action: &str,
    plan: impl FnOnce(&group_model::Model) -> std::result::Result<Plan, ScimError>,
) -> Result<group_model::Model> {
    let org = scope.organization_id.as_str();
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let current = store::find(&txn, org, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(current.version, if_match)?;
    let plan = plan(&current)?;
    let mut events = Vec::new();
    let (mut added_total, mut removed_total) = (0usize, 0usize);
    for op in plan.members {
        let (add, remove) = match op {
            MemberOp::Add(ids) => {
                require_members(&txn, org, &ids).await?;
                (ids, Vec::new())
            }
            MemberOp::Remove(ids) => {
                // Removing someone who is not a member is a no-op; an id that names no
                // user of this organization at all is an error.
                let live = memberships::accounts_of(&txn, org, &ids).await?;
                let current_ids: std::collections::HashSet<String> =
                    store::member_ids_among(&txn, &current.id, &ids)
                        .await?
                        .into_iter()
                        .collect();
                if let Some(bad) = ids
                    .iter()
                    .find(|i| !live.contains_key(*i) && !current_ids.contains(*i))
                {
                    let shown = crate::service::shown_id(bad);
                    return Err(ScimError::new(
                        400,
                        Some(ScimType::NoTarget),
                        format!("member {shown} is not in this group or organization"),
                    )
                    .into());
                }
                (Vec::new(), ids)
            }
            MemberOp::RemoveAll => (Vec::new(), store::member_ids(&txn, &current.id).await?),
            MemberOp::Replace(ids) => {
                require_members(&txn, org, &ids).await?;
                let now_in = store::member_ids(&txn, &current.id).await?;
                let now_set: std::collections::HashSet<&String> = now_in.iter().collect();
                let wanted: std::collections::HashSet<&String> = ids.iter().collect();
                let add = ids
                    .iter()
                    .filter(|i| !now_set.contains(i))
                    .cloned()
                    .collect();
                let remove = now_in
                    .iter()
                    .filter(|i| !wanted.contains(i))
                    .cloned()
                    .collect();
                (add, remove)
            }
        };
        let added = store::add_members(&txn, org, &current.id, &add, now).await?;
        let removed = store::remove_members(&txn, &current.id, &remove).await?;
        added_total += added.len();
        removed_total += removed.len();
        events.extend(
            member_events(
                &txn,
                org,
                &current.id,
                &removed,
                EventType::GroupMemberRemoved,
            )
            .await?,
        );
        events.extend(
            member_events(&txn, org, &current.id, &added, EventType::GroupMemberAdded).await?,
        );
    }
    let record_changed = plan
        .record
        .as_ref()
        .is_some_and(|input| Value::Object(input.record.clone()) != current.scim);
    if !record_changed && events.is_empty() {
        txn.rollback().await?;
        return Ok(current);
    }
    let saved = match plan.record {
        Some(input) if record_changed => {
            events.insert(
                0,
                NewEvent::organization(EventType::GroupUpdated, group_data(org, &current.id, None)),
            );
            store::save(
                &txn,
                &current,
                input.display_name,
                input.external_id,
                Value::Object(input.record),
                now,
            )
            .await?
        }
        _ => store::touch(&txn, &current, now).await?,
    };
    let event_ids = outbox::append(&txn, org, events, now).await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action,
            target_type: "group",
            target_id: &current.id,
            details: json!({
                "record_changed": record_changed,
                "members_added": added_total,
                "members_removed": removed_total,
                "events": event_ids,
            }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// PUT: the body replaces the group; its `members` (when present) become the member list.
pub async fn replace(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    input: GroupInput,
    if_match: &IfMatch,
    with_members: bool,
) -> Result<GroupResource> {
    let members = input.members.clone().unwrap_or_default();
    let g = modify(
        db,
        scope,
        id,
        if_match,
        audit::actions::SCIM_GROUP_REPLACE,
        |_| {
            Ok(Plan {
                record: Some(input),
                members: vec![MemberOp::Replace(members)],
            })
        },
    )
    .await?;
    render(db, scope, &g, with_members).await
}

/// PATCH: member operations go to the member rows; the rest applies to the record.
pub async fn patch(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    request: PatchRequest,
    if_match: &IfMatch,
) -> Result<group_model::Model> {
    let split = split_patch(request)?;
    modify(
        db,
        scope,
        id,
        if_match,
        audit::actions::SCIM_GROUP_PATCH,
        move |current| {
            let record = if split.rest.operations.is_empty() {
                None
            } else {
                let patched = split.rest.apply(&GROUP, &record_of(current))?;
                Some(GroupInput::from_document(patched)?)
            };
            Ok(Plan {
                record,
                members: split.members,
            })
        },
    )
    .await
}

pub async fn render_one(
    db: &DatabaseConnection,
    scope: &Scope,
    g: &group_model::Model,
    with_members: bool,
) -> Result<GroupResource> {
    render(db, scope, g, with_members).await
}

pub async fn delete(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    if_match: &IfMatch,
) -> Result<()> {
    let org = scope.organization_id.as_str();
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let current = store::find(&txn, org, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(current.version, if_match)?;
    store::delete(&txn, &current.id).await?;
    let event_ids = outbox::append(
        &txn,
        org,
        vec![NewEvent::organization(
            EventType::GroupDeleted,
            group_data(org, &current.id, None),
        )],
        now,
    )
    .await?;
    audit::record(
        &txn,
        &scope.actor,
        Entry {
            organization_id: Some(org),
            action: audit::actions::SCIM_GROUP_DELETE,
            target_type: "group",
            target_id: &current.id,
            details: json!({"events": event_ids}),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
