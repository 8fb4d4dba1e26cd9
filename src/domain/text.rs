//! How names compare: the folded forms that userNames, display names and
//! case-insensitive filters are matched on, kept beside records so that indexes serve
//! those comparisons.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// A duration as people write it: `30 days`, `1 hour 30 minutes`, `0 seconds` (whole
/// seconds; under a second, milliseconds).
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.subsec_millis();
        return if ms == 0 {
            "0 seconds".into()
        } else {
            plural(u64::from(ms), "millisecond")
        };
    }
    let parts: Vec<String> = [
        (secs / 86_400, "day"),
        (secs % 86_400 / 3600, "hour"),
        (secs % 3600 / 60, "minute"),
        (secs % 60, "second"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| plural(n, unit))
    .collect();
    parts.join(" ")
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The comparison form of a userName.
pub fn normalize_key(s: &str) -> String {
    s.trim().nfc().collect::<String>().to_lowercase()
}

/// Text as case-insensitive filters compare it: NFC, lower case (not trimmed, so `co`,
/// `sw` and `ew` keep their meaning).
pub fn fold(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase()
}

/// The record's `name.givenName`, `name.familyName` and `displayName`, folded: what the
/// store keeps beside the record so filters on them use an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchKeys {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
}

impl SearchKeys {
    pub fn of(record: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(fold);
        let name = record.get("name");
        SearchKeys {
            given_name: text(name.and_then(|n| n.get("givenName"))),
            family_name: text(name.and_then(|n| n.get("familyName"))),
            display_name: text(record.get("displayName")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_people_write_them() {
        use std::time::Duration;
        assert_eq!(human_duration(Duration::from_secs(30 * 86_400)), "30 days");
        assert_eq!(human_duration(Duration::from_secs(86_400)), "1 day");
        assert_eq!(
            human_duration(Duration::from_secs(5400)),
            "1 hour 30 minutes"
        );
        assert_eq!(
            human_duration(Duration::from_secs(86_400 + 3600 + 61)),
            "1 day 1 hour 1 minute 1 second"
        );
        assert_eq!(human_duration(Duration::from_secs(59)), "59 seconds");
        assert_eq!(
            human_duration(Duration::from_millis(250)),
            "250 milliseconds"
        );
        assert_eq!(human_duration(Duration::ZERO), "0 seconds");
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn user_names_compare_trimmed_composed_and_lower_case() {
        // "É" decomposed (E + combining acute) and composed compare equal.
        assert_eq!(
            normalize_key("  Ame\u{301}lie@Example.COM "),
            "amélie@example.com"
        );
        assert_eq!(normalize_key("ÉVE"), normalize_key("e\u{301}ve"));
    }

    #[test]
    fn filter_text_folds_without_trimming() {
        assert_eq!(fold(" Jo\u{301}se "), " jóse ");
        assert_eq!(fold("ABC"), "abc");
    }

    #[test]
    fn search_keys_are_the_folded_names_of_the_record() {
        let keys = SearchKeys::of(&json!({
            "name": {"givenName": "Bärbel", "familyName": "O'NEIL"},
            "displayName": "Bärbel O'Neil",
        }));
        assert_eq!(
            keys,
            SearchKeys {
                given_name: Some("bärbel".into()),
                family_name: Some("o'neil".into()),
                display_name: Some("bärbel o'neil".into()),
            }
        );
        assert_eq!(
            SearchKeys::of(&json!({"name": {"givenName": 7}})),
            SearchKeys::default()
        );
    }
}
