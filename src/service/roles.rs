//! Roles from groups, kept true in the transaction of every change that can move them: a
//! group's members, name or existence, a membership's status, record or removal, and the
//! mapping itself. What a member's roles are is `domain::roles`; this recomputes them
//! for the members a change touched and emits `membership.roles_changed` for each whose
//! roles moved.

use entity::memberships;
use ids::{GroupId, MembershipId, OrganizationId};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::events::{Event, Id, RolesChangedData, ScimIdRef};
use crate::domain::roles::{GroupFacts, RoleMapping, scim_role_values, stored_roles};
use crate::domain::status::MembershipStatus;
use crate::store::audit::{Actor, actions};
use crate::store::groups::{MemberGroup, member_groups};
use crate::store::jobs::{self, NewJob};
use crate::store::roles as store;
use crate::store::{memberships as members, organizations as orgs};

/// What moved a member's roles, as `membership.roles_changed` says.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    MemberAdded(&'a GroupId),
    MemberRemoved(&'a GroupId),
    GroupUpdated(&'a GroupId),
    GroupDeleted(&'a GroupId),
    /// The membership's status or the IdP's `roles`.
    Membership,
    /// The membership was removed.
    Removed,
    Mapping,
}

impl Cause<'_> {
    fn name(self) -> &'static str {
        match self {
            Cause::MemberAdded(_) => "group.member_added",
            Cause::MemberRemoved(_) => "group.member_removed",
            Cause::GroupUpdated(_) => "group.updated",
            Cause::GroupDeleted(_) => "group.deleted",
            Cause::Membership => "membership",
            Cause::Removed => "membership.deleted",
            Cause::Mapping => "role_mapping",
        }
    }

    fn group(self) -> Option<Id> {
        match self {
            Cause::MemberAdded(g)
            | Cause::MemberRemoved(g)
            | Cause::GroupUpdated(g)
            | Cause::GroupDeleted(g) => Some(Id::of(g)),
            Cause::Membership | Cause::Removed | Cause::Mapping => None,
        }
    }
}

fn facts(groups: &[MemberGroup]) -> Vec<GroupFacts<'_>> {
    groups
        .iter()
        .map(|g| GroupFacts {
            id: &g.id,
            external_id: g.external_id.as_deref(),
            display_name: &g.display_name,
        })
        .collect()
}

/// Recomputes the roles of `rows` (memberships of `org` as they now are; removed ones
/// have none) under `mapping`, records those that moved and emits their events; returns
/// how many moved.
pub async fn recompute_with(
    work: &mut Work<'_>,
    org: &OrganizationId,
    mapping: &RoleMapping,
    rows: &[memberships::Model],
    cause: Cause<'_>,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let groups = if mapping.rules.is_empty() {
        Default::default()
    } else {
        let ids: Vec<String> = rows.iter().map(|m| m.scim_id.clone()).collect();
        member_groups(work.tx(), org, &ids).await?
    };
    let mut moved = 0;
    for m in rows {
        let theirs = groups.get(&m.scim_id).map_or(&[][..], Vec::as_slice);
        moved += u64::from(reconcile(work, org, mapping, m, theirs, cause).await?);
    }
    Ok(moved)
}

/// Recomputes the roles of the one membership `m`, in `groups`, under `mapping`; records
/// them and emits `membership.roles_changed` when they moved (and says whether they did).
async fn reconcile(
    work: &mut Work<'_>,
    org: &OrganizationId,
    mapping: &RoleMapping,
    m: &memberships::Model,
    groups: &[MemberGroup],
    cause: Cause<'_>,
) -> Result<bool> {
    let active = m.removed_at.is_none() && members::status_of(m.status) == MembershipStatus::Active;
    let roles = mapping.roles_for(active, &facts(groups), &scim_role_values(&m.roles));
    let previous = stored_roles(m.granted_roles.as_ref());
    if roles == previous {
        return Ok(false);
    }
    store::set_granted(work.tx(), &m.id, &roles).await?;
    let event = Event::MembershipRolesChanged(RolesChangedData {
        organization: Id::of(org),
        user: Id::of(&m.user_id),
        membership: ScimIdRef {
            scim_id: m.scim_id.clone(),
        },
        roles,
        previous_roles: previous,
        cause: cause.name().to_string(),
        group: cause.group(),
    });
    work.emit(org, [event]);
    Ok(true)
}

