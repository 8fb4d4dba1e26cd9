//! The deprovisioning guard's rows: one `deprovision_guards` row per organization (its
//! settings and current window, locked by every counted deprovisioning) and the
//! `held_actions` waiting for an operator.

use ids::{MembershipId, OrganizationId, UserId};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{deprovision_guards as guards, held_actions as held};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::guard::{GuardMode, GuardSettings};

/// The settings a row holds (a mode it does not know reads as the default, `hold`: the
/// guard fails safe).
pub fn settings_of(row: &guards::Model) -> GuardSettings {
    GuardSettings {
        mode: GuardMode::parse(&row.mode).unwrap_or(GuardMode::Hold),
        max_count: u32::try_from(row.max_count).unwrap_or(0),
        max_percent: u8::try_from(row.max_percent).unwrap_or(0),
        window: Duration::from_secs(u64::try_from(row.window_secs).unwrap_or(3600)),
    }
}

/// Writes the settings into a row's columns.
fn set_columns(am: &mut guards::ActiveModel, s: GuardSettings) {
    am.mode = Set(s.mode.as_str().to_string());
    am.max_count = Set(i32::try_from(s.max_count).unwrap_or(i32::MAX));
    am.max_percent = Set(i32::from(s.max_percent));
    am.window_secs = Set(i64::try_from(s.window.as_secs()).unwrap_or(i64::MAX));
}

fn new_row(
    organization_id: &OrganizationId,
    s: GuardSettings,
    now: DateTime<Utc>,
) -> guards::ActiveModel {
    let mut am = guards::ActiveModel {
        organization_id: Set(organization_id.clone()),
        window_started_at: Set(None),
        window_count: Set(0),
        active_at_start: Set(0),
        reported: Set(false),
        tripped_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    };
    set_columns(&mut am, s);
    am
}

/// Gives a new organization its guard.
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    settings: GuardSettings,
    now: DateTime<Utc>,
) -> Result<guards::Model, DbErr> {
    guards::Entity::insert(new_row(organization_id, settings, now))
        .exec_with_returning(db)
        .await
}

/// The organization's guard (the default when it has no row).
pub async fn find(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Option<guards::Model>, DbErr> {
    guards::Entity::find_by_id(organization_id.clone())
        .one(db)
        .await
}

/// The organization's guard, locked for update on PostgreSQL (on SQLite the write
/// transaction already excludes every other writer): deprovisionings of one
/// organization are counted one after another. A missing row is created with the
/// defaults first.
pub async fn lock(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    now: DateTime<Utc>,
) -> Result<guards::Model, DbErr> {
    let q = || crate::db::for_update(guards::Entity::find_by_id(organization_id.clone()), db);
    if let Some(row) = q().one(db).await? {
        return Ok(row);
    }
    guards::Entity::insert(new_row(organization_id, GuardSettings::default(), now))
        .on_conflict(
            OnConflict::column(guards::Column::OrganizationId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    q().one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("guard of {organization_id}")))
}

/// Counts one deprovisioning against a guard that counts (not `off`, not tripped) and has
/// a window that started within the longest a window may be: one statement that locks,
/// increments and reads the row, the common case. `None` when it does not apply (no row,
/// `off`, tripped, no recent window): nothing was written, and the caller takes [`lock`]
/// and the full rules. The row's own window may be shorter than the longest: the caller
/// checks it and rolls an ended window over (with [`save_state`], in the same unit).
pub async fn count_in_window(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    now: DateTime<Utc>,
) -> Result<Option<guards::Model>, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let longest = chrono::Duration::from_std(crate::domain::guard::MAX_WINDOW)
        .unwrap_or(chrono::Duration::MAX);
    let Some(since) = now.checked_sub_signed(longest) else {
        return Ok(None);
    };
    let rows = guards::Entity::update_many()
        .col_expr(
            guards::Column::WindowCount,
            Expr::col(guards::Column::WindowCount).add(1),
        )
        .col_expr(guards::Column::UpdatedAt, Expr::value(now))
        .filter(guards::Column::OrganizationId.eq(organization_id))
        .filter(guards::Column::Mode.ne(GuardMode::Off.as_str()))
        .filter(guards::Column::TrippedAt.is_null())
        .filter(guards::Column::WindowStartedAt.gt(since))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// Writes back a guard's window and trip state.
pub async fn save_state(db: &impl ConnectionTrait, row: &guards::Model) -> Result<(), DbErr> {
    let mut am = row.clone().into_active_model();
    for c in [
        guards::Column::WindowStartedAt,
        guards::Column::WindowCount,
        guards::Column::ActiveAtStart,
        guards::Column::Reported,
        guards::Column::TrippedAt,
        guards::Column::UpdatedAt,
    ] {
        am.reset(c);
    }
    am.update(db).await?;
    Ok(())
}

/// Changes the settings (the window in progress and anything held stay as they are).
pub async fn set_settings(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    s: GuardSettings,
    now: DateTime<Utc>,
) -> Result<guards::Model, DbErr> {
    let row = lock(db, organization_id, now).await?;
    let mut am = row.into_active_model();
    set_columns(&mut am, s);
    am.updated_at = Set(now);
    am.update(db).await
}

pub use entity::held_actions::HeldKind;

pub struct NewHeld<'a> {
    pub organization_id: &'a OrganizationId,
    pub membership_id: &'a MembershipId,
    pub user_id: &'a UserId,
    pub kind: HeldKind,
    pub source: &'a str,
    pub token_id: &'a str,
    pub request_id: Option<&'a str>,
}

