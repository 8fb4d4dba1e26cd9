//! The SCIM request inspector: each SCIM request an organization's token made (what was
//! asked, what was answered, how long it took, the body with personal values redacted)
//! is kept in memory and written every `OFFBOARD_CONNECTION_FLUSH_INTERVAL`, off the
//! request's path; the newest `OFFBOARD_INSPECTOR_KEEP` per organization (default 1,000)
//! no older than `OFFBOARD_INSPECTOR_MAX_AGE` (default 7 days) are kept. Full bodies are
//! kept only inside a window an operator opened for one organization (at most 24 hours,
//! audited), and dropped a day after they were captured.

use ids::OrganizationId;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use entity::scim_requests;
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, IntoActiveModel};
use serde_json::Value;

use crate::scim::redact;

/// The body a SCIM handler read, left in the request's extensions for the inspector.
#[derive(Debug, Clone)]
pub struct Captured(pub Bytes);

/// The SCIM error a response carries, left in the response's extensions.
#[derive(Debug, Clone)]
pub struct Answered {
    pub scim_type: Option<String>,
    pub detail: String,
}

/// One request as recorded, before redaction (done at flush, off the request's path).
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub organization_id: OrganizationId,
    pub token_id: String,
    pub at: DateTime<Utc>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub latency_ms: i64,
    pub request_id: Option<String>,
    /// The client's address, as far as it can be believed (`forwarded`).
    pub client_address: Option<String>,
    pub error: Option<Answered>,
    pub body: Option<Bytes>,
}

/// The most requests an organization may keep (`OFFBOARD_INSPECTOR_KEEP`).
pub use crate::configuration::MAX_INSPECTOR_KEEP as MAX_KEEP;
/// Requests held in memory between flushes, all organizations together; past it the
/// organization holding the most gives way (its oldest first).
const MAX_PENDING: usize = 10_000;
/// Body bytes held in memory between flushes, all organizations together.
const MAX_PENDING_BODY_BYTES: usize = 16 << 20;
/// What one organization holds between flushes at most: its newest requests, so one
/// organization's flood never pushes another's requests out.
const PER_ORG_PENDING: usize = 1_000;
const PER_ORG_BODY_BYTES: usize = 4 << 20;
/// Longest stored full body; longer ones are cut.
const MAX_FULL_BODY: usize = 64 << 10;
/// Elements of an array kept in a redacted body; the rest are counted.
const MAX_ARRAY: usize = 50;
/// How long a full body is kept after its capture.
pub const FULL_BODY_LIFETIME: chrono::Duration = chrono::Duration::hours(24);
/// The longest window an operator may open for full bodies.
pub const MAX_FULL_BODY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

#[derive(Default)]
struct Pending {
    by_org: HashMap<OrganizationId, Queue>,
    entries: usize,
    body_bytes: usize,
}

/// One organization's requests not yet written, oldest first.
#[derive(Default)]
struct Queue {
    entries: VecDeque<Entry>,
    body_bytes: usize,
}

impl Pending {
    /// Drops the organization's oldest pending request.
    fn pop_oldest(&mut self, org: &OrganizationId) {
        if let Some(q) = self.by_org.get_mut(org)
            && let Some(old) = q.entries.pop_front()
        {
            let len = old.body.as_ref().map_or(0, Bytes::len);
            q.body_bytes -= len;
            self.body_bytes -= len;
            self.entries -= 1;
        }
    }
}

pub struct Inspector {
    pending: std::sync::Mutex<Pending>,
    /// One flush at a time (the periodic one and a listing's).
    flushing: tokio::sync::Mutex<()>,
    keep: u64,
    max_age: Duration,
}

impl Inspector {
    pub fn new(keep: u64, max_age: Duration) -> Self {
        Self {
            pending: std::sync::Mutex::new(Pending::default()),
            flushing: tokio::sync::Mutex::new(()),
            keep: keep.min(MAX_KEEP),
            max_age,
        }
    }

    pub fn enabled(&self) -> bool {
        self.keep > 0 && !self.max_age.is_zero()
    }

