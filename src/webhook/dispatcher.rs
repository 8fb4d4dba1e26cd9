//! The dispatcher: fans the outbox out into deliveries, claims due deliveries with a
//! lease, sends them (signed) with at most `concurrency` in flight, and completes each
//! only while it still holds its lease. No transaction is open during an HTTP call.
//!
//! A crash loses nothing: an event is fanned out in the same transaction that marks it,
//! and a delivery whose owner died is claimed again by any process once its lease
//! expires (the lease outlasts the HTTP timeout, so a live owner always finishes first).
//! Delivery is therefore at least once; receivers de-duplicate on `webhook-id`.
//!
//! Claims are fair (see `store::deliveries::claim`): each endpoint holds at most its own
//! slots, fewer while its circuit breaker is open, so a silent endpoint never delays
//! another's deliveries. Finished attempts go to one completer task, which records them
//! in batches (one transaction for many), so completing does not cost a write
//! transaction per delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::configuration::WebhookSettings;
use crate::db;
use crate::metrics::Metrics;
use crate::store::deliveries::{self, AttemptResult, Claimed, Next};
use crate::store::endpoints;
use crate::webhook::signer::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_header};
use crate::webhook::{retry, ssrf};

/// How much of a response body an attempt row keeps.
const RESPONSE_KEEP: usize = 1024;
/// How many events one fan-out transaction takes.
const FAN_OUT_BATCH: u64 = 500;
/// How long `run` lets new events that no endpoint matches wait before it marks them fanned
/// out: marking them is a write transaction that competes with the requests for the
/// writer, and nothing is sent for them, so under load it is done once in this long for
/// all of them instead of once per round.
const IDLE_FAN_OUT_EVERY: Duration = Duration::from_secs(1);
/// While such events wait, how soon `run` looks again after a wake (each look is two
/// reads, never the writer).
const IDLE_FAN_OUT_LOOK: Duration = Duration::from_millis(10);
/// How many finished attempts one completion transaction records at most.
const COMPLETE_BATCH: usize = 256;

/// A finished attempt on its way to the completer.
struct Finished {
    claimed: Claimed,
    lease_id: String,
    result: AttemptResult,
    outcome: Outcome,
}

/// What one [`Dispatcher::tick`] did: events fanned out, and how the attempts it made
/// ended (an attempt whose lease another process took is `lease_lost`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub fanned_out: usize,
    pub succeeded: usize,
    pub retrying: usize,
    pub dead: usize,
    pub lease_lost: usize,
}

impl Tick {
    pub fn attempted(&self) -> usize {
        self.succeeded + self.retrying + self.dead + self.lease_lost
    }
}