/// Records a held deprovisioning; the one already held for this membership and action
/// (an IdP's retry) is kept as it is. Returns the held action's id and whether it is new.
pub async fn hold(
    db: &impl ConnectionTrait,
    h: NewHeld<'_>,
    now: DateTime<Utc>,
) -> Result<(String, bool), DbErr> {
    let inserted = held::Entity::insert(held::ActiveModel {
        id: Set(ids::new_id(ids::HELD_ACTION)),
        organization_id: Set(h.organization_id.clone()),
        membership_id: Set(h.membership_id.clone()),
        user_id: Set(h.user_id.clone()),
        action: Set(h.kind),
        source: Set(h.source.to_string()),
        token_id: Set(h.token_id.to_string()),
        request_id: Set(h.request_id.map(str::to_string)),
        requested_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([held::Column::MembershipId, held::Column::Action])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let id = held::Entity::find()
        .filter(held::Column::MembershipId.eq(h.membership_id))
        .filter(held::Column::Action.eq(h.kind))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| DbErr::RecordNotFound("held action just written".into()))?;
    Ok((id, inserted > 0))
}

/// The organization's held actions in arrival order, after the held action `after`
/// (`None`: from the first), at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    after: Option<&held::Model>,
    limit: u64,
) -> Result<Vec<held::Model>, DbErr> {
    let mut q = held::Entity::find().filter(held::Column::OrganizationId.eq(organization_id));
    if let Some(a) = after {
        q = q.filter(
            sea_orm::Condition::any()
                .add(held::Column::RequestedAt.gt(a.requested_at))
                .add(
                    sea_orm::Condition::all()
                        .add(held::Column::RequestedAt.eq(a.requested_at))
                        .add(held::Column::Id.gt(a.id.as_str())),
                ),
        );
    }
    q.order_by_asc(held::Column::RequestedAt)
        .order_by_asc(held::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// One held action of the organization.
pub async fn find_held(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<Option<held::Model>, DbErr> {
    held::Entity::find_by_id(id.to_string())
        .filter(held::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await
}

/// The organization's held actions among `ids`, in arrival order.
pub async fn with_ids(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    ids: &[String],
) -> Result<Vec<held::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    held::Entity::find()
        .filter(held::Column::OrganizationId.eq(organization_id))
        .filter(held::Column::Id.is_in(ids.iter().map(String::as_str)))
        .order_by_asc(held::Column::RequestedAt)
        .order_by_asc(held::Column::Id)
        .all(db)
        .await
}

pub async fn delete(db: &impl ConnectionTrait, ids: &[String]) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        held::Entity::delete_many()
            .filter(held::Column::Id.is_in(chunk.iter()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Drops what is held of `kind` for the membership (the IdP changed its mind); whether
/// anything was.
pub async fn withdraw(
    db: &impl ConnectionTrait,
    membership_id: &MembershipId,
    kind: HeldKind,
) -> Result<bool, DbErr> {
    let res = held::Entity::delete_many()
        .filter(held::Column::MembershipId.eq(membership_id))
        .filter(held::Column::Action.eq(kind))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Drops everything held for the organization (it is being deleted).
pub async fn delete_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<(), DbErr> {
    held::Entity::delete_many()
        .filter(held::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    Ok(())
}

/// How many actions the organization has held.
pub async fn count(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    held::Entity::find()
        .filter(held::Column::OrganizationId.eq(organization_id))
        .count(db)
        .await
}