    /// How far back a listing may look.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Keeps the request until the next flush. Bounded: each organization keeps its
    /// newest requests (at most its share of entries and body bytes), and when all of
    /// them together reach the process's bound the one holding the most gives way.
    pub fn record(&self, mut entry: Entry) {
        if !self.enabled() {
            return;
        }
        let Ok(mut p) = self.pending.lock() else {
            return;
        };
        let cap = usize::try_from(self.keep)
            .unwrap_or(usize::MAX)
            .min(PER_ORG_PENDING);
        let mut len = entry.body.as_ref().map_or(0, Bytes::len);
        if len > PER_ORG_BODY_BYTES {
            entry.body = None;
            len = 0;
        }
        let org = entry.organization_id.clone();
        let q = p.by_org.entry(org.clone()).or_default();
        q.entries.push_back(entry);
        q.body_bytes += len;
        p.entries += 1;
        p.body_bytes += len;
        while p
            .by_org
            .get(&org)
            .is_some_and(|q| q.entries.len() > cap || q.body_bytes > PER_ORG_BODY_BYTES)
        {
            p.pop_oldest(&org);
        }
        while p.entries > MAX_PENDING || p.body_bytes > MAX_PENDING_BODY_BYTES {
            let Some(largest) = p
                .by_org
                .iter()
                .max_by_key(|(_, q)| q.entries.len())
                .map(|(o, _)| o.clone())
            else {
                break;
            };
            p.pop_oldest(&largest);
        }
    }

    /// What this process recorded for the organization since `since` and has not
    /// written yet, newest first, as rows without their bodies: a live view reads these
    /// beside the written ones instead of flushing, so reading never writes.
    pub fn unwritten(
        &self,
        organization_id: &OrganizationId,
        since: DateTime<Utc>,
    ) -> Vec<scim_requests::Model> {
        let Ok(p) = self.pending.lock() else {
            return Vec::new();
        };
        let Some(q) = p.by_org.get(organization_id) else {
            return Vec::new();
        };
        q.entries
            .iter()
            .rev()
            .filter(|e| e.at >= since)
            .map(bodyless)
            .collect()
    }