pub struct Dispatcher {
    db: DatabaseConnection,
    settings: WebhookSettings,
    owner: String,
    client: reqwest::Client,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        settings: WebhookSettings,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = http_client(&settings)?;
        Ok(Dispatcher {
            db,
            settings,
            owner: ids::new_id(ids::DISPATCHER),
            client,
            wake,
            metrics,
        })
    }

    /// Runs until `shutdown` turns true, then stops claiming, lets in-flight deliveries
    /// finish within `shutdown_timeout`, and releases whatever leases remain.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let (finished, inbox) = mpsc::unbounded_channel::<Finished>();
        let completer = tokio::spawn(this.clone().complete_forever(inbox));
        let mut outage = db::Outage::new("webhook dispatcher");
        // Since when events that no endpoint matches have been left unmarked.
        let mut idle_since: Option<Instant> = None;
        tracing::info!(owner = %this.owner, concurrency = this.settings.concurrency, "webhook dispatcher started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let room = room(&mut in_flight, this.settings.concurrency);
            let (fanned, claimed) = match this.step(room, Some(&mut idle_since)).await {
                Ok((fanned, batch)) => {
                    let claimed = batch.len();
                    for c in batch {
                        let me = this.clone();
                        let finished = finished.clone();
                        in_flight.spawn(async move { me.deliver(c, finished).await });
                    }
                    (fanned, claimed)
                }
                Err(e) => {
                    // Back off (logged once per outage); what finished meanwhile is
                    // reaped at the top of the next round.
                    let wait = outage.failed(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            outage.succeeded();
            if fanned > 0 || (claimed > 0 && in_flight.len() < this.settings.concurrency) {
                continue;
            }
            if idle_since.is_some() {
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_FAN_OUT_LOOK) => {}
                    _ = shutdown.changed() => {}
                }
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(this.settings.poll_interval) => {}
                // A send finished: its slot (and any other freed meanwhile, reaped by
                // `room`) is claimed again in the next round's one query.
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
        let deadline = tokio::time::sleep(this.settings.shutdown_timeout);
        tokio::pin!(deadline);
        while !in_flight.is_empty() {
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = &mut deadline => {
                    tracing::warn!(left = in_flight.len(), "shutdown timeout: abandoning in-flight deliveries");
                    in_flight.abort_all();
                    break;
                }
            }
        }
        // Let the completer record what finished, then give back the rest.
        drop(finished);
        let _ = completer.await;
        // A pooled connection opened on a request worker's runtime dies with it during
        // shutdown; the pool then opens another, so a failure is worth one more try.
        for attempt in 1..=3 {
            match deliveries::release_leases(&this.db, &this.owner).await {
                Ok(n) => {
                    tracing::info!(released = n, "webhook dispatcher stopped");
                    break;
                }
                Err(e) if attempt < 3 => {
                    tracing::debug!(error = %e, "releasing leases failed; retrying")
                }
                Err(e) => tracing::error!(error = %e, "releasing leases failed"),
            }
        }
    }

    /// One round, start to finish: fans new events out, claims what is due (up to the
    /// configured concurrency), sends those attempts concurrently, records them, and
    /// says what it did. `run` does the same continuously; tests and tools step the
    /// dispatcher with this instead of waiting for it.
    pub async fn tick(&self) -> Result<Tick, DbErr> {
        let (fanned_out, batch) = self.step(self.settings.concurrency, None).await?;
        let (finished, mut inbox) = mpsc::unbounded_channel::<Finished>();
        futures_util::future::join_all(
            batch.into_iter().map(|c| self.deliver(c, finished.clone())),
        )
        .await;
        drop(finished);
        let mut done = Vec::new();
        while let Some(f) = inbox.recv().await {
            done.push(f);
        }
        let settled = if done.is_empty() {
            Tick::default()
        } else {
            self.complete(&done).await?
        };
        Ok(Tick {
            fanned_out,
            ..settled
        })
    }

    /// Fans new events out and claims up to `room` due deliveries, in one write
    /// transaction, and only when a read says there is something to do: an idle
    /// dispatcher takes no write lock. With `idle_since`, new events that no endpoint
    /// matches are left unmarked until they have waited [`IDLE_FAN_OUT_EVERY`] or fill a
    /// batch (`idle_since` says since when they wait); without, they are marked at once.
    async fn step(
        &self,
        room: usize,
        idle_since: Option<&mut Option<Instant>>,
    ) -> Result<(usize, Vec<Claimed>), DbErr> {
        let now = Utc::now();
        let mut unfanned = deliveries::has_unfanned(&self.db).await?;
        if unfanned && let Some(since) = idle_since {
            let waiting = deliveries::waiting(&self.db, FAN_OUT_BATCH).await?;
            if waiting.deliverable || waiting.events as u64 >= FAN_OUT_BATCH {
                *since = None;
            } else {
                let first = *since.get_or_insert_with(Instant::now);
                if first.elapsed() < IDLE_FAN_OUT_EVERY {
                    unfanned = false;
                } else {
                    *since = None;
                }
            }
        }
        // New events become due deliveries at once; otherwise ask whether any is due.
        let claim = room > 0 && (unfanned || deliveries::has_due(&self.db, now).await?);
        if !unfanned && !claim {
            return Ok((0, Vec::new()));
        }
        let lease_until = now + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
        let lease_id = ids::new_id(ids::LEASE);
        let fairness = deliveries::Fairness {
            default_slots: self.settings.endpoint_concurrency,
            breaker: self.settings.breaker,
        };
        let txn = db::begin_write(&self.db).await?;
        let fanned = if unfanned {
            deliveries::fan_out(&txn, now, FAN_OUT_BATCH).await?
        } else {
            0
        };
        let batch = if claim {
            deliveries::claim(
                &txn,
                &self.owner,
                &lease_id,
                lease_until,
                now,
                room as u64,
                &fairness,
            )
            .await?
        } else {
            Vec::new()
        };
        txn.commit().await?;
        Ok((fanned, batch))
    }

    #[tracing::instrument(skip_all, fields(delivery_id = %c.delivery.id, event_id = %c.delivery.event_id, endpoint_id = %c.endpoint.id, attempt = c.delivery.attempts + 1))]
    async fn deliver(&self, c: Claimed, finished: mpsc::UnboundedSender<Finished>) {
        let Some(lease_id) = c.delivery.lease_id.clone() else {
            return;
        };
        let started_at = Utc::now();
        let clock = Instant::now();
        let (result, outcome) = self.send(&c, started_at).await;
        let result = AttemptResult {
            duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
            ..result
        };
        // If the completer is gone (shutdown), the lease runs out and another attempt
        // follows: at least once.
        let _ = finished.send(Finished {
            claimed: c,
            lease_id,
            result,
            outcome,
        });
    }

    /// Records finished attempts as they come, many per transaction, until every sender
    /// is gone. A failed batch is logged: its leases run out and the deliveries are
    /// attempted again (at least once).
    async fn complete_forever(self: Arc<Self>, mut inbox: mpsc::UnboundedReceiver<Finished>) {
        let mut batch = Vec::with_capacity(COMPLETE_BATCH);
        let mut outage = db::Outage::new("webhook completer");
        while inbox.recv_many(&mut batch, COMPLETE_BATCH).await > 0 {
            match self.complete(&batch).await {
                Ok(_) => outage.succeeded(),
                Err(e) => {
                    // The leases run out and the deliveries are attempted again.
                    outage.failed(&e);
                }
            }
            batch.clear();
            // Woken so the freed slots are claimed again at once.
            self.wake.notify_one();
        }
    }

    /// Sends one attempt; never fails, the failure is the result.
    async fn send(&self, c: &Claimed, started_at: DateTime<Utc>) -> (AttemptResult, Outcome) {
        send_signed(
            &self.client,
            &self.settings,
            &c.endpoint,
            &c.delivery.event_id,
            &c.payload,
            started_at,
        )
        .await
    }

    async fn complete(&self, batch: &[Finished]) -> Result<Tick, DbErr> {
        let now = Utc::now();
        let nexts: Vec<Next> = batch
            .iter()
            .map(|f| {
                let attempt = u32::try_from(f.claimed.delivery.attempts + 1).unwrap_or(u32::MAX);
                match f.outcome {
                    Outcome::Succeeded => Next::Succeeded,
                    Outcome::Gone => Next::Dead,
                    Outcome::Failed(retry_after) => {
                        let jitter = rand::rng().random_range(-1.0..=1.0);
                        match retry::next_delay(
                            &self.settings.retry_schedule,
                            attempt,
                            jitter,
                            retry_after,
                        ) {
                            Some(d) => {
                                Next::Retry(now + chrono::Duration::from_std(d).unwrap_or_default())
                            }
                            None => Next::Dead,
                        }
                    }
                }
            })
            .collect();
        let completions: Vec<deliveries::Completion<'_>> = batch
            .iter()
            .zip(&nexts)
            .map(|(f, next)| deliveries::Completion {
                delivery: &f.claimed.delivery,
                lease_id: &f.lease_id,
                result: &f.result,
                next,
            })
            .collect();
        let txn = db::begin_write(&self.db).await?;
        let held = deliveries::complete_all(&txn, &self.owner, &completions, now).await?;
        // Each endpoint's outcomes in order, for its health and breaker.
        let mut per_endpoint: std::collections::BTreeMap<&str, (Vec<bool>, bool)> =
            Default::default();
        for ((f, next), held) in batch.iter().zip(&nexts).zip(&held) {
            if !held {
                continue;
            }
            let entry = per_endpoint
                .entry(f.claimed.endpoint.id.as_str())
                .or_default();
            entry.0.push(matches!(next, Next::Succeeded));
            entry.1 |= matches!(f.outcome, Outcome::Gone);
        }
        for (endpoint_id, (outcomes, gone)) in &per_endpoint {
            let failing_since = endpoints::record_endpoint_health(
                &txn,
                endpoint_id,
                outcomes,
                &self.settings.breaker,
                now,
            )
            .await?;
            if *gone {
                endpoints::disable_endpoint(
                    &txn,
                    endpoint_id,
                    "the endpoint answered 410 Gone",
                    now,
                )
                .await?;
                tracing::warn!(endpoint_id, "endpoint answered 410 Gone: disabled");
            } else if let Some(since) = failing_since
                && now
                    .signed_duration_since(since)
                    .to_std()
                    .unwrap_or_default()
                    >= self.settings.disable_after
            {
                endpoints::disable_endpoint(&txn, endpoint_id, "failing for too long", now).await?;
                tracing::warn!(endpoint_id, "endpoint failing for too long: disabled");
            }
        }
        txn.commit().await?;
        let mut settled = Tick::default();
        for ((f, next), held) in batch.iter().zip(&nexts).zip(&held) {
            let label = match (next, &f.outcome) {
                (Next::Succeeded, _) => "success",
                (_, Outcome::Gone) => "gone",
                (Next::Dead, _) => "dead",
                (Next::Retry(_), _) => "retry",
            };
            self.metrics
                .delivery_attempts
                .get_or_create(&crate::metrics::OutcomeLabels {
                    outcome: label.into(),
                })
                .inc();
            let d = &f.claimed.delivery;
            let span = tracing::info_span!("delivery", delivery_id = %d.id, event_id = %d.event_id, endpoint_id = %f.claimed.endpoint.id, attempt = d.attempts + 1);
            let _e = span.enter();
            match (next, held) {
                (_, false) => settled.lease_lost += 1,
                (Next::Succeeded, true) => settled.succeeded += 1,
                (Next::Retry(_), true) => settled.retrying += 1,
                (Next::Dead, true) => settled.dead += 1,
            }
            match (next, held) {
                (_, false) => tracing::warn!(
                    "lease lost before completion: another process owns this delivery now"
                ),
                (Next::Succeeded, true) => tracing::debug!("delivered"),
                (Next::Retry(at), true) => {
                    tracing::info!(status = ?f.result.status_code, error = ?f.result.error, next_attempt_at = %at, "delivery failed, will retry")
                }
                (Next::Dead, true) => {
                    tracing::warn!(status = ?f.result.status_code, error = ?f.result.error, "delivery dead")
                }
            }
        }
        Ok(settled)
    }
}

