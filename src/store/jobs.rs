//! Jobs (the `jobs` table) and their leases. A job's progress is only ever written by the
//! process that holds its lease, with the lease checked in the same statement (fencing),
//! inside the transaction that did the step.

use chrono::{DateTime, Utc};
use entity::jobs;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use super::audit::Actor;

use JobStatus::{Finished, Queued, Running};
pub use entity::jobs::JobStatus;

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub params: Value,
    pub total: i64,
    pub actor: &'a Actor,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    job: NewJob<'_>,
    now: DateTime<Utc>,
) -> Result<jobs::Model, DbErr> {
    jobs::Entity::insert(jobs::ActiveModel {
        id: Set(ids::new_id(ids::JOB)),
        kind: Set(job.kind.to_string()),
        status: Set(Queued),
        params: Set(job.params),
        position: Set(0),
        total: Set(job.total),
        done: Set(0),
        failed: Set(0),
        errors: Set(Value::Array(Vec::new())),
        result: Set(Value::Object(Default::default())),
        actor_type: Set(job.actor.kind),
        actor_id: Set(job.actor.id.clone()),
        request_id: Set(job.actor.request_id.clone()),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<jobs::Model>, DbErr> {
    jobs::Entity::find_by_id(id.to_string()).one(db).await
}

/// Jobs in id (creation) order after `after`, at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<jobs::Model>, DbErr> {
    super::after_page(db, jobs::Entity::find(), jobs::Column::Id, after, limit).await
}

/// Takes the lease on the oldest unfinished job nobody holds (or whose holder's lease
/// expired) for `owner` until `lease_until`; `None` when there is none to take. Of two
/// processes racing for one job, the conditional update lets only one win.
pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<jobs::Model>, DbErr> {
    let candidates: Vec<String> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Id)
        .filter(jobs::Column::Status.ne(Finished))
        .filter(free(now))
        .order_by_asc(jobs::Column::Id)
        .limit(8)
        .into_tuple()
        .all(db)
        .await?;
    for id in candidates {
        if let Some(job) = claim_id(db, &id, owner, lease_until, now).await? {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

/// Takes the lease on this job, when it is unfinished and free.
pub async fn claim_id(
    db: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<jobs::Model>, DbErr> {
    let res = jobs::Entity::update_many()
        .col_expr(jobs::Column::LeaseOwner, Some(owner.to_string()).into())
        .col_expr(jobs::Column::LeaseExpiresAt, Some(lease_until).into())
        .col_expr(jobs::Column::Status, Running.into())
        .col_expr(
            jobs::Column::StartedAt,
            Expr::col(jobs::Column::StartedAt).if_null(now),
        )
        .col_expr(jobs::Column::UpdatedAt, now.into())
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::Status.ne(Finished))
        .filter(free(now))
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        return find(db, id).await;
    }
    Ok(None)
}

fn free(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(jobs::Column::LeaseOwner.is_null())
        .add(jobs::Column::LeaseExpiresAt.lt(now))
}

/// A job's progress after a step.
pub struct Progress {
    pub position: i64,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub errors: Value,
    pub result: Value,
    /// Set when this step was the last.
    pub finished: bool,
}

impl Progress {
    /// The job's progress as it stands, for a step to move on from.
    pub fn of(job: &jobs::Model) -> Self {
        Progress {
            position: job.position,
            total: job.total,
            done: job.done,
            failed: job.failed,
            errors: job.errors.clone(),
            result: job.result.clone(),
            finished: false,
        }
    }
}

/// Writes the progress if `owner` still holds the job's lease (renewing it until
/// `lease_until`, or releasing it when the job is finished); `false` when the lease was
/// lost, and the caller must roll its step back.
pub async fn advance(
    db: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    p: Progress,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut q = jobs::Entity::update_many()
        .col_expr(jobs::Column::Position, p.position.into())
        .col_expr(jobs::Column::Total, p.total.into())
        .col_expr(jobs::Column::Done, p.done.into())
        .col_expr(jobs::Column::Failed, p.failed.into())
        .col_expr(jobs::Column::Errors, p.errors.into())
        .col_expr(jobs::Column::Result, p.result.into())
        .col_expr(jobs::Column::UpdatedAt, now.into());
    q = if p.finished {
        q.col_expr(jobs::Column::Status, Finished.into())
            .col_expr(jobs::Column::FinishedAt, Some(now).into())
            .col_expr(jobs::Column::LeaseOwner, Option::<String>::None.into())
            .col_expr(
                jobs::Column::LeaseExpiresAt,
                Option::<DateTime<Utc>>::None.into(),
            )
    } else {
        q.col_expr(jobs::Column::LeaseExpiresAt, Some(lease_until).into())
    };
    let res = q
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LeaseOwner.eq(owner))
        .filter(jobs::Column::Status.ne(Finished))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives the lease back (a stopping process), so another takes the job at once.
pub async fn release(db: &impl ConnectionTrait, id: &str, owner: &str) -> Result<(), DbErr> {
    jobs::Entity::update_many()
        .col_expr(jobs::Column::LeaseOwner, Option::<String>::None.into())
        .col_expr(
            jobs::Column::LeaseExpiresAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(jobs::Column::Status, Queued.into())
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LeaseOwner.eq(owner))
        .filter(jobs::Column::Status.ne(Finished))
        .exec(db)
        .await?;
    Ok(())
}

/// The parameters of the unfinished jobs of this kind made after the job `after`, oldest
/// first.
pub async fn unfinished_after(
    db: &impl ConnectionTrait,
    kind: &str,
    after: &str,
) -> Result<Vec<(String, Value)>, DbErr> {
    jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Id)
        .column(jobs::Column::Params)
        .filter(jobs::Column::Kind.eq(kind))
        .filter(jobs::Column::Status.ne(Finished))
        .filter(jobs::Column::Id.gt(after))
        .order_by_asc(jobs::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// Every job not finished yet (few at any time).
pub async fn unfinished(db: &impl ConnectionTrait) -> Result<Vec<jobs::Model>, DbErr> {
    jobs::Entity::find()
        .filter(jobs::Column::Status.ne(Finished))
        .order_by_asc(jobs::Column::Id)
        .all(db)
        .await
}
