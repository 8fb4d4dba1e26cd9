//! The deprovisioning guard at work (rules in `domain::guard`): every SCIM
//! deprovisioning of an organization is counted inside its own unit of work, with the
//! organization's guard row locked, so concurrent requests are counted one after
//! another and cannot slip past the threshold together. Past it (mode `hold`) the
//! deprovisioning is recorded as a held action instead of applied; operators approve
//! (applied in arrival order through the normal paths) or reject (discarded) them.
//! Deprovisionings by an operator or by the retention policy never come through here.

use ids::{MembershipId, OrganizationId};
use std::time::Duration;

use entity::{deprovision_guards, held_actions, memberships};
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::removal::{self, Removal};
use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::events::{
    Event, GuardResolvedData, GuardThreshold, GuardTripData, Id as EventId,
};
use crate::domain::guard::{Decision, GuardMode, GuardSettings};
use crate::store::audit::ActorKind;
use crate::store::audit::{Actor, actions as act};
use crate::store::guard::{self as store, HeldKind, NewHeld};
use crate::store::{memberships as members, organizations as orgs};

/// The most held actions one approval or rejection resolves (one transaction); the rest
/// stay held, and the answer says how many.
pub const MAX_RESOLVE: usize = 1000;

/// A deprovisioning a SCIM request asks for, of a membership locked by the caller.
pub struct Ask<'a> {
    /// The membership as it was before the deprovisioning.
    pub membership: &'a memberships::Model,
    pub kind: HeldKind,
    /// `scim.patch` | `scim.put` | `scim.delete`
    pub source: &'static str,
    /// Whether the caller applied the deprovisioning in this unit already (the guard is
    /// asked last, so its row stays locked only from the count to the commit).
    pub applied: bool,
}

/// The guard's answer to one deprovisioning.
pub enum Admission {
    /// Apply it.
    Go,
    /// Held: the caller commits its unit (the held action, the audit row and any
    /// `deprovision_guard.tripped` event are in it) and answers with this error.
    Held(Error),
    /// The deprovisioning the caller applied would be held: nothing of the guard's was
    /// recorded, and the caller rolls its unit back and asks again before applying it.
    Again,
}