/// How many more sends may start. Finished sends leave the set only when joined, so
/// they are reaped here, every round: a dispatcher kept busy fanning out new events
/// otherwise saw no room to claim them until a quiet moment (hundreds of milliseconds
/// between an event and its delivery under steady load).
fn room(in_flight: &mut JoinSet<()>, concurrency: usize) -> usize {
    while in_flight.try_join_next().is_some() {}
    concurrency.saturating_sub(in_flight.len())
}

/// The SSRF refusal behind a failed request, if that is why it failed.
fn refused_by_ssrf(e: &reqwest::Error) -> Option<&ssrf::UrlError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(refusal) = s.downcast_ref::<ssrf::UrlError>() {
            return Some(refusal);
        }
        source = s.source();
    }
    None
}

/// The HTTP client webhooks are sent with: no redirects, names resolved once through
/// the SSRF filter (only the addresses it kept are connected to), no proxy, the
/// configured timeout.
pub(crate) fn http_client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    crate::install_crypto_provider();
    let resolver = ssrf::PinnedResolver::new(Arc::new(ssrf::SystemLookup), settings.allow_private);
    Ok(reqwest::Client::builder()
        // A redirect is a failure: following it could lead to an internal address.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver))
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("offboard/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Sends `payload` as the event `event_id` to the endpoint, signed, as every delivery
/// attempt is sent; never fails, the failure is the result.
pub(crate) async fn send_signed(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    endpoint: &entity::webhook_endpoints::Model,
    event_id: &str,
    payload: &serde_json::Value,
    started_at: DateTime<Utc>,
) -> (AttemptResult, Outcome) {
    let mut result = AttemptResult {
        started_at,
        duration_ms: 0,
        status_code: None,
        error: None,
        response_body: None,
    };
    let url = match ssrf::parse(&endpoint.url) {
        Ok(u) => u,
        Err(e) => {
            result.error = Some(e.to_string());
            return (result, Outcome::Failed(None));
        }
    };
    if let Err(e) = ssrf::check_literal(&url, settings.allow_private) {
        result.error = Some(e.to_string());
        return (result, Outcome::Failed(None));
    }
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(format!("payload: {e}"));
            return (result, Outcome::Failed(None));
        }
    };
    let timestamp = started_at.timestamp();
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(old), Some(until)) = (
        endpoint.previous_secret.as_deref(),
        endpoint.previous_secret_expires_at,
    ) && until > started_at
    {
        secrets.push(old);
    }
    let signature = match signature_header(&secrets, event_id, timestamp, &body) {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(e.to_string());
            return (result, Outcome::Failed(None));
        }
    };
    let response = client
        .post(url)
        .header(HEADER_ID, event_id)
        .header(HEADER_TIMESTAMP, timestamp.to_string())
        .header(HEADER_SIGNATURE, signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            let refused = refused_by_ssrf(&e);
            let kind = match refused {
                Some(why) => why.to_string(),
                None if e.is_timeout() => "timeout".into(),
                None if e.is_connect() => "connection failed".into(),
                None => "request failed".into(),
            };
            result.error = Some(kind);
            return (result, Outcome::Failed(None));
        }
    };
    let status = response.status();
    result.status_code = Some(i32::from(status.as_u16()));
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry::parse_retry_after);
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEEP {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_KEEP);
    result.response_body = Some(String::from_utf8_lossy(&kept).into_owned());
    let outcome = if status.is_success() {
        Outcome::Succeeded
    } else if status == reqwest::StatusCode::GONE {
        Outcome::Gone
    } else {
        result.error = Some(format!("HTTP {}", status.as_u16()));
        Outcome::Failed(retry_after)
    };
    (result, outcome)
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Succeeded,
    Gone,
    Failed(Option<Duration>),
}

impl Outcome {
    pub(crate) fn succeeded(self) -> bool {
        matches!(self, Outcome::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::Tick;

    #[test]
    fn every_ending_of_an_attempt_counts_as_one_attempt() {
        let t = Tick {
            fanned_out: 100,
            succeeded: 1,
            retrying: 2,
            dead: 4,
            lease_lost: 8,
        };
        assert_eq!(t.attempted(), 15, "fan-out is not an attempt");
        assert_eq!(Tick::default().attempted(), 0);
    }

    #[tokio::test]
    async fn a_finished_send_frees_its_slot_without_waiting_to_be_joined() {
        let mut in_flight = tokio::task::JoinSet::new();
        in_flight.spawn(async {});
        let (_hold, held) = tokio::sync::oneshot::channel::<()>();
        in_flight.spawn(async move {
            let _ = held.await;
        });
        // Let the first send finish; nothing joins it.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(super::room(&mut in_flight, 4), 3, "one send still runs");
        assert_eq!(in_flight.len(), 1);
    }
}
