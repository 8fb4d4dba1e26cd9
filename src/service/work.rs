//! The unit of work every write runs in: one write transaction holding the locks, the
//! change, the events that report it (the outbox) and its audit rows, committed together
//! or not at all. A use case begins one, reads and locks what it changes, asks `domain`
//! what the request means, writes through `store`, emits the plan's events, records its
//! audit entry and commits. Dropped without `commit`, it rolls back.

use ids::OrganizationId;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::Result;
use crate::db::{self, WriteTxn};
use crate::domain::events::{Event, Provenance};
use crate::store::audit::ActorKind;
use crate::store::audit::{self, Actor, Entry};
use crate::store::outbox;

pub struct Work<'a> {
    tx: WriteTxn,
    actor: &'a Actor,
    /// The instant the whole unit is stamped with.
    pub now: DateTime<Utc>,
    /// What made the change, as its events say (`source`).
    source: &'static str,
    /// Emitted events per organization, in order. Appended at commit, organization by
    /// organization in id order: the lock order (memberships, then accounts, then the
    /// organizations' sequences) is the same in every use case.
    events: BTreeMap<OrganizationId, Vec<Event>>,
    /// Ids of events appended before the commit that the audit rows list.
    published: Vec<String>,
    audits: Vec<Audit>,
}

/// An audit row: who (the unit's actor) did what to which id. Ids and actions only,
/// never personal data.
pub struct Audit {
    organization_id: Option<OrganizationId>,
    action: &'static str,
    target_type: &'static str,
    target_id: String,
    details: Value,
    lists_events: bool,
}

impl Audit {
    pub fn new(
        action: &'static str,
        target_type: &'static str,
        target_id: impl AsRef<str>,
        details: Value,
    ) -> Self {
        Audit {
            organization_id: None,
            action,
            target_type,
            target_id: target_id.as_ref().to_string(),
            details,
            lists_events: false,
        }
    }

    pub fn in_organization(self, organization_id: &OrganizationId) -> Self {
        self.scoped_to(Some(organization_id))
    }

    /// The organization the row belongs to, if any (`None`: server-wide).
    pub fn scoped_to(mut self, organization_id: Option<&OrganizationId>) -> Self {
        self.organization_id = organization_id.cloned();
        self
    }

    /// Adds `"events": [ids]`: the events the unit appends at its commit.
    pub fn listing_events(mut self) -> Self {
        self.lists_events = true;
        self
    }
}

/// What an actor's changes are, unless the use case names them.
fn default_source(actor: &Actor) -> &'static str {
    match actor.kind {
        ActorKind::ScimToken => "scim",
        ActorKind::Policy => "policy",
        ActorKind::SetupLink => "setup_link",
        ActorKind::ApiKey => "application",
        _ => "admin",
    }
}

impl<'a> Work<'a> {
    /// Begins the write transaction (on SQLite, queues for this process's writer slot).
    pub async fn begin(db: &DatabaseConnection, actor: &'a Actor) -> Result<Self> {
        Self::begin_at(db, actor, Utc::now()).await
    }

    /// Begins a unit stamped with `now` (the purge runs at the instant it is given).
    pub async fn begin_at(
        db: &DatabaseConnection,
        actor: &'a Actor,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        Ok(Work {
            // Writers take turns per actor (a SCIM token is one organization's IdP).
            tx: db::begin_write_for(db, &actor.id).await?,
            actor,
            now,
            source: default_source(actor),
            events: BTreeMap::new(),
            published: Vec::new(),
            audits: Vec::new(),
        })
    }

    /// Names what makes the change in its events' `source` (`scim.patch`,
    /// `organization_deletion`, …); by default the actor's kind says (`admin`, `policy`).
    pub fn source(mut self, source: &'static str) -> Self {
        self.source = source;
        self
    }

    fn provenance(&self) -> Provenance {
        Provenance {
            source: self.source,
            scim_token_id: (self.actor.kind == ActorKind::ScimToken).then(|| self.actor.id.clone()),
            request_id: self.actor.request_id.clone(),
        }
    }

    /// Who the unit acts for.
    pub fn actor(&self) -> &Actor {
        self.actor
    }

    /// The transaction, for `store` calls.
    pub fn tx(&self) -> &WriteTxn {
        &self.tx
    }

    pub fn emit(
        &mut self,
        organization_id: &OrganizationId,
        events: impl IntoIterator<Item = Event>,
    ) {
        let pending = self.events.entry(organization_id.clone()).or_default();
        pending.extend(events);
    }

    /// Takes back the events emitted for the organization and not appended yet, so
    /// that events emitted next come before them when they are emitted again.
    pub fn take_pending(&mut self, organization_id: &OrganizationId) -> Vec<Event> {
        self.events.remove(organization_id).unwrap_or_default()
    }

    pub fn audit(&mut self, audit: Audit) {
        self.audits.push(audit);
    }

    /// Whether events were emitted that are not appended yet.
    pub fn has_pending(&self) -> bool {
        self.events.values().any(|e| !e.is_empty())
    }

    /// Appends what was emitted so far, so a long unit (a whole organization's members)
    /// keeps memory flat. These events are not listed in the audit rows.
    pub async fn flush_events(&mut self) -> Result<()> {
        for (org, events) in std::mem::take(&mut self.events) {
            outbox::append(&self.tx, &org, events, &self.provenance(), self.now).await?;
        }
        Ok(())
    }

    /// Appends these events now (before a change that must follow them, such as the
    /// organization's tombstone); the audit rows list them.
    pub async fn publish(
        &mut self,
        organization_id: &OrganizationId,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<()> {
        let events: Vec<Event> = events.into_iter().collect();
        let ids = outbox::append(
            &self.tx,
            organization_id,
            events,
            &self.provenance(),
            self.now,
        )
        .await?;
        self.published.extend(ids);
        Ok(())
    }

    /// Appends the events, writes the audit rows and commits; returns the ids of the
    /// events the audit rows list.
    pub async fn commit(mut self) -> Result<Vec<String>> {
        let mut event_ids = std::mem::take(&mut self.published);
        // The events' ids are chosen now and their rows appended last: the audit rows
        // that list them are written first, so the organizations' sequence rows (and, on
        // PostgreSQL, the lock each takes) are held for as few statements as can be.
        let events: Vec<(OrganizationId, Vec<(String, Event)>)> = std::mem::take(&mut self.events)
            .into_iter()
            .map(|(org, events)| {
                let events: Vec<(String, Event)> =
                    events.into_iter().map(|e| (outbox::new_id(), e)).collect();
                event_ids.extend(events.iter().map(|(id, _)| id.clone()));
                (org, events)
            })
            .collect();
        for a in std::mem::take(&mut self.audits) {
            let mut details = a.details;
            if a.lists_events
                && let Value::Object(o) = &mut details
            {
                o.insert("events".into(), serde_json::json!(event_ids));
            }
            audit::record(
                &self.tx,
                self.actor,
                Entry {
                    organization_id: a.organization_id.as_ref(),
                    action: a.action,
                    target_type: a.target_type,
                    target_id: &a.target_id,
                    details,
                },
                self.now,
            )
            .await?;
        }
        let provenance = self.provenance();
        for (org, events) in events {
            outbox::append_identified(&self.tx, &org, events, &provenance, self.now).await?;
        }
        self.tx.commit().await?;
        Ok(event_ids)
    }
}
