//! SCIM /Groups use cases for one organization. Member changes touch member rows one by
//! one (never the whole list, except for a full replace), each with its event, in the
//! same unit of work as the change. Answers are [`Group`]s that the route renders.

use ids::{GroupId, OrganizationId};
use std::collections::HashSet;

use entity::groups as group_model;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use super::Scope;
use super::listing::{self};
use super::roles::Cause;
use super::work::{Audit, Work};
use super::{Error, Result, check_if_match};
use crate::domain::IfMatch;
use crate::domain::events::{Event, GroupData};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::group::{GroupInput, MemberOp, split_patch};
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{Document, canonicalize};
use crate::scim::schema::GROUP;
use crate::store::audit::actions as act;
use crate::store::groups::MemberGroup;
use crate::store::groups::{self as store, Member, NewGroup};
use crate::store::memberships;
use crate::store::scim_query::Resource;

/// A group as the organization sees it; `members` only when they were asked for.
#[derive(Debug, Clone)]
pub struct Group {
    pub group: group_model::Model,
    pub members: Option<Vec<Member>>,
}

impl Group {
    /// The group's record (the SCIM document without `members`).
    pub fn record(&self) -> Document {
        record_of(&self.group)
    }
}

fn record_of(g: &group_model::Model) -> Document {
    match &g.scim {
        Value::Object(o) => o.clone(),
        _ => Document::new(),
    }
}

async fn load(
    db: &impl ConnectionTrait,
    scope: &Scope,
    group: group_model::Model,
    with_members: bool,
) -> Result<Group> {
    let members = if with_members {
        Some(store::members(db, &scope.organization_id, &group.id).await?)
    } else {
        None
    };
    Ok(Group { group, members })
}

/// What a role rule can match the group by.
fn facts_of(g: &group_model::Model) -> MemberGroup {
    MemberGroup {
        id: g.id.clone(),
        external_id: g.external_id.clone(),
        display_name: g.display_name.clone(),
    }
}

fn not_found(id: &str) -> Error {
    Error::not_found("Group", Some(id))
}

/// The group a request's path names; text that cannot be a group's id names none.
fn group_id(id: &str) -> Result<GroupId> {
    GroupId::named(id).ok_or_else(|| not_found(id))
}

