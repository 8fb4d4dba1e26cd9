//! The deprovisioning guard: a brake on an IdP that deprovisions far more of an
//! organization than it ever should at once (an emptied assignment group, an inverted
//! sync rule). Pure rules: the organization's settings, and whether one more
//! SCIM-originated deprovisioning within the window is applied, held for an operator, or
//! (dry run) applied and reported.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// What a tripped guard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardMode {
    /// Deprovisionings past the threshold wait for an operator.
    Hold,
    /// Nothing is held; crossing the threshold is reported once per window.
    DryRun,
    Off,
}

impl GuardMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hold" => Some(GuardMode::Hold),
            "dry_run" => Some(GuardMode::DryRun),
            "off" => Some(GuardMode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GuardMode::Hold => "hold",
            GuardMode::DryRun => "dry_run",
            GuardMode::Off => "off",
        }
    }
}

/// An organization's `deprovision_guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    pub mode: GuardMode,
    /// It trips only above this many deprovisionings within the window…
    pub max_count: u32,
    /// …that are also above this share (percent) of the members active at its start.
    pub max_percent: u8,
    pub window: Duration,
}

impl Default for GuardSettings {
    /// On: 20 and 10 % within an hour.
    fn default() -> Self {
        GuardSettings {
            mode: GuardMode::Hold,
            max_count: 20,
            max_percent: 10,
            window: Duration::from_secs(3600),
        }
    }
}

/// The longest window: a guard counting over more than a week brakes ordinary churn.
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("deprovision_guard must be an object")]
    NotObject,
    #[error("deprovision_guard.{0} is not a setting (mode, max_count, max_percent, window)")]
    Unknown(String),
    #[error("deprovision_guard.mode must be \"hold\", \"dry_run\" or \"off\"")]
    Mode,
    #[error("deprovision_guard.max_count must be an integer from 0 to 1000000")]
    MaxCount,
    #[error("deprovision_guard.max_percent must be an integer from 0 to 100")]
    MaxPercent,
    #[error("deprovision_guard.window must be a duration from 1m to 7d (e.g. \"1h\")")]
    Window,
}

impl GuardSettings {
    /// Applies the fields present in `changes` (a partial `deprovision_guard` object) to
    /// these settings; anything unknown, mistyped or out of range is refused whole.
    pub fn with_changes(self, changes: &Value) -> Result<Self, GuardError> {
        let fields: &Map<String, Value> = changes.as_object().ok_or(GuardError::NotObject)?;
        let mut next = self;
        for (k, v) in fields {
            match k.as_str() {
                "mode" => {
                    next.mode = v
                        .as_str()
                        .and_then(GuardMode::parse)
                        .ok_or(GuardError::Mode)?
                }
                "max_count" => {
                    next.max_count = v
                        .as_u64()
                        .filter(|n| *n <= 1_000_000)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or(GuardError::MaxCount)?
                }
                "max_percent" => {
                    next.max_percent = v
                        .as_u64()
                        .filter(|n| *n <= 100)
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or(GuardError::MaxPercent)?
                }
                "window" => {
                    next.window = v
                        .as_str()
                        .and_then(|s| humantime::parse_duration(s.trim()).ok())
                        .filter(|d| *d >= Duration::from_secs(60) && *d <= MAX_WINDOW)
                        .ok_or(GuardError::Window)?
                }
                other => return Err(GuardError::Unknown(other.chars().take(64).collect())),
            }
        }
        Ok(next)
    }

    /// Whether `count` deprovisionings within the window (this one included) exceed both
    /// thresholds, `active_at_start` members being active when the window began.
    pub fn exceeded(&self, count: u64, active_at_start: u64) -> bool {
        count > u64::from(self.max_count)
            && count.saturating_mul(100) > u64::from(self.max_percent) * active_at_start
    }

    /// What happens to one more SCIM-originated deprovisioning: `count` within the window
    /// with it, `holding` whether deprovisionings are already held (a tripped guard
    /// holds every further one until an operator resolves them), `reported` whether a
    /// dry run already reported this window.
    pub fn decide(
        &self,
        count: u64,
        active_at_start: u64,
        holding: bool,
        reported: bool,
    ) -> Decision {
        match self.mode {
            GuardMode::Off => Decision::Apply,
            GuardMode::Hold if holding => Decision::Hold { trips: false },
            GuardMode::Hold if self.exceeded(count, active_at_start) => {
                Decision::Hold { trips: true }
            }
            GuardMode::DryRun if !reported && self.exceeded(count, active_at_start) => {
                Decision::ApplyAndReport
            }
            GuardMode::Hold | GuardMode::DryRun => Decision::Apply,
        }
    }
}

