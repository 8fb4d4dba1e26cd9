//! Long operations as jobs: batch deletions, an organization's deletion, and the
//! re-roling of an organization's members after its role mapping changed. A job lives in
//! the database and is run step by step by whichever process holds its lease (any
//! `serve`, or the CLI that made it): each step (one user deleted, a page of members
//! removed or re-roled) commits together with the job's progress, fenced by the lease, so
//! a step is never done twice, by a restart after a crash or by a second process; a
//! process that stops gives its lease back, and a crashed one's lease runs out.

use ids::{OrganizationId, UserId};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::jobs as model;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Notify, watch};

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::ContentDirectives;
use crate::domain::events::OrganizationDeletedData;
use crate::store::audit::ActorKind;
use crate::store::audit::{Actor, actions};
use crate::store::jobs::{self, NewJob, Progress};

/// The most users one batch may name through the admin API.
pub const MAX_BATCH: usize = 1000;
/// The most users one batch may name from the CLI (a file of leavers).
pub const MAX_FILE_BATCH: usize = 100_000;
/// The most failed steps a job lists (`failed` counts them all): the list is rewritten
/// with every step, so it must stay small however many ids a batch gets wrong.
pub const MAX_ERRORS: usize = 100;
pub const USERS_DELETE: &str = "users.delete";
pub const ORGANIZATION_DELETE: &str = "organization.delete";
pub use super::roles::{ROLES_RECOMPUTE, RolesRecompute};

/// A `roles.recompute` job's result: where it is, and what it did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RolesProgress {
    /// The last member re-roled (the next step starts after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<ids::MembershipId>,
    members_changed: u64,
    /// A later mapping change's job, which re-roles every member again: this one stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    superseded_by: Option<String>,
}

/// What an `organization.delete` job does, and (in its `result`) how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrganizationDelete {
    pub organization_id: OrganizationId,
}

/// An `organization.delete` job's result: the event's summary as far as it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrganizationProgress {
    summary: OrganizationDeletedData,
    scim_tokens_deleted: u64,
}

/// The phases of an organization's deletion (the job's `position`).
const ORG_START: i64 = 0;
const ORG_MEMBERS: i64 = 1;
const ORG_FINISH: i64 = 2;

/// What a `users.delete` job does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsersDelete {
    pub user_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDirectives>,
}

/// A step that could not be done for one user, and why (the admin API's code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub user_id: String,
    pub code: String,
}

/// Queues the deletion of these accounts (each as `DELETE /admin/v1/users/{id}` would,
/// with the same content directives); ids named twice are deleted once.
pub async fn create_users_delete(
    db: &DatabaseConnection,
    actor: &Actor,
    user_ids: Vec<String>,
    content: Option<ContentDirectives>,
    max: usize,
) -> Result<model::Model> {
    let mut seen = std::collections::HashSet::new();
    let user_ids: Vec<String> = user_ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    if user_ids.is_empty() || user_ids.len() > max {
        return Err(Error::invalid(format!(
            "user_ids must name between 1 and {max} users"
        )));
    }
    let total = user_ids.len() as i64;
    let params = serde_json::to_value(UsersDelete { user_ids, content })
        .map_err(|e| Error::Unexpected(e.into()))?;
    let mut work = Work::begin(db, actor).await?;
    let job = jobs::insert(
        work.tx(),
        NewJob {
            kind: USERS_DELETE,
            params,
            total,
            actor,
        },
        work.now,
    )
    .await?;
    work.audit(Audit::new(
        actions::JOB_CREATE,
        "job",
        &job.id,
        json!({"kind": USERS_DELETE, "total": total, "content": content}),
    ));
    work.commit().await?;
    Ok(job)
}