/// Recomputes the roles of `m`, a membership this unit of work holds locked, in
/// `groups` (the groups it is in, as read in this unit), with the organization's mapping
/// read unlocked: a mapping change locks every live membership before it changes the
/// mapping, so the two never interleave (and the organization's row stays the last lock
/// taken, at commit, as everywhere).
pub async fn recompute_member(
    work: &mut Work<'_>,
    m: &memberships::Model,
    groups: &[MemberGroup],
) -> Result<bool> {
    let org = &m.organization_id;
    let mapping = store::mapping(work.tx(), org, false).await?;
    reconcile(work, org, &mapping, m, groups, Cause::Membership).await
}

/// As [`recompute_member`], for a membership this unit of work just made: no mapping
/// change can have locked it, so the mapping is read with the organization's row locked (this unit
/// holds no lock that another takes after that row).
pub async fn recompute_new(
    work: &mut Work<'_>,
    org: &OrganizationId,
    row: &memberships::Model,
) -> Result<u64> {
    let mapping = store::mapping(work.tx(), org, true).await?;
    recompute_with(
        work,
        org,
        &mapping,
        std::slice::from_ref(row),
        Cause::Membership,
    )
    .await
}

/// Recomputes the roles of the organization's live members among `scim_ids` (a group's
/// members that changed).
pub async fn recompute_members(
    work: &mut Work<'_>,
    org: &OrganizationId,
    scim_ids: &[String],
    cause: Cause<'_>,
) -> Result<u64> {
    if scim_ids.is_empty() {
        return Ok(0);
    }
    // The members locked: a mapping change waits for them, or this waits for it.
    let rows = store::live_by_scim_ids(work.tx(), org, scim_ids).await?;
    let mapping = store::mapping(work.tx(), org, false).await?;
    recompute_with(work, org, &mapping, &rows, cause).await
}

/// Whether a rule names this group as it is (or was): a change to it can move its
/// members' roles.
pub async fn mapping_names(
    db: &impl ConnectionTrait,
    org: &OrganizationId,
    groups: &[MemberGroup],
) -> Result<bool> {
    let mapping = store::mapping(db, org, false).await?;
    Ok(facts(groups).iter().any(|g| mapping.names(g)))
}

/// The organization's mapping.
pub async fn mapping(db: &DatabaseConnection, org: &OrganizationId) -> Result<RoleMapping> {
    if orgs::find(db, org).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    Ok(store::mapping(db, org, false).await?)
}

/// Members re-roled per unit of work when a mapping changes.
const BATCH: u64 = 500;

/// The most live members a mapping change re-roles in its own request; with more, a
/// `roles.recompute` job does it, page by page, with progress.
pub const SYNC_MAX: u64 = 1_000;

/// What a mapping change did with the members' roles.
pub enum MappingSet {
    /// Re-roled in the change's own transaction: how many members' roles moved.
    Applied { members_changed: u64 },
    /// The mapping is stored; this job re-roles the members.
    Queued(Box<entity::jobs::Model>),
}

