//! How names compare: the folded forms that userNames, display names and
//! case-insensitive filters are matched on, kept beside records so that indexes serve
//! those comparisons.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

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