/// Queues an organization's deletion (`DELETE /admin/v1/organizations/{id}?async=true`):
/// its SCIM tokens go first, so its IdP can add no one meanwhile; then its members, a
/// page per step, with progress readable throughout; then the organization itself. Unlike
/// the synchronous deletion, readers see the members go page by page.
pub async fn create_organization_delete(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
) -> Result<model::Model> {
    let mut work = Work::begin(db, actor).await?;
    if crate::store::organizations::find_locked(work.tx(), organization_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("organization", None));
    }
    // One deletion of an organization at a time (the organization's row lock orders two
    // requests racing here).
    for other in jobs::unfinished(work.tx()).await? {
        let same = serde_json::from_value::<OrganizationDelete>(other.params)
            .is_ok_and(|p| &p.organization_id == organization_id);
        if other.kind == ORGANIZATION_DELETE && same {
            return Err(Error::conflict(
                "DELETION_IN_PROGRESS",
                format!("The organization is being deleted by {}.", other.id),
            ));
        }
    }
    let total = crate::store::memberships::count_live(work.tx(), organization_id).await?;
    let params = serde_json::to_value(OrganizationDelete {
        organization_id: organization_id.clone(),
    })
    .map_err(|e| Error::Unexpected(e.into()))?;
    let job = jobs::insert(
        work.tx(),
        NewJob {
            kind: ORGANIZATION_DELETE,
            params,
            total: i64::try_from(total).unwrap_or(i64::MAX),
            actor,
        },
        work.now,
    )
    .await?;
    work.audit(
        Audit::new(
            actions::JOB_CREATE,
            "job",
            &job.id,
            json!({"kind": ORGANIZATION_DELETE, "organization_id": organization_id}),
        )
        .in_organization(organization_id),
    );
    work.commit().await?;
    Ok(job)
}

pub async fn get(db: &DatabaseConnection, id: &str) -> Result<model::Model> {
    jobs::find(db, id)
        .await?
        .ok_or_else(|| Error::not_found("job", None))
}

pub async fn list(
    db: &DatabaseConnection,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<model::Model>> {
    Ok(jobs::page(db, after, limit).await?)
}

/// The code a failed step records.
fn code_of(e: &Error) -> Option<String> {
    match e {
        Error::NotFound(_) => Some("NOT_FOUND".into()),
        Error::Conflict { code, .. } => Some((*code).into()),
        Error::Invalid(_) => Some("VALIDATION_ERROR".into()),
        Error::PreconditionFailed(_) => Some("PRECONDITION_FAILED".into()),
        Error::Held { .. } => Some("DEPROVISIONING_HELD".into()),
        // Retried: the database may be back at the next attempt.
        Error::Unavailable { .. } | Error::Unexpected(_) => None,
    }
}

/// The actor a job's steps are recorded under: whoever made the job.
fn actor_of(job: &model::Model) -> Actor {
    let kind = match job.actor_type {
        k @ (ActorKind::Admin | ActorKind::Cli | ActorKind::Policy) => k,
        _ => ActorKind::Job,
    };
    Actor {
        kind,
        id: job.actor_id.clone(),
        request_id: job.request_id.clone(),
        client_address: None,
    }
}

/// Runs jobs: claims one, steps it to its end (or until its lease is lost or it is told
/// to stop), and gives the lease back when stopping.
pub struct Runner {
    db: DatabaseConnection,
    owner: String,
    lease: Duration,
    /// The deletion grace period the steps apply.
    grace: Duration,
}

/// Why a job's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Finished,
    LeaseLost,
    Stopped,
}

