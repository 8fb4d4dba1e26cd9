//! The circuit breaker of an endpoint, as a pure function of its failure count and
//! clock: an endpoint that keeps failing (timeouts above all: each holds a slot for the
//! whole timeout) is given fewer chances, so it never takes slots from healthy ones.
//!
//! - Closed: up to the endpoint's `max_in_flight` deliveries at once.
//! - Open (after `threshold` failures in a row, for a cooldown that doubles with each
//!   further failure up to `max_cooldown`): nothing is sent.
//! - Half-open (the cooldown is over): one delivery at a time probes; a success closes
//!   the breaker, a failure opens it again for longer.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Breaker settings (configuration with defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub threshold: u32,
    pub base_cooldown: Duration,
    pub max_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            threshold: 5,
            base_cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open { until: DateTime<Utc> },
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open { .. } => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// An endpoint's breaker at `now`, and the deliveries it may have in flight when closed
/// (its own `max_in_flight`, else `default_slots`).
pub fn of_endpoint(
    policy: &Policy,
    consecutive_failures: i32,
    open_until: Option<DateTime<Utc>>,
    max_in_flight: Option<i32>,
    default_slots: u32,
    now: DateTime<Utc>,
) -> (State, u32) {
    let configured = max_in_flight
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(default_slots);
    (
        state(policy, consecutive_failures, open_until, now),
        configured,
    )
}

pub fn state(
    policy: &Policy,
    consecutive_failures: i32,
    open_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> State {
    if consecutive_failures < policy.threshold as i32 {
        return State::Closed;
    }
    match open_until {
        Some(until) if until > now => State::Open { until },
        _ => State::HalfOpen,
    }
}

/// How many deliveries may be in flight in `state` for an endpoint allowed `configured`.
pub fn slots(state: State, configured: u32) -> u32 {
    match state {
        State::Closed => configured.max(1),
        State::Open { .. } => 0,
        State::HalfOpen => 1,
    }
}

/// The breaker after an attempt: (failures in a row, open until).
pub fn after_attempt(
    policy: &Policy,
    consecutive_failures: i32,
    success: bool,
    now: DateTime<Utc>,
) -> (i32, Option<DateTime<Utc>>) {
    if success {
        return (0, None);
    }
    let failures = consecutive_failures.saturating_add(1);
    let over = failures - policy.threshold as i32;
    if over < 0 {
        return (failures, None);
    }
    let factor = 2u32.saturating_pow(over.min(30) as u32);
    let cooldown = policy
        .base_cooldown
        .saturating_mul(factor)
        .min(policy.max_cooldown);
    let until = now + chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::MAX);
    (failures, Some(until))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn states_have_their_wire_names() {
        let until = t0();
        assert_eq!(State::Closed.as_str(), "closed");
        assert_eq!(State::Open { until }.as_str(), "open");
        assert_eq!(State::HalfOpen.as_str(), "half_open");
    }

    #[test]
    fn the_breaker_is_half_open_from_the_instant_its_cooldown_ends() {
        let p = Policy::default();
        let f = p.threshold as i32;
        assert_eq!(state(&p, f, Some(t0()), t0()), State::HalfOpen);
        let later = t0() + chrono::Duration::milliseconds(1);
        assert_eq!(
            state(&p, f, Some(later), t0()),
            State::Open { until: later }
        );
    }

    #[test]
    fn failures_below_the_threshold_keep_the_breaker_closed() {
        let p = Policy::default();
        let mut f = 0;
        for _ in 0..4 {
            let (next, until) = after_attempt(&p, f, false, t0());
            assert_eq!(until, None);
            f = next;
        }
        assert_eq!(state(&p, f, None, t0()), State::Closed);
        assert_eq!(slots(State::Closed, 2), 2);
    }

    #[test]
    fn the_threshold_opens_it_and_each_further_failure_doubles_the_cooldown() {
        let p = Policy::default();
        let (f, until) = after_attempt(&p, 4, false, t0());
        assert_eq!(f, 5);
        assert_eq!(until, Some(t0() + chrono::Duration::seconds(10)));
        assert!(matches!(state(&p, f, until, t0()), State::Open { .. }));
        assert_eq!(slots(state(&p, f, until, t0()), 2), 0);
        let (_, until) = after_attempt(&p, 5, false, t0());
        assert_eq!(until, Some(t0() + chrono::Duration::seconds(20)));
        let (_, until) = after_attempt(&p, 40, false, t0());
        assert_eq!(until, Some(t0() + chrono::Duration::seconds(600)), "capped");
    }

    #[test]
    fn after_the_cooldown_one_probe_goes_and_a_success_closes_it() {
        let p = Policy::default();
        let later = t0() + chrono::Duration::seconds(11);
        let s = state(&p, 5, Some(t0() + chrono::Duration::seconds(10)), later);
        assert_eq!(s, State::HalfOpen);
        assert_eq!(slots(s, 4), 1);
        assert_eq!(after_attempt(&p, 5, true, later), (0, None));
    }
}
