//! When deleted data goes for good: the grace period before the purge, and the
//! per-organization retention of deactivated memberships.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// When data removed at `now` is to be erased. `None` means at once (no grace period).
pub fn purge_after(now: DateTime<Utc>, grace: Duration) -> Option<DateTime<Utc>> {
    if grace.is_zero() {
        return None;
    }
    // A grace period too large to represent is as good as forever.
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    Some(
        now.checked_add_signed(grace)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// Memberships INACTIVE since this instant or earlier are due for removal under a
/// retention of `retention_secs`. `None` for a retention of none (keep forever).
pub fn retention_cutoff(now: DateTime<Utc>, retention_secs: Option<i64>) -> Option<DateTime<Utc>> {
    let secs = retention_secs?;
    if secs < 0 {
        return None;
    }
    now.checked_sub_signed(chrono::Duration::try_seconds(secs)?)
}

/// The application's department that receives a removed user's resources. Department
/// ids belong to the application, so any `dept_` followed by 1 to 64 of `[A-Za-z0-9_-]`
/// is one (`dept_eng001`, `dept_01JDQ8…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentId(String);

/// The longest department id after `dept_`.
pub const MAX_DEPARTMENT_CHARS: usize = 64;

impl DepartmentId {
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix("dept_")?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if rest.is_empty() || rest.len() > MAX_DEPARTMENT_CHARS || !rest.chars().all(allowed) {
            return None;
        }
        Some(DepartmentId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn without_a_grace_period_data_goes_at_once() {
        assert_eq!(
            purge_after(at("2026-01-01T00:00:00Z"), Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_grace_period_delays_the_purge() {
        assert_eq!(
            purge_after(at("2026-01-01T00:00:00Z"), Duration::from_secs(86400)),
            Some(at("2026-01-02T00:00:00Z"))
        );
        assert_eq!(
            purge_after(at("2026-01-01T00:00:00Z"), Duration::MAX),
            Some(DateTime::<Utc>::MAX_UTC)
        );
    }

    #[test]
    fn retention_counts_back_from_now_and_none_keeps_forever() {
        let now = at("2026-01-31T00:00:00Z");
        assert_eq!(
            retention_cutoff(now, Some(30 * 86400)),
            Some(at("2026-01-01T00:00:00Z"))
        );
        assert_eq!(retention_cutoff(now, None), None);
        // A retention of zero removes what is inactive now; only a negative one is void.
        assert_eq!(retention_cutoff(now, Some(0)), Some(now));
        assert_eq!(retention_cutoff(now, Some(-1)), None);
        assert_eq!(retention_cutoff(now, Some(i64::MAX)), None);
    }

    #[test]
    fn department_ids_are_prefixed_ulids() {
        assert_eq!(
            DepartmentId::parse("dept_01JDQ8X2M4N6P8R0T2V4X6Z8A0").map(|d| d.as_str().to_owned()),
            Some("dept_01JDQ8X2M4N6P8R0T2V4X6Z8A0".to_owned())
        );
        for good in [
            "dept_eng001",
            "dept_1",
            "dept_a-b_C",
            &format!("dept_{}", "x".repeat(64)),
        ] {
            assert_eq!(
                DepartmentId::parse(good).map(|d| d.as_str().to_owned()),
                Some(good.to_owned())
            );
        }
        assert!(DepartmentId::parse("dept_").is_none());
        assert!(DepartmentId::parse(&format!("dept_{}", "x".repeat(65))).is_none());
        assert!(DepartmentId::parse("grp_01JDQ8X2M4N6P8R0T2V4X6Z8A0").is_none());
        assert!(DepartmentId::parse("dept_01JDQ8X2M4N6P8R0T2V4X6Z8A!").is_none());
        assert!(DepartmentId::parse("dept_a b").is_none());
        assert!(DepartmentId::parse("dept_é").is_none());
        assert!(DepartmentId::parse("DEPT_eng").is_none());
    }
}
