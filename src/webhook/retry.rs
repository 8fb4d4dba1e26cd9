//! The retry policy as data: a schedule of delays, jitter, and a clamped `Retry-After`.

use std::time::Duration;

/// When to try again after failed attempt number `attempt` (1-based), or `None` when the
/// schedule is exhausted and the delivery is dead.
///
/// `jitter` is a factor in [-1, 1] (the caller draws it) spreading the delay by ±20 %, so
/// deliveries that failed together do not all come back together. A receiver's
/// `Retry-After` is honoured within bounds: never sooner than the scheduled delay, never
/// later than twice it, so a receiver can slow us down but not stall a delivery for days.
pub fn next_delay(
    schedule: &[Duration],
    attempt: u32,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    let base = *schedule.get(index)?;
    let jittered = base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Some(match retry_after {
        Some(wanted) => wanted.clamp(base, base.saturating_mul(2)),
        None => jittered,
    })
}

/// Parses `Retry-After` given in seconds (the HTTP-date form is ignored: the schedule
/// applies then).
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn each_attempt_takes_its_delay_and_then_the_delivery_dies() {
        let s = [secs(5), secs(300)];
        assert_eq!(next_delay(&s, 1, 0.0, None), Some(secs(5)));
        assert_eq!(next_delay(&s, 2, 0.0, None), Some(secs(300)));
        assert_eq!(next_delay(&s, 3, 0.0, None), None);
        assert_eq!(next_delay(&s, 0, 0.0, None), None);
    }

    #[test]
    fn jitter_spreads_by_twenty_percent_at_most() {
        let s = [secs(100)];
        assert_eq!(next_delay(&s, 1, 1.0, None), Some(secs(120)));
        assert_eq!(next_delay(&s, 1, -1.0, None), Some(secs(80)));
        assert_eq!(next_delay(&s, 1, 7.0, None), Some(secs(120)));
    }

    #[test]
    fn retry_after_is_honoured_between_the_delay_and_twice_it() {
        let s = [secs(100)];
        assert_eq!(next_delay(&s, 1, 0.5, Some(secs(150))), Some(secs(150)));
        assert_eq!(next_delay(&s, 1, 0.5, Some(secs(1))), Some(secs(100)));
        assert_eq!(next_delay(&s, 1, 0.5, Some(secs(86400))), Some(secs(200)));
        assert_eq!(parse_retry_after(" 120 "), Some(secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