/// Counts a SCIM deprovisioning against the organization's guard, in the caller's unit
/// of work, after the membership's lock: memberships, then the guard, then accounts; or,
/// when the deprovisioning was applied first, memberships, then accounts, then the guard.
/// The two orders cannot deadlock: a unit locks an account only through a membership of
/// it that the unit holds, and the guard only of that membership's organization, so two
/// units waiting on each other would hold the same membership. The guard's events come
/// before those the caller emitted for the deprovisioning, wherever it is asked.
pub async fn admit(work: &mut Work<'_>, ask: Ask<'_>) -> Result<Admission> {
    // Only SCIM requests' deprovisionings are guarded.
    if work.actor().kind != ActorKind::ScimToken {
        return Ok(Admission::Go);
    }
    let org = &ask.membership.organization_id;
    let now = work.now;
    // Usually one statement counts it; otherwise the row is locked and read as it is.
    let (mut g, counted) = match store::count_in_window(work.tx(), org, now).await? {
        Some(row) => (row, true),
        None => (store::lock(work.tx(), org, now).await?, false),
    };
    let settings = store::settings_of(&g);
    if settings.mode == GuardMode::Off {
        return Ok(Admission::Go);
    }
    let holding = settings.mode == GuardMode::Hold && g.tripped_at.is_some();
    // Whether the row holds something this request changed and did not write yet.
    let mut unsaved = false;
    if !holding {
        let window = chrono::Duration::from_std(settings.window).unwrap_or(chrono::Duration::MAX);
        let started = g
            .window_started_at
            .filter(|at| at.checked_add_signed(window).is_some_and(|end| now < end));
        if started.is_none() {
            g.window_started_at = Some(now);
            g.window_count = 1;
            g.reported = false;
            // Counted as it was before this deprovisioning.
            let this_one =
                u64::from(ask.applied && ask.membership.status == memberships::Status::Active);
            let active = members::count_active(work.tx(), org).await? + this_one;
            g.active_at_start = i64::try_from(active).unwrap_or(i64::MAX);
            unsaved = true;
        } else if !counted {
            g.window_count += 1;
            unsaved = true;
        }
        g.updated_at = now;
    }
    let count = u64::try_from(g.window_count).unwrap_or(0);
    let active = u64::try_from(g.active_at_start).unwrap_or(0);
    match settings.decide(count, active, holding, g.reported) {
        Decision::Apply => {
            if unsaved {
                store::save_state(work.tx(), &g).await?;
            }
            Ok(Admission::Go)
        }
        Decision::ApplyAndReport => {
            g.reported = true;
            store::save_state(work.tx(), &g).await?;
            let applied = work.take_pending(org);
            work.emit(
                org,
                [Event::DeprovisionGuardWouldTrip(trip_data(
                    org, &g, &settings,
                ))],
            );
            work.emit(org, applied);
            Ok(Admission::Go)
        }
        Decision::Hold { .. } if ask.applied => Ok(Admission::Again),
        Decision::Hold { trips } => {
            if trips {
                g.tripped_at = Some(now);
                work.emit(
                    org,
                    [Event::DeprovisionGuardTripped(trip_data(
                        org, &g, &settings,
                    ))],
                );
            }
            if !holding && (unsaved || trips) {
                store::save_state(work.tx(), &g).await?;
            }
            let actor = work.actor().clone();
            let (held_id, new) = store::hold(
                work.tx(),
                NewHeld {
                    organization_id: org,
                    membership_id: &ask.membership.id,
                    user_id: &ask.membership.user_id,
                    kind: ask.kind,
                    source: ask.source,
                    token_id: &actor.id,
                    request_id: actor.request_id.as_deref(),
                },
                now,
            )
            .await?;
            // An IdP's retry of what is already held writes nothing more.
            if new {
                work.audit(
                    Audit::new(
                        act::DEPROVISION_HOLD,
                        "user",
                        &ask.membership.user_id,
                        json!({
                            "membership_id": ask.membership.id,
                            "held_action_id": held_id,
                            "action": ask.kind.as_str(),
                            "source": ask.source,
                            "tripped": trips,
                        }),
                    )
                    .in_organization(org)
                    .listing_events(),
                );
            }
            Ok(Admission::Held(held_error(&settings)))
        }
    }
}

fn held_error(settings: &GuardSettings) -> Error {
    Error::Held {
        message: format!(
            "deprovisioning is held for review: this organization's deprovisioning guard \
             tripped (more than {} deprovisionings and more than {}% of its active members \
             within {}); an operator must approve or reject the held deprovisionings",
            settings.max_count,
            settings.max_percent,
            crate::domain::text::human_duration(settings.window)
        ),
        // The IdP's retry finds the outcome once an operator resolved it; retrying much
        // sooner only repeats the answer.
        retry_after: settings.window.min(Duration::from_secs(3600)).as_secs(),
    }
}

fn threshold(settings: &GuardSettings) -> GuardThreshold {
    GuardThreshold {
        max_count: settings.max_count,
        max_percent: settings.max_percent,
        window: humantime::format_duration(settings.window).to_string(),
    }
}

fn trip_data(
    org: &OrganizationId,
    g: &deprovision_guards::Model,
    settings: &GuardSettings,
) -> GuardTripData {
    GuardTripData {
        organization: EventId::of(org),
        count: u64::try_from(g.window_count).unwrap_or(0),
        active_at_start: u64::try_from(g.active_at_start).unwrap_or(0),
        window_started_at: g.window_started_at.unwrap_or(g.updated_at),
        threshold: threshold(settings),
    }
}

