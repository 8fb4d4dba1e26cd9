//! A lock handed out fairly between parties: waiters queue per party, and each release
//! serves the next party in turn (round robin), each party's waiters in their order. It
//! guards this process's one SQLite writer slot: an organization that floods with
//! requests waits its turn behind another organization's single request instead of
//! ahead of it, so one tenant's burst does not become every tenant's latency.
//!
//! A waiter that gives up (its request timed out or was cancelled) loses nothing for the
//! others: the turn it was handed, or would have been, goes to the next.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

#[derive(Default)]
pub struct FairLock {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    held: bool,
    /// Parties with waiters, in the order they are served next, each with its waiters
    /// in arrival order.
    ring: VecDeque<(String, VecDeque<oneshot::Sender<Turn>>)>,
}

/// Holding the lock; dropping it hands the lock to the next party's first waiter.
pub struct Turn {
    lock: Arc<FairLock>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl FairLock {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing that runs under this mutex can panic halfway through a change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the lock as `party`.
    pub async fn acquire(self: &Arc<Self>, party: &str) -> Turn {
        loop {
            let waiting = {
                let mut s = self.state();
                if !s.held {
                    s.held = true;
                    return Turn { lock: self.clone() };
                }
                let (tx, rx) = oneshot::channel();
                match s.ring.iter_mut().find(|(p, _)| p == party) {
                    Some((_, waiters)) => waiters.push_back(tx),
                    None => s.ring.push_back((party.to_string(), VecDeque::from([tx]))),
                }
                rx
            };
            // A sender is only ever used to hand a turn over, so this is the turn; were it
            // dropped unsent, queueing again is still right.
            if let Ok(turn) = waiting.await {
                return turn;
            }
        }
    }

    /// Hands the lock to the next party's first waiter still waiting, or frees it.
    fn release(self: &Arc<Self>) {
        let mut s = self.state();
        while let Some((party, mut waiters)) = s.ring.pop_front() {
            let next = waiters.pop_front();
            if !waiters.is_empty() {
                s.ring.push_back((party, waiters));
            }
            let Some(tx) = next else { continue };
            match tx.send(Turn { lock: self.clone() }) {
                Ok(()) => return,
                // That waiter gave up: the turn was never held, so it is not released
                // (which would lock the state again); the next waiter gets it.
                Err(turn) => std::mem::forget(turn),
            }
        }
        s.held = false;
    }
}

/// How many write transactions one party may have open at once in this process on
/// PostgreSQL (the pool holds 10 connections by default).
pub const PARTY_WRITE_SLOTS: usize = 4;

/// Write slots per party: on PostgreSQL, where writers run side by side, a party has at
/// most [`PARTY_WRITE_SLOTS`] write transactions open in this process. One
/// organization's writes end in the same row locks (its guard, its event sequence), so
/// more would only wait for those locks, each holding a pooled connection; queued here
/// instead, a flood from one organization leaves the pool to the others.
#[derive(Default)]
pub struct PartySlots {
    parties: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl PartySlots {
    pub async fn acquire(&self, party: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let slots = {
            let mut parties = self.parties.lock().unwrap_or_else(PoisonError::into_inner);
            // Parties nobody holds or waits for are forgotten (one entry per token in use).
            if parties.len() > 1024 {
                parties.retain(|_, s| Arc::strong_count(s) > 1);
            }
            parties
                .entry(party.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PARTY_WRITE_SLOTS)))
                .clone()
        };
        // Never closed, so this is always a permit.
        slots.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Queues a waiter for `party` that records when it gets the lock, then holds it a
    /// moment.
    fn waiter(
        lock: &Arc<FairLock>,
        party: &'static str,
        order: &Arc<Mutex<Vec<&'static str>>>,
    ) -> tokio::task::JoinHandle<()> {
        let (lock, order) = (lock.clone(), order.clone());
        tokio::spawn(async move {
            let _turn = lock.acquire(party).await;
            order.lock().unwrap().push(party);
            tokio::time::sleep(Duration::from_millis(2)).await;
        })
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[tokio::test]
    async fn a_party_with_many_waiters_takes_turns_with_one_that_has_few() {
        let lock = Arc::new(FairLock::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = lock.acquire("noisy").await;
        let mut tasks = Vec::new();
        for _ in 0..3 {
            tasks.push(waiter(&lock, "noisy", &order));
            settle().await;
        }
        tasks.push(waiter(&lock, "quiet", &order));
        settle().await;
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        // In arrival order the quiet one would have come last.
        assert_eq!(
            *order.lock().unwrap(),
            vec!["noisy", "quiet", "noisy", "noisy"]
        );
    }

    #[tokio::test]
    async fn a_party_holds_at_most_its_slots_and_never_another_partys() {
        let slots = PartySlots::default();
        let mut held = Vec::new();
        for _ in 0..PARTY_WRITE_SLOTS {
            held.push(slots.acquire("noisy").await);
        }
        let more = tokio::time::timeout(Duration::from_millis(50), slots.acquire("noisy")).await;
        assert!(more.is_err(), "a slot past its share");
        let other = tokio::time::timeout(Duration::from_millis(50), slots.acquire("quiet")).await;
        assert!(other.is_ok_and(|p| p.is_some()));
        held.pop();
        let freed = tokio::time::timeout(Duration::from_secs(5), slots.acquire("noisy")).await;
        assert!(freed.is_ok_and(|p| p.is_some()));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_keep_the_lock_from_the_next() {
        let lock = Arc::new(FairLock::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = lock.acquire("a").await;
        let gives_up = {
            let lock = lock.clone();
            tokio::spawn(async move {
                let _ = lock.acquire("b").await;
            })
        };
        settle().await;
        let next = waiter(&lock, "c", &order);
        settle().await;
        gives_up.abort();
        settle().await;
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("the next waiter got the lock")
            .unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["c"]);
        // And the lock is free again.
        let again = tokio::time::timeout(Duration::from_secs(5), lock.acquire("a")).await;
        assert!(again.is_ok());
    }
}