/// Replaces the organization's mapping, and re-roles its members: in the same
/// transaction (each member whose roles moved gets `membership.roles_changed`), or, with
/// `as_job` or more than [`SYNC_MAX`] live members, in a job queued in that transaction.
/// A group named by id must be one of the organization's (422 otherwise, nothing changed).
pub async fn set_mapping(
    db: &DatabaseConnection,
    actor: &Actor,
    org: &OrganizationId,
    mapping: &RoleMapping,
    as_job: bool,
) -> Result<MappingSet> {
    let mut work = Work::begin(db, actor).await?.source("admin");
    if orgs::find(work.tx(), org).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let live = members::count_live(work.tx(), org).await?;
    let queued = as_job || live > SYNC_MAX;
    if !queued {
        // Every member, then the organization's row: the order of locks of every change
        // that recomputes roles, so none interleaves with this one.
        members::lock_all_live(work.tx(), org).await?;
    }
    store::mapping(work.tx(), org, true).await?;
    let named = mapping.group_ids();
    let found = store::existing_groups(work.tx(), org, &named).await?;
    if let Some(missing) = named.iter().find(|g| !found.contains(**g)) {
        return Err(Error::invalid(format!(
            "rules: group {} is not a group of this organization",
            crate::service::shown_id(missing.as_str())
        )));
    }
    store::set_mapping(work.tx(), org, mapping).await?;
    let summary = json!({"rules": mapping.rules.len(), "default_role": mapping.default_role});
    let audit = |details| {
        Audit::new(
            actions::ROLE_MAPPING_UPDATE,
            "organization",
            org.as_str(),
            details,
        )
        .in_organization(org)
        .listing_events()
    };
    if queued {
        let job = queue_recompute(&mut work, org, live).await?;
        let mut details = summary;
        details["job_id"] = json!(job.id);
        work.audit(audit(details));
        work.commit().await?;
        return Ok(MappingSet::Queued(Box::new(job)));
    }
    let mut moved = 0;
    let mut after = None;
    while let Some(page) = recompute_page(&mut work, org, Some(mapping), after.as_ref()).await? {
        moved += page.moved;
        after = Some(page.last);
    }
    let mut details = summary;
    details["members_changed"] = json!(moved);
    work.audit(audit(details));
    work.commit().await?;
    Ok(MappingSet::Applied {
        members_changed: moved,
    })
}

pub const ROLES_RECOMPUTE: &str = "roles.recompute";

/// What a `roles.recompute` job does: re-role the organization's live members under its
/// mapping (after a change of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolesRecompute {
    pub organization_id: OrganizationId,
}

/// Queues, in the mapping change's unit of work, the job that re-roles the
/// organization's `live` members.
async fn queue_recompute(
    work: &mut Work<'_>,
    organization_id: &OrganizationId,
    live: u64,
) -> Result<entity::jobs::Model> {
    let params = serde_json::to_value(RolesRecompute {
        organization_id: organization_id.clone(),
    })
    .map_err(|e| Error::Unexpected(e.into()))?;
    let actor = work.actor().clone();
    let job = jobs::insert(
        work.tx(),
        NewJob {
            kind: ROLES_RECOMPUTE,
            params,
            total: i64::try_from(live).unwrap_or(i64::MAX),
            actor: &actor,
        },
        work.now,
    )
    .await?;
    work.audit(
        Audit::new(
            actions::JOB_CREATE,
            "job",
            &job.id,
            json!({"kind": ROLES_RECOMPUTE, "organization_id": organization_id}),
        )
        .in_organization(organization_id),
    );
    Ok(job)
}

/// A page of members a mapping change re-roled.
pub struct Page {
    /// The last member of the page (the next page starts after it).
    pub last: MembershipId,
    pub members: u64,
    pub moved: u64,
}

/// Re-roles the organization's next page of live members after `after` (locked, in id
/// order) under `mapping`, or, without one, under the mapping as it now is (read after
/// the page is locked: a job's step, which a later change's own job follows); `None` when
/// none is left.
pub async fn recompute_page(
    work: &mut Work<'_>,
    org: &OrganizationId,
    mapping: Option<&RoleMapping>,
    after: Option<&MembershipId>,
) -> Result<Option<Page>> {
    let page = members::live_page(work.tx(), org, after, BATCH).await?;
    let Some(last) = page.last().map(|m| m.id.clone()) else {
        return Ok(None);
    };
    let current;
    let mapping = match mapping {
        Some(m) => m,
        None => {
            current = store::mapping(work.tx(), org, false).await?;
            &current
        }
    };
    let moved = recompute_with(work, org, mapping, &page, Cause::Mapping).await?;
    Ok(Some(Page {
        last,
        members: page.len() as u64,
        moved,
    }))
}