/// The guard's answer for one deprovisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// Not applied: recorded for an operator. `trips` for the one that crossed the
    /// threshold (`deprovision_guard.tripped`).
    Hold {
        trips: bool,
    },
    /// Dry run: applied, and `deprovision_guard.would_trip` reported (once a window).
    ApplyAndReport,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_trips_only_above_both_thresholds() {
        let g = GuardSettings::default();
        // 100 active: 10 % is 10, but the count threshold (20) is higher.
        assert!(!g.exceeded(20, 100));
        assert!(g.exceeded(21, 100));
        // 1,000 active: 21 is only 2.1 %; the share decides, strictly above 10 %.
        assert!(!g.exceeded(21, 1000));
        assert!(!g.exceeded(100, 1000));
        assert!(g.exceeded(101, 1000));
        // A small organization: every member gone is 100 %, but never above 20.
        assert!(!g.exceeded(15, 15));
    }

    #[test]
    fn a_tripped_guard_holds_everything_after_until_resolved() {
        let g = GuardSettings::default();
        assert_eq!(g.decide(20, 100, false, false), Decision::Apply);
        assert_eq!(
            g.decide(21, 100, false, false),
            Decision::Hold { trips: true }
        );
        // Held already: the next one is held without tripping again, even a count
        // that alone would not trip.
        assert_eq!(
            g.decide(1, 100, true, false),
            Decision::Hold { trips: false }
        );
    }

    #[test]
    fn dry_run_applies_and_reports_once_a_window_and_off_applies() {
        let dry = GuardSettings {
            mode: GuardMode::DryRun,
            ..GuardSettings::default()
        };
        assert_eq!(dry.decide(21, 100, false, false), Decision::ApplyAndReport);
        assert_eq!(dry.decide(22, 100, false, true), Decision::Apply);
        assert_eq!(dry.decide(20, 100, false, false), Decision::Apply);
        let off = GuardSettings {
            mode: GuardMode::Off,
            ..GuardSettings::default()
        };
        assert_eq!(off.decide(1000, 100, true, false), Decision::Apply);
    }

    #[test]
    fn settings_change_field_by_field_and_refuse_anything_else_whole() {
        let g = GuardSettings::default()
            .with_changes(&json!({"mode": "dry_run", "window": "30m"}))
            .unwrap();
        assert_eq!(g.mode, GuardMode::DryRun);
        assert_eq!(g.window, Duration::from_secs(1800));
        assert_eq!(g.max_count, 20, "untouched");
        let g = g
            .with_changes(&json!({"max_count": 0, "max_percent": 100}))
            .unwrap();
        assert_eq!((g.max_count, g.max_percent), (0, 100));
        for (bad, err) in [
            (json!([]), GuardError::NotObject),
            (json!({"mode": "panic"}), GuardError::Mode),
            (json!({"mode": null}), GuardError::Mode),
            (json!({"max_count": -1}), GuardError::MaxCount),
            (json!({"max_count": 1.5}), GuardError::MaxCount),
            (json!({"max_count": 1_000_001}), GuardError::MaxCount),
            (json!({"max_percent": 101}), GuardError::MaxPercent),
            (json!({"max_percent": "10"}), GuardError::MaxPercent),
            (json!({"window": "59s"}), GuardError::Window),
            (json!({"window": "8d"}), GuardError::Window),
            (json!({"window": "soon"}), GuardError::Window),
            (
                json!({"windows": "1h"}),
                GuardError::Unknown("windows".into()),
            ),
        ] {
            assert_eq!(
                GuardSettings::default().with_changes(&bad),
                Err(err),
                "{bad}"
            );
        }
        // The edges of the ranges are accepted.
        let g = GuardSettings::default()
            .with_changes(&json!({"window": "1m", "max_count": 1_000_000}))
            .unwrap();
        assert_eq!(g.window, Duration::from_secs(60));
        let g = g.with_changes(&json!({"window": "7d"})).unwrap();
        assert_eq!(g.window, MAX_WINDOW);
    }
}
