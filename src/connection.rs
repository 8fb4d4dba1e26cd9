//! Connection health recording: each SCIM request's token, route, status and client are
//! aggregated in memory (never a write in the request's own transaction) and flushed to
//! the database every `OFFBOARD_CONNECTION_FLUSH_INTERVAL` and at shutdown, in one short
//! transaction.

use ids::OrganizationId;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use crate::domain::connection::Counts;
use crate::store::connections::{self as store, LastRequest};

/// Put in a SCIM request's extensions once its token is known.
#[derive(Debug, Clone)]
pub struct Seen {
    pub token_id: String,
    pub organization_id: OrganizationId,
    /// Set when the token's own rules refused the request (counted by reason).
    pub refused: Option<crate::domain::token::Refusal>,
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub organization_id: OrganizationId,
    pub last: LastRequest,
    pub hours: BTreeMap<DateTime<Utc>, Counts>,
}

#[derive(Default)]
pub struct Recorder {
    pending: Mutex<HashMap<String, Pending>>,
    /// Held (write) by a flush from taking what is pending until its commit, and (read)
    /// by a reader of the database plus what is pending: a reader never sees a flush
    /// half done (taken from memory but not yet committed, or committed and still kept).
    gate: tokio::sync::RwLock<()>,
}

/// The hour a time falls in.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t)
}

impl Recorder {
    pub fn record(&self, seen: &Seen, last: LastRequest) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let hour = hour_of(last.at);
        let counts = match seen.refused {
            Some(why) => Counts::of_refusal(why),
            None => Counts::of_status(last.status),
        };
        let p = pending
            .entry(seen.token_id.clone())
            .or_insert_with(|| Pending {
                organization_id: seen.organization_id.clone(),
                last: last.clone(),
                hours: BTreeMap::new(),
            });
        if last.at >= p.last.at {
            p.last = last;
        }
        p.hours.entry(hour).or_default().add(counts);
    }

    /// Hold this while reading the database and [`Recorder::unflushed`] together.
    pub async fn consistent(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// What this process has not flushed yet for the organization's tokens.
    pub fn unflushed(&self, organization_id: &OrganizationId) -> HashMap<String, Pending> {
        self.pending
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|(_, v)| &v.organization_id == organization_id)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes what was recorded; on failure it is put back to be written next time.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let _flushing = self.gate.write().await;
        let taken = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        if taken.is_empty() {
            return Ok(());
        }
        match write(db, &taken).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Ok(mut p) = self.pending.lock() {
                    for (token, old) in taken {
                        let entry = p.entry(token).or_insert_with(|| Pending {
                            hours: BTreeMap::new(),
                            ..old.clone()
                        });
                        if old.last.at > entry.last.at {
                            entry.last = old.last.clone();
                        }
                        for (h, c) in old.hours {
                            entry.hours.entry(h).or_default().add(c);
                        }
                    }
                }
                Err(e)
            }
        }
    }
}

async fn write(db: &DatabaseConnection, taken: &HashMap<String, Pending>) -> Result<(), DbErr> {
    let tx = crate::db::begin_write(db).await?;
    for (token, p) in taken {
        store::set_last(&tx, token, &p.last).await?;
        for (hour, c) in &p.hours {
            store::add_counts(&tx, token, &p.organization_id, *hour, *c).await?;
        }
    }
    tx.commit().await
}

/// Runs `flush` every `interval` until `stop`, then once more at shutdown. A database
/// outage is logged when it starts and when it ends, not at every tick. Serves every
/// periodic writer of what was recorded in memory (connection health, the inspector).
pub async fn flush_every<F>(
    what: &'static str,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut flush: impl FnMut() -> F,
) where
    F: std::future::Future<Output = Result<(), DbErr>>,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outage = crate::db::Outage::new(what);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        match flush().await {
            Ok(()) => outage.succeeded(),
            Err(e) => {
                outage.failed(&e);
            }
        }
    }
    if let Err(e) = flush().await {
        tracing::warn!(error = %e, "{what} not flushed at shutdown");
    }
}

/// Flushes every `interval` until `stop`, then once more (what a failed flush took is
/// kept for the next); drops counts older than two days once an hour.
pub async fn flush_forever(
    recorder: std::sync::Arc<Recorder>,
    db: DatabaseConnection,
    interval: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let last_prune = std::sync::Arc::new(Mutex::new(
        std::time::Instant::now() - Duration::from_secs(3600),
    ));
    flush_every("connection health", interval, stop, move || {
        let (recorder, db, last_prune) = (recorder.clone(), db.clone(), last_prune.clone());
        async move {
            recorder.flush(&db).await?;
            let due = last_prune.lock().is_ok_and(|mut at| {
                let due = at.elapsed() >= Duration::from_secs(3600);
                if due {
                    *at = std::time::Instant::now();
                }
                due
            });
            if due {
                let _ = store::prune(&db, Utc::now() - chrono::Duration::days(2)).await;
            }
            Ok(())
        }
    })
    .await
}