impl Runner {
    pub fn new(db: DatabaseConnection, lease: Duration, grace: Duration) -> Self {
        Runner {
            db,
            owner: ids::new_id(ids::DISPATCHER),
            lease,
            grace,
        }
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Claims the oldest job that is free and runs it; `None` when there was none.
    pub async fn run_next(&self, stop: &watch::Receiver<bool>) -> Result<Option<(String, RunEnd)>> {
        let now = Utc::now();
        let Some(job) = jobs::claim(&self.db, &self.owner, self.lease_until(now), now).await?
        else {
            return Ok(None);
        };
        let id = job.id.clone();
        let (end, _) = self.drive(job, Some(stop), usize::MAX).await?;
        Ok(Some((id, end)))
    }

    /// Runs this job here when nobody else holds it; `None` when another process does.
    pub async fn run_job(&self, id: &str, stop: &watch::Receiver<bool>) -> Result<Option<RunEnd>> {
        let now = Utc::now();
        let Some(job) =
            jobs::claim_id(&self.db, id, &self.owner, self.lease_until(now), now).await?
        else {
            return Ok(None);
        };
        let (end, _) = self.drive(job, Some(stop), usize::MAX).await?;
        Ok(Some(end))
    }

    /// Claims this job and does at most `steps` of its steps, then gives the lease back
    /// (unless it finished): a seam for tests and tools that step a job; the job as it
    /// then stands, or `None` when another process holds it or took it over.
    pub async fn run_steps(&self, id: &str, steps: usize) -> Result<Option<model::Model>> {
        let now = Utc::now();
        let Some(job) =
            jobs::claim_id(&self.db, id, &self.owner, self.lease_until(now), now).await?
        else {
            return Ok(None);
        };
        match self.drive(job, None, steps).await? {
            (RunEnd::Finished, job) => Ok(Some(job)),
            (RunEnd::LeaseLost, _) => Ok(None),
            (RunEnd::Stopped, _) => Ok(jobs::find(&self.db, id).await?),
        }
    }

    /// Steps a claimed job until it finishes, its lease is lost, `stop` turns true or
    /// `max_steps` are done (`Stopped`); a job that stops or fails here gets its lease
    /// back, so another process (or a later try) takes it at once.
    async fn drive(
        &self,
        mut job: model::Model,
        stop: Option<&watch::Receiver<bool>>,
        max_steps: usize,
    ) -> Result<(RunEnd, model::Model)> {
        let id = job.id.clone();
        let end: Result<RunEnd> = async {
            let plan = take_plan(&mut job)?;
            for _ in 0..max_steps {
                if stop.is_some_and(|s| *s.borrow()) {
                    return Ok(RunEnd::Stopped);
                }
                match self.step(&job, &plan).await? {
                    Some(next) => job = next,
                    None => return Ok(RunEnd::LeaseLost),
                }
                if job.status == jobs::JobStatus::Finished {
                    return Ok(RunEnd::Finished);
                }
            }
            Ok(RunEnd::Stopped)
        }
        .await;
        if !matches!(end, Ok(RunEnd::Finished) | Ok(RunEnd::LeaseLost)) {
            jobs::release(&self.db, &id, &self.owner).await?;
        }
        Ok((end?, job))
    }

    /// Does the job's next step; the job as it now stands, or `None` when the lease was
    /// lost (the step rolled back).
    async fn step(&self, job: &model::Model, plan: &Plan) -> Result<Option<model::Model>> {
        match plan {
            Plan::Users(params) => self.users_delete_step(job, params).await,
            Plan::Organization(params) => self.organization_delete_step(job, params).await,
            Plan::Roles(params) => self.roles_recompute_step(job, params).await,
        }
    }

    /// Re-roles the next page of the organization's members, unless the organization is
    /// gone or a later mapping change queued its own job (which re-roles them all).
    async fn roles_recompute_step(
        &self,
        job: &model::Model,
        params: &RolesRecompute,
    ) -> Result<Option<model::Model>> {
        let org = &params.organization_id;
        let actor = actor_of(job);
        let mut state: RolesProgress =
            serde_json::from_value(job.result.clone()).unwrap_or_default();
        let mut work = Work::begin(&self.db, &actor).await?.source("admin");
        let mut progress = Progress {
            position: job.position + 1,
            ..Progress::of(job)
        };
        let later = jobs::unfinished_after(work.tx(), ROLES_RECOMPUTE, &job.id).await?;
        let superseded = later.into_iter().find_map(|(id, p)| {
            serde_json::from_value::<RolesRecompute>(p)
                .is_ok_and(|p| &p.organization_id == org)
                .then_some(id)
        });
        if crate::store::organizations::find(work.tx(), org)
            .await?
            .is_none()
        {
            progress.failed += 1;
            progress.errors = json!([{"organization_id": org, "code": "NOT_FOUND"}]);
            progress.finished = true;
        } else if let Some(id) = superseded {
            state.superseded_by = Some(id);
            progress.finished = true;
        } else {
            match super::roles::recompute_page(&mut work, org, None, state.after.as_ref()).await? {
                Some(page) => {
                    state.after = Some(page.last);
                    state.members_changed += page.moved;
                    progress.done += i64::try_from(page.members).unwrap_or(0);
                    // Members the IdP added meanwhile count too.
                    progress.total = progress.total.max(progress.done);
                }
                None => progress.finished = true,
            }
        }
        progress.result = serde_json::to_value(&state).map_err(|e| Error::Unexpected(e.into()))?;
        self.commit_progress(work, job, progress).await
    }

    async fn users_delete_step(
        &self,
        job: &model::Model,
        params: &UsersDelete,
    ) -> Result<Option<model::Model>> {
        let mut errors: Vec<StepError> =
            serde_json::from_value(job.errors.clone()).unwrap_or_default();
        let position = usize::try_from(job.position).unwrap_or(usize::MAX);
        let actor = actor_of(job);
        let mut progress = Progress {
            position: job.position + 1,
            finished: position + 1 >= params.user_ids.len(),
            ..Progress::of(job)
        };
        let Some(user_id) = params.user_ids.get(position) else {
            // Nothing left (a job whose last step's finish was lost): finish it.
            progress.position = job.position;
            progress.finished = true;
            return self
                .commit_progress(Work::begin(&self.db, &actor).await?, job, progress)
                .await;
        };
        let mut work = Work::begin(&self.db, &actor).await?;
        let deleted = match UserId::named(user_id) {
            Some(id) => {
                super::deletion::delete_user_in(&mut work, &id, params.content, self.grace).await
            }
            None => Err(Error::not_found("user", None)),
        };
        match deleted {
            Ok(_) => {
                progress.done += 1;
                self.commit_progress(work, job, progress).await
            }
            Err(e) => {
                let Some(code) = code_of(&e) else {
                    return Err(e);
                };
                drop(work);
                if errors.len() < MAX_ERRORS {
                    errors.push(StepError {
                        user_id: user_id.clone(),
                        code,
                    });
                }
                progress.failed += 1;
                progress.errors =
                    serde_json::to_value(&errors).map_err(|e| Error::Unexpected(e.into()))?;
                let work = Work::begin(&self.db, &actor).await?;
                self.commit_progress(work, job, progress).await
            }
        }
    }

    async fn organization_delete_step(
        &self,
        job: &model::Model,
        params: &OrganizationDelete,
    ) -> Result<Option<model::Model>> {
        let org = &params.organization_id;
        let actor = actor_of(job);
        let mut state: OrganizationProgress =
            serde_json::from_value(job.result.clone()).unwrap_or(OrganizationProgress {
                summary: OrganizationDeletedData::new(org),
                scim_tokens_deleted: 0,
            });
        let mut work = Work::begin(&self.db, &actor)
            .await?
            .source("organization_deletion");
        let mut progress = Progress::of(job);
        if crate::store::organizations::find(work.tx(), org)
            .await?
            .is_none()
        {
            // Deleted meanwhile (synchronously, or by another job): nothing left to do.
            progress.failed += 1;
            progress.errors = json!([{"organization_id": org, "code": "NOT_FOUND"}]);
            progress.finished = true;
            return self.commit_progress(work, job, progress).await;
        }
        match job.position {
            ORG_START => {
                state.scim_tokens_deleted =
                    crate::store::tokens::delete_for_organization(work.tx(), org).await?;
                let live = crate::store::memberships::count_live(work.tx(), org).await?;
                progress.total = job.done + i64::try_from(live).unwrap_or(i64::MAX);
                progress.position = ORG_MEMBERS;
            }
            ORG_MEMBERS => {
                let before = state.summary.memberships_removed;
                let removed = super::deletion::remove_member_page(
                    &mut work,
                    org,
                    None,
                    self.grace,
                    &mut state.summary,
                )
                .await?;
                match removed {
                    Some(_) => {
                        let n = state.summary.memberships_removed - before;
                        progress.done += i64::try_from(n).unwrap_or(0);
                        // Members the IdP added before its tokens went count too.
                        progress.total = progress.total.max(progress.done);
                    }
                    None => progress.position = ORG_FINISH,
                }
            }
            _ => {
                super::deletion::finish_organization(
                    &mut work,
                    org,
                    &mut state.summary,
                    state.scim_tokens_deleted,
                )
                .await?;
                progress.finished = true;
            }
        }
        progress.result = serde_json::to_value(&state).map_err(|e| Error::Unexpected(e.into()))?;
        self.commit_progress(work, job, progress).await
    }

    /// Writes the step's progress in the step's own unit of work and commits both, or
    /// rolls the step back when the lease is no longer this process's.
    async fn commit_progress(
        &self,
        mut work: Work<'_>,
        job: &model::Model,
        progress: Progress,
    ) -> Result<Option<model::Model>> {
        let now = work.now;
        let finished = progress.finished;
        // The job as it will stand, kept here: reading it back would re-read its
        // parameters (up to 100,000 ids) at every step.
        let mut next = job.clone();
        next.position = progress.position;
        next.total = progress.total;
        next.done = progress.done;
        next.failed = progress.failed;
        next.errors = progress.errors.clone();
        next.result = progress.result.clone();
        next.updated_at = now;
        if finished {
            next.status = jobs::JobStatus::Finished;
            next.finished_at = Some(now);
        }
        let held = jobs::advance(
            work.tx(),
            &job.id,
            &self.owner,
            progress,
            self.lease_until(now),
            now,
        )
        .await?;
        if !held {
            return Ok(None);
        }
        if finished {
            work.audit(Audit::new(
                actions::JOB_FINISH,
                "job",
                &job.id,
                json!({"kind": job.kind}),
            ));
        }
        work.commit().await?;
        Ok(Some(next))
    }
}

/// A job's parameters, read once per run (they do not change).
enum Plan {
    Users(UsersDelete),
    Organization(OrganizationDelete),
    Roles(RolesRecompute),
}

/// Reads the job's parameters and leaves `Null` in their place, so the job that travels
/// from step to step is small.
fn take_plan(job: &mut model::Model) -> Result<Plan> {
    let params = std::mem::take(&mut job.params);
    let bad = |e: serde_json::Error| Error::Unexpected(anyhow::anyhow!("job {}: {e}", job.id));
    match job.kind.as_str() {
        USERS_DELETE => Ok(Plan::Users(serde_json::from_value(params).map_err(bad)?)),
        ORGANIZATION_DELETE => Ok(Plan::Organization(
            serde_json::from_value(params).map_err(bad)?,
        )),
        ROLES_RECOMPUTE => Ok(Plan::Roles(serde_json::from_value(params).map_err(bad)?)),
        other => Err(Error::Unexpected(anyhow::anyhow!(
            "job {} has an unknown kind {other}",
            job.id
        ))),
    }
}

/// `serve`'s job worker: runs jobs as they come (woken at once when one is made here,
/// else every `poll`), until told to stop; a failed run is logged and tried again (after
/// the database's back-off while it is unreachable).
pub async fn run_forever(
    runner: Runner,
    wake: std::sync::Arc<Notify>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // An unreachable database is logged when it goes and comes back, not every poll.
    let mut outage = crate::db::Outage::new("job worker");
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match runner.run_next(&stop).await {
            Ok(Some((id, end))) => {
                outage.succeeded();
                tracing::info!(job_id = %id, end = ?end, "job run ended");
                continue;
            }
            Ok(None) => {
                outage.succeeded();
                poll
            }
            Err(Error::Unavailable { source, .. }) => outage.failed(&source),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "job run failed");
                poll
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