/// The IdP asked for the locked membership to be active: a deactivation of it that the
/// guard holds is dropped (the guard re-arms when that was the last one held). Whether
/// one was.
pub async fn withdraw(work: &mut Work<'_>, membership: &memberships::Model) -> Result<bool> {
    if !store::withdraw(work.tx(), &membership.id, HeldKind::Deactivate).await? {
        return Ok(false);
    }
    let org = &membership.organization_id;
    let resolution = Resolution {
        withdrawn: 1,
        ..Resolution::default()
    };
    settle(work, org, resolution).await?;
    work.audit(
        Audit::new(
            act::DEPROVISION_WITHDRAW,
            "user",
            &membership.user_id,
            json!({"membership_id": membership.id, "action": HeldKind::Deactivate.as_str()}),
        )
        .in_organization(org),
    );
    Ok(true)
}

/// What resolving held actions did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub approved: u64,
    pub rejected: u64,
    /// Approved, but there was nothing left to apply (the membership had changed).
    pub skipped: u64,
    pub withdrawn: u64,
    /// Still held afterwards.
    pub remaining: u64,
}

/// After held actions were resolved in `work`: counts what is still held, re-arms the
/// guard when nothing is (a new window begins at the next deprovisioning), and reports
/// it (`deprovision_guard.resolved`; a withdrawal only when it re-armed the guard).
async fn settle(
    work: &mut Work<'_>,
    org: &OrganizationId,
    mut r: Resolution,
) -> Result<Resolution> {
    let now = work.now;
    let mut g = store::lock(work.tx(), org, now).await?;
    r.remaining = store::count(work.tx(), org).await?;
    if r.remaining == 0 {
        g.tripped_at = None;
        g.window_started_at = None;
        g.window_count = 0;
        g.reported = false;
        g.updated_at = now;
        store::save_state(work.tx(), &g).await?;
    }
    if r.withdrawn == 0 || r.remaining == 0 {
        work.emit(
            org,
            [Event::DeprovisionGuardResolved(GuardResolvedData {
                organization: EventId::of(org),
                approved: r.approved,
                rejected: r.rejected,
                skipped: r.skipped,
                withdrawn: r.withdrawn,
                remaining: r.remaining,
            })],
        );
    }
    Ok(r)
}

/// Which held actions an operator resolves.
pub enum Selection {
    /// The oldest, up to [`MAX_RESOLVE`].
    Oldest,
    /// These (unknown ids, or another organization's, are ignored).
    Ids(Vec<String>),
}

async fn selected(
    work: &Work<'_>,
    org: &OrganizationId,
    selection: &Selection,
) -> Result<Vec<held_actions::Model>> {
    Ok(match selection {
        Selection::Oldest => store::page(work.tx(), org, None, MAX_RESOLVE as u64).await?,
        Selection::Ids(ids) => store::with_ids(work.tx(), org, ids).await?,
    })
}

async fn begin_for<'a>(
    db: &DatabaseConnection,
    actor: &'a Actor,
    org: &OrganizationId,
) -> Result<Work<'a>> {
    let work = Work::begin(db, actor).await?;
    if orgs::find(work.tx(), org).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    Ok(work)
}