    /// Writes what was recorded, then prunes by count and age. What cannot be written
    /// (the database is unavailable) is dropped: the inspector is a window on recent
    /// traffic, not a record that must be complete.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let _one = self.flushing.lock().await;
        let taken = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p)
                .by_org
                .into_values()
                .flat_map(|q| q.entries)
                .collect::<Vec<_>>(),
            Err(_) => return Ok(()),
        };
        let now = Utc::now();
        let orgs: BTreeSet<OrganizationId> =
            taken.iter().map(|e| e.organization_id.clone()).collect();
        let windows = if taken.is_empty() {
            HashMap::new()
        } else {
            crate::store::requests::full_body_windows(db, &orgs).await?
        };
        // Redaction parses every body: off the async workers.
        let models = tokio::task::spawn_blocking(move || {
            taken
                .into_iter()
                .map(|e| {
                    let full = windows
                        .get(&e.organization_id)
                        .is_some_and(|until| e.at <= *until);
                    to_model(e, full)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| DbErr::Custom(format!("inspector redaction failed: {e}")))?;
        let tx = crate::db::begin_write(db).await?;
        crate::store::requests::insert_many(&tx, models).await?;
        for org in &orgs {
            crate::store::requests::keep_newest(&tx, org, self.keep).await?;
        }
        let max_age = chrono::Duration::from_std(self.max_age).unwrap_or(chrono::Duration::MAX);
        crate::store::requests::prune(
            &tx,
            now.checked_sub_signed(max_age)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            now - FULL_BODY_LIFETIME,
        )
        .await?;
        tx.commit().await
    }
}

/// The request as stored, its path, query and error redacted, without its body.
fn bodyless(e: &Entry) -> scim_requests::Model {
    scim_requests::Model {
        id: e.id.clone(),
        organization_id: e.organization_id.clone(),
        token_id: e.token_id.clone(),
        at: e.at,
        method: e.method.clone(),
        route: e.route.clone(),
        path: redact::redact_path(&e.path),
        query: e
            .query
            .as_deref()
            .filter(|q| !q.is_empty())
            .map(redact::redact_query),
        status: i32::from(e.status),
        latency_ms: e.latency_ms,
        request_id: e.request_id.clone(),
        client_address: e.client_address.clone(),
        scim_type: e.error.as_ref().and_then(|a| a.scim_type.clone()),
        error_detail: e
            .error
            .as_ref()
            .map(|a| cut(&redact::redact_filter_literals(&a.detail), 500).to_string()),
        body: None,
        full_body: None,
    }
}

fn to_model(e: Entry, full: bool) -> scim_requests::ActiveModel {
    let (body, full_body) = match &e.body {
        None => (None, None),
        Some(b) if b.is_empty() => (None, None),
        Some(b) => {
            let redacted = match serde_json::from_slice::<Value>(b) {
                Ok(v) => {
                    let mut r = redact::redact_body(&v);
                    shorten(&mut r);
                    r.to_string()
                }
                Err(_) => Value::String(format!(
                    "{} (not JSON, {} bytes)",
                    redact::REDACTED,
                    b.len()
                ))
                .to_string(),
            };
            let full_body = full.then(|| {
                let text = String::from_utf8_lossy(b);
                cut(&text, MAX_FULL_BODY).to_string()
            });
            (Some(redacted), full_body)
        }
    };
    scim_requests::Model {
        body,
        full_body,
        ..bodyless(&e)
    }
    .into_active_model()
    .reset_all()
}

/// Arrays cut to their first elements, with a count of the rest.
fn shorten(v: &mut Value) {
    match v {
        Value::Array(items) => {
            if items.len() > MAX_ARRAY {
                let more = items.len() - MAX_ARRAY;
                items.truncate(MAX_ARRAY);
                items.push(Value::String(format!("{} {more} more", redact::REDACTED)));
            }
            items.iter_mut().for_each(shorten);
        }
        Value::Object(map) => map.values_mut().for_each(shorten),
        _ => {}
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Flushes every `interval` until `stop`, then once more.
pub async fn flush_forever(
    inspector: std::sync::Arc<Inspector>,
    db: DatabaseConnection,
    interval: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    // What a failed flush took is dropped; the next tick records anew.
    crate::connection::flush_every("request inspector", interval, stop, move || {
        let (inspector, db) = (inspector.clone(), db.clone());
        async move { inspector.flush(&db).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_arrays_keep_their_first_elements_and_count_the_rest() {
        let mut v = json!({"members": (0..60).map(|i| json!({"value": i})).collect::<Vec<_>>()});
        shorten(&mut v);
        let members = v["members"].as_array().map(Vec::len);
        assert_eq!(members, Some(MAX_ARRAY + 1));
        assert_eq!(v["members"][MAX_ARRAY], json!("… 10 more"));
    }

    fn request(org: &str, n: usize) -> Entry {
        Entry {
            id: format!("srq_{n:05}"),
            organization_id: OrganizationId::from_stored(org),
            token_id: "tok".into(),
            at: Utc::now(),
            method: "GET".into(),
            route: "/scim/v2/Users".into(),
            path: "/scim/v2/Users".into(),
            query: None,
            status: 200,
            latency_ms: 1,
            request_id: None,
            client_address: None,
            error: None,
            body: Some(Bytes::from(vec![b'x'; 1000])),
        }
    }

    fn pending_ids(i: &Inspector, org: &str) -> Vec<String> {
        let p = i.pending.lock().unwrap();
        p.by_org
            .get(&OrganizationId::from_stored(org))
            .map(|q| q.entries.iter().map(|e| e.id.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_organization_keeps_its_newest_requests_between_flushes() {
        let i = Inspector::new(3, Duration::from_secs(60));
        for n in 0..5 {
            i.record(request("org_a", n));
        }
        assert_eq!(
            pending_ids(&i, "org_a"),
            ["srq_00002", "srq_00003", "srq_00004"]
        );
        let p = i.pending.lock().unwrap();
        assert_eq!((p.entries, p.body_bytes), (3, 3000));
    }

    #[test]
    fn one_organizations_flood_does_not_push_out_anothers_requests() {
        let i = Inspector::new(1_000_000, Duration::from_secs(60));
        i.record(request("org_quiet", 0));
        for n in 0..(MAX_PENDING + 5_000) {
            i.record(request("org_loud", n));
        }
        assert_eq!(pending_ids(&i, "org_quiet"), ["srq_00000"]);
        assert_eq!(pending_ids(&i, "org_loud").len(), PER_ORG_PENDING);
        // Many loud organizations: the process's bound holds, the quiet one keeps its own.
        for org in 0..20 {
            for n in 0..PER_ORG_PENDING {
                i.record(request(&format!("org_{org}"), n));
            }
        }
        let p = i.pending.lock().unwrap();
        assert!(p.entries <= MAX_PENDING, "{}", p.entries);
        assert!(p.body_bytes <= MAX_PENDING_BODY_BYTES);
        assert_eq!(
            p.by_org
                .get(&OrganizationId::from_stored("org_quiet"))
                .map(|q| q.entries.len()),
            Some(1)
        );
    }

    #[test]
    fn cutting_never_splits_a_character() {
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut("abc", 5), "abc");
    }
}
