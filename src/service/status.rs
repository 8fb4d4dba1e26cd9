//! The one path a membership's update takes once it is decided: its status (the user's
//! sessions in the organization revoked on deactivation), its record, and the events
//! describing the user as the change left it, all in the caller's unit of work. A SCIM
//! PUT or PATCH (`users`) and an approved held deactivation (`guard`) both end here, as
//! every removal ends in `removal`.

use entity::memberships;
use ids::GroupId;
use serde_json::Value;

use super::work::Work;
use super::{Error, Result};
use crate::domain::events::{GroupRef, UserView};
use crate::domain::{Membership, UserUpdate, plan_update};
use crate::store::groups::MemberGroup;
use crate::store::{memberships as store, sessions};

pub(super) fn user_name_taken() -> Error {
    Error::conflict(
        "UNIQUENESS",
        "a user with this userName already exists in this organization",
    )
}

/// A write refused by the unique index on the organization's userNames.
pub(super) fn map_unique(e: sea_orm::DbErr) -> Error {
    Error::from(e).on_conflict(user_name_taken)
}

/// What [`apply`] wrote: the membership, the sessions it revoked, and the groups the
/// member is in (read in the same transaction, for the events and the answer).
pub(super) struct Applied {
    pub saved: memberships::Model,
    pub sessions_revoked: u64,
    pub groups: Vec<(GroupId, String)>,
}

/// Writes an update `plan` decided for the locked membership `current`: its status (the
/// user's sessions in the organization revoked on deactivation), its record `next`, and
/// the events, which describe the user as saved.
pub(super) async fn apply(
    work: &mut Work<'_>,
    current: &memberships::Model,
    mut next: memberships::Model,
    plan: &UserUpdate,
) -> Result<Applied> {
    let (tx, now) = (work.tx(), work.now);
    let org = &current.organization_id;
    let mut sessions_revoked = 0;
    if let Some(c) = plan.status {
        next.status = store::stored(c.to);
        next.status_changed_at = now;
        if c.revoke_sessions {
            sessions_revoked = sessions::revoke_for_membership(
                tx,
                org,
                &current.user_id,
                "membership.deactivated",
                now,
            )
            .await?;
        }
    }
    let saved = store::save(tx, current, next).await.map_err(map_unique)?;
    let member_groups =
        crate::store::groups::member_groups(tx, org, std::slice::from_ref(&saved.scim_id))
            .await?
            .remove(&saved.scim_id)
            .unwrap_or_default();
    let groups: Vec<(GroupId, String)> = member_groups.iter().map(MemberGroup::shown).collect();
    // The user as it was, and the membership as it was seen through the user as it is
    // now (its status moves in the events).
    let mut was = store::to_domain(current);
    was.view = view_of(current, groups.clone());
    let mut changed = store::to_domain(current);
    changed.external_id = saved.external_id.clone();
    changed.view = view_of(&saved, groups.clone());
    work.emit(
        org,
        plan.events(&changed, &was.user_ref(), sessions_revoked),
    );
    // A deactivation ends the member's roles, a reactivation brings them back, and the
    // IdP's `roles` may have changed.
    super::roles::recompute_member(work, &saved, &member_groups).await?;
    Ok(Applied {
        saved,
        sessions_revoked,
        groups,
    })
}

/// Deactivates the locked membership `current` as a PATCH `active: false` does (for an
/// approved held deactivation); `None` when it is not active any more.
pub(super) async fn deactivate_locked(
    work: &mut Work<'_>,
    current: &memberships::Model,
) -> Result<Option<(memberships::Model, u64)>> {
    let Some(plan) = plan_update(store::status_of(current.status), Some(false), false) else {
        return Ok(None);
    };
    let mut next = current.clone();
    next.updated_at = work.now;
    let applied = apply(work, current, next, &plan).await?;
    Ok(Some((applied.saved, applied.sessions_revoked)))
}

/// The organization's view of the user in the row `m` (its record, status and `groups`,
/// as `(id, display name)`), for the events that describe the user; `None` once the
/// record is erased.
pub(super) fn view_of(m: &memberships::Model, groups: Vec<(GroupId, String)>) -> Option<UserView> {
    let record = m.scim.as_ref().and_then(Value::as_object)?;
    let groups = groups
        .into_iter()
        .map(|(id, display_name)| GroupRef {
            id: id.into(),
            display_name,
        })
        .collect();
    Some(crate::scim::user::event_view(
        m.user_name.as_deref(),
        record,
        groups,
        store::status_of(m.status),
    ))
}

/// The membership in the row `m` as the rules see it, with its view (a created or
/// restored membership's events).
pub(super) fn with_view(m: &memberships::Model, groups: Vec<(GroupId, String)>) -> Membership {
    let mut d = store::to_domain(m);
    d.view = view_of(m, groups);
    d
}
