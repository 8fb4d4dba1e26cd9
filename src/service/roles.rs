//! Roles from groups, kept true in the transaction of every change that can move them: a
//! group's members, name or existence, a membership's status, record or removal, and the
//! mapping itself. What a member's roles are is `domain::roles`; this recomputes them
//! for the members a change touched and emits `membership.roles_changed` for each whose
//! roles moved.

use entity::memberships;
use ids::{GroupId, OrganizationId};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::events::{Event, Id, RolesChangedData, ScimIdRef};
use crate::domain::roles::{GroupFacts, RoleMapping, scim_role_values, stored_roles};
use crate::domain::status::MembershipStatus;
use crate::store::audit::{Actor, actions};
use crate::store::roles::{self as store, MemberGroup};
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
        store::groups_of_members(work.tx(), org, &ids).await?
    };
    let mut events = Vec::new();
    for m in rows {
        let active =
            m.removed_at.is_none() && members::status_of(m.status) == MembershipStatus::Active;
        let theirs = groups.get(&m.scim_id).map_or(&[][..], Vec::as_slice);
        let roles = mapping.roles_for(active, &facts(theirs), &scim_role_values(&m.roles));
        let previous = stored_roles(m.granted_roles.as_ref());
        if roles == previous {
            continue;
        }
        store::set_granted(work.tx(), &m.id, &roles).await?;
        events.push(Event::MembershipRolesChanged(RolesChangedData {
            organization: Id::of(org),
            user: Id::of(&m.user_id),
            membership: ScimIdRef {
                scim_id: m.scim_id.clone(),
            },
            roles,
            previous_roles: previous,
            cause: cause.name().to_string(),
            group: cause.group(),
        }));
    }
    let moved = events.len() as u64;
    work.emit(org, events);
    Ok(moved)
}

/// As [`recompute_with`], reading the organization's mapping, for `rows` this unit of
/// work holds locked: a mapping change locks every live membership before it changes the
/// mapping, so the two never interleave (and the organization's row stays the last lock
/// taken, at commit, as everywhere).
pub async fn recompute(
    work: &mut Work<'_>,
    org: &OrganizationId,
    rows: &[memberships::Model],
    cause: Cause<'_>,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mapping = store::mapping(work.tx(), org, false).await?;
    recompute_with(work, org, &mapping, rows, cause).await
}

/// As [`recompute`], for a membership this unit of work just made: no mapping change can
/// have locked it, so the mapping is read with the organization's row locked (this unit
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

/// Replaces the organization's mapping and re-roles its members in the same transaction
/// (each member whose roles moved gets `membership.roles_changed`); a group named by id
/// must be one of the organization's (422 otherwise, nothing changed). Returns how many
/// members' roles moved.
pub async fn set_mapping(
    db: &DatabaseConnection,
    actor: &Actor,
    org: &OrganizationId,
    mapping: &RoleMapping,
) -> Result<u64> {
    let mut work = Work::begin(db, actor).await?.source("admin");
    if orgs::find(work.tx(), org).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    // Every member, then the organization's row: the order of locks of every change
    // that recomputes roles, so none interleaves with this one.
    members::lock_all_live(work.tx(), org).await?;
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
    let mut moved = 0;
    let mut after = None;
    loop {
        let page = members::live_page(work.tx(), org, after.as_ref(), BATCH).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        moved += recompute_with(&mut work, org, mapping, &page, Cause::Mapping).await?;
    }
    work.audit(
        Audit::new(
            actions::ROLE_MAPPING_UPDATE,
            "organization",
            org.as_str(),
            json!({"rules": mapping.rules.len(), "default_role": mapping.default_role, "members_changed": moved}),
        )
        .in_organization(org)
        .listing_events(),
    );
    work.commit().await?;
    Ok(moved)
}