/// Applies held actions in arrival order, each through the path it would have taken
/// (a deactivation as PATCH `active: false`, a deletion as DELETE: sessions revoked,
/// events, cascade to an account left without a membership), recorded as the operator's.
pub async fn approve(
    db: &DatabaseConnection,
    actor: &Actor,
    org: &OrganizationId,
    selection: Selection,
    grace: Duration,
) -> Result<Resolution> {
    let mut work = begin_for(db, actor, org).await?.source("guard_approval");
    let held = selected(&work, org, &selection).await?;
    // Locks in the order every use case takes them: memberships (by id), then the guard.
    let mut ids: Vec<MembershipId> = held.iter().map(|h| h.membership_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut live: std::collections::HashMap<MembershipId, memberships::Model> =
        members::find_live_by_ids(work.tx(), org, &ids, true)
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
    store::lock(work.tx(), org, work.now).await?;
    let mut r = Resolution::default();
    for h in &held {
        let applied = match (h.action, live.get(&h.membership_id)) {
            (HeldKind::Deactivate, Some(current)) => {
                let current = current.clone();
                match super::status::deactivate_locked(&mut work, &current).await? {
                    Some((saved, _)) => {
                        live.insert(saved.id.clone(), saved);
                        true
                    }
                    None => false,
                }
            }
            (HeldKind::Delete, Some(current)) => {
                let current = current.clone();
                let removal = Removal::new(org, "membership.deleted", grace);
                removal::remove_memberships(&mut work, &removal, std::slice::from_ref(&current))
                    .await?;
                live.remove(&current.id);
                true
            }
            // Removed meanwhile: nothing to apply.
            (_, None) => false,
        };
        if applied {
            r.approved += 1;
        } else {
            r.skipped += 1;
        }
        work.audit(resolved_audit(act::DEPROVISION_APPROVE, org, h, applied));
    }
    finish(work, org, &held, r).await
}

/// Discards held actions: the memberships stay as they are.
pub async fn reject(
    db: &DatabaseConnection,
    actor: &Actor,
    org: &OrganizationId,
    selection: Selection,
) -> Result<Resolution> {
    let mut work = begin_for(db, actor, org).await?;
    let held = selected(&work, org, &selection).await?;
    for h in &held {
        work.audit(resolved_audit(act::DEPROVISION_REJECT, org, h, false));
    }
    let r = Resolution {
        rejected: held.len() as u64,
        ..Resolution::default()
    };
    finish(work, org, &held, r).await
}

fn resolved_audit(
    action: &'static str,
    org: &OrganizationId,
    h: &held_actions::Model,
    applied: bool,
) -> Audit {
    Audit::new(
        action,
        "user",
        &h.user_id,
        json!({
            "held_action_id": h.id,
            "membership_id": h.membership_id,
            "action": h.action,
            "source": h.source,
            "requested_by": h.token_id,
            "request_id": h.request_id,
            "applied": applied,
        }),
    )
    .in_organization(org)
}

async fn finish(
    mut work: Work<'_>,
    org: &OrganizationId,
    held: &[held_actions::Model],
    r: Resolution,
) -> Result<Resolution> {
    let ids: Vec<String> = held.iter().map(|h| h.id.clone()).collect();
    store::delete(work.tx(), &ids).await?;
    let r = if held.is_empty() {
        Resolution {
            remaining: store::count(work.tx(), org).await?,
            ..r
        }
    } else {
        settle(&mut work, org, r).await?
    };
    work.commit().await?;
    Ok(r)
}

/// The organization's guard: its settings, and when it tripped while it holds.
pub async fn status(
    db: &DatabaseConnection,
    org: &OrganizationId,
) -> Result<(GuardSettings, Option<chrono::DateTime<chrono::Utc>>)> {
    Ok(match store::find(db, org).await? {
        Some(g) => (store::settings_of(&g), g.tripped_at),
        None => (GuardSettings::default(), None),
    })
}

/// A page of the organization's held actions in arrival order, with the membership each
/// names (when it is still live), after the held action `after`.
pub async fn held(
    db: &DatabaseConnection,
    org: &OrganizationId,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<(held_actions::Model, Option<memberships::Model>)>> {
    if orgs::find(db, org).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let after =
        match after {
            Some(id) => Some(store::find_held(db, org, id).await?.ok_or_else(|| {
                Error::invalid("after names no held action of this organization")
            })?),
            None => None,
        };
    let page = store::page(db, org, after.as_ref(), limit).await?;
    let ids: Vec<MembershipId> = page.iter().map(|h| h.membership_id.clone()).collect();
    let mut live: std::collections::HashMap<MembershipId, memberships::Model> =
        members::find_live_by_ids(db, org, &ids, false)
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
    Ok(page
        .into_iter()
        .map(|h| {
            let m = live.remove(&h.membership_id);
            (h, m)
        })
        .collect())
}

/// The settings as the admin API shows and takes them.
pub fn settings_json(s: &GuardSettings) -> serde_json::Value {
    json!({
        "mode": s.mode.as_str(),
        "max_count": s.max_count,
        "max_percent": s.max_percent,
        "window": humantime::format_duration(s.window).to_string(),
    })
}