/// Refuses member ids (SCIM ids) that are not live users of the organization: nothing
/// changes. Another organization's ids name nobody here.
async fn require_members(
    db: &impl ConnectionTrait,
    org: &OrganizationId,
    ids: &[String],
) -> Result<()> {
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
    org: &OrganizationId,
    group: &GroupId,
    ids: &[String],
    event: fn(GroupData) -> Event,
) -> Result<Vec<Event>> {
    let accounts = memberships::accounts_of(db, org, ids).await?;
    Ok(ids
        .iter()
        .filter_map(|m| {
            let user = accounts.get(m)?;
            Some(event(GroupData::member(org, group, user, m)))
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
) -> Result<Group> {
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor).await?.source("scim.post");
    let (tx, now) = (work.tx(), work.now);
    let members = input.members.clone().unwrap_or_default();
    require_members(tx, org, &members).await?;
    let g = store::insert(
        tx,
        NewGroup {
            organization_id: org,
            display_name: input.display_name,
            external_id: input.external_id,
            record: Value::Object(input.record),
        },
        now,
    )
    .await?;
    let added = store::add_members(tx, org, &g.id, &members, now).await?;
    let mut events = vec![Event::GroupCreated(GroupData::new(org, &g.id))];
    events.extend(member_events(tx, org, &g.id, &added, Event::GroupMemberAdded).await?);
    let group = load(tx, scope, g, with_members).await?;
    work.emit(org, events);
    let gid = group.group.id.clone();
    super::roles::recompute_members(&mut work, org, &added, Cause::MemberAdded(&gid)).await?;
    work.audit(
        Audit::new(
            act::SCIM_GROUP_CREATE,
            "group",
            &group.group.id,
            json!({"members_added": added.len()}),
        )
        .in_organization(org)
        .listing_events(),
    );
    work.commit().await?;
    Ok(group)
}

pub async fn get(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    with_members: bool,
) -> Result<Group> {
    let g = store::find(db, &scope.organization_id, &group_id(id)?, false)
        .await?
        .ok_or_else(|| not_found(id))?;
    load(db, scope, g, with_members).await
}

/// Rows read per round when a filter must be checked here row by row.
const SCAN_BATCH: u64 = 200;

/// Lists the organization's groups (see `listing`); members are loaded only for the page
/// and only when returned, so `excludedAttributes=members` stays cheap for large groups.
pub async fn list(
    db: &DatabaseConnection,
    scope: &Scope,
    query: &ListQuery,
    as_document: &dyn Fn(&Group) -> Value,
) -> Result<(usize, Vec<Group>)> {
    let org = &scope.organization_id;
    let needs_members = query.filter.as_ref().is_some_and(|f| f.mentions("members"));
    let (total, mut page) = listing::list(
        db,
        query,
        Resource::Groups,
        store::listed(org),
        SCAN_BATCH,
        |group| Group {
            group,
            members: None,
        },
        async |batch: &mut [Group]| {
            if needs_members {
                attach_members(db, scope, batch).await?;
            }
            Ok(())
        },
        as_document,
    )
    .await?;
    if query.projection.returns("members") {
        attach_members(db, scope, &mut page).await?;
    }
    Ok((total, page))
}

async fn attach_members(
    db: &impl ConnectionTrait,
    scope: &Scope,
    groups: &mut [Group],
) -> Result<()> {
    for g in groups {
        if g.members.is_none() {
            g.members = Some(store::members(db, &scope.organization_id, &g.group.id).await?);
        }
    }
    Ok(())
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
    action: &'static str,
    plan: impl FnOnce(&group_model::Model) -> std::result::Result<Plan, ScimError>,
) -> Result<group_model::Model> {
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor)
        .await?
        .source(super::scim_source(action));
    let (tx, now) = (work.tx(), work.now);
    let current = store::find(tx, org, &group_id(id)?, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(current.version, if_match)?;
    let plan = plan(&current)?;
    let mut events = Vec::new();
    let (mut added_all, mut removed_all) = (Vec::new(), Vec::new());
    for op in plan.members {
        let (add, remove) = match op {
            MemberOp::Add(ids) => {
                require_members(tx, org, &ids).await?;
                (ids, Vec::new())
            }
            MemberOp::Remove(ids) => {
                // Removing someone who is not a member is a no-op; an id that names no
                // user of this organization at all is an error.
                let live = memberships::accounts_of(tx, org, &ids).await?;
                let current_ids: HashSet<String> = store::member_ids_among(tx, &current.id, &ids)
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
            MemberOp::RemoveAll => (Vec::new(), store::member_ids(tx, &current.id).await?),
            MemberOp::Replace(ids) => {
                require_members(tx, org, &ids).await?;
                let now_in = store::member_ids(tx, &current.id).await?;
                let now_set: HashSet<&String> = now_in.iter().collect();
                let wanted: HashSet<&String> = ids.iter().collect();
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
        let added = store::add_members(tx, org, &current.id, &add, now).await?;
        let removed = store::remove_members(tx, &current.id, &remove).await?;
        events.extend(
            member_events(tx, org, &current.id, &removed, Event::GroupMemberRemoved).await?,
        );
        events.extend(member_events(tx, org, &current.id, &added, Event::GroupMemberAdded).await?);
        added_all.extend(added);
        removed_all.extend(removed);
    }
    let (added_total, removed_total) = (added_all.len(), removed_all.len());
    let record_changed = plan
        .record
        .as_ref()
        .is_some_and(|input| Value::Object(input.record.clone()) != current.scim);
    if !record_changed && events.is_empty() {
        // Idempotent: nothing changes, nothing is written or emitted.
        return Ok(current);
    }
    let saved = match plan.record {
        Some(input) if record_changed => {
            events.insert(0, Event::GroupUpdated(GroupData::new(org, &current.id)));
            store::save(
                tx,
                &current,
                input.display_name,
                input.external_id,
                Value::Object(input.record),
                now,
            )
            .await?
        }
        _ => store::touch(tx, &current, now).await?,
    };
    work.emit(org, events);
    let gid = current.id.clone();
    super::roles::recompute_members(&mut work, org, &removed_all, Cause::MemberRemoved(&gid))
        .await?;
    super::roles::recompute_members(&mut work, org, &added_all, Cause::MemberAdded(&gid)).await?;
    // A rename (or a new externalId) can make a rule match the group, or stop matching.
    if record_changed
        && super::roles::mapping_names(work.tx(), org, &[facts_of(&current), facts_of(&saved)])
            .await?
    {
        let all = store::member_ids(work.tx(), &current.id).await?;
        super::roles::recompute_members(&mut work, org, &all, Cause::GroupUpdated(&gid)).await?;
    }
    work.audit(
        Audit::new(
            action,
            "group",
            &current.id,
            json!({
                "record_changed": record_changed,
                "members_added": added_total,
                "members_removed": removed_total,
            }),
        )
        .in_organization(org)
        .listing_events(),
    );
    work.commit().await?;
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
) -> Result<Group> {
    let members = input.members.clone().unwrap_or_default();
    let g = modify(db, scope, id, if_match, act::SCIM_GROUP_REPLACE, |_| {
        Ok(Plan {
            record: Some(input),
            members: vec![MemberOp::Replace(members)],
        })
    })
    .await?;
    load(db, scope, g, with_members).await
}

/// PATCH: member operations go to the member rows; the rest applies to the record.
pub async fn patch(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    request: PatchRequest,
    if_match: &IfMatch,
    with_members: bool,
) -> Result<Group> {
    let split = split_patch(request)?;
    let g = modify(
        db,
        scope,
        id,
        if_match,
        act::SCIM_GROUP_PATCH,
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
    .await?;
    load(db, scope, g, with_members).await
}

pub async fn delete(
    db: &DatabaseConnection,
    scope: &Scope,
    id: &str,
    if_match: &IfMatch,
) -> Result<()> {
    let org = &scope.organization_id;
    let mut work = Work::begin(db, &scope.actor).await?.source("scim.delete");
    let current = store::find(work.tx(), org, &group_id(id)?, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_if_match(current.version, if_match)?;
    let named = super::roles::mapping_names(work.tx(), org, &[facts_of(&current)]).await?;
    let members = if named {
        store::member_ids(work.tx(), &current.id).await?
    } else {
        Vec::new()
    };
    store::delete(work.tx(), &current.id).await?;
    work.emit(org, [Event::GroupDeleted(GroupData::new(org, &current.id))]);
    // Its members lose what it granted.
    super::roles::recompute_members(&mut work, org, &members, Cause::GroupDeleted(&current.id))
        .await?;
    work.audit(
        Audit::new(act::SCIM_GROUP_DELETE, "group", &current.id, json!({}))
            .in_organization(org)
            .listing_events(),
    );
    work.commit().await?;
    Ok(())
}
