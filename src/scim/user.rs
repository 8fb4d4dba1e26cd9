//! The SCIM User resource as offboard serves it: one organization's record of an account.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::resource::Document;
use super::schema::USER_SCHEMA;

pub const MAX_USER_NAME_LEN: usize = 256;

/// A userName as a client sent it, checked; [`UserName::key`] is the form accounts are
/// matched on (Unicode NFC, lower case), so `Alice@X` and `alice@x` are one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ScimError::invalid_value("'userName' must not be empty"));
        }
        if trimmed.chars().count() > MAX_USER_NAME_LEN {
            return Err(ScimError::invalid_value(format!(
                "'userName' is longer than {MAX_USER_NAME_LEN} characters"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ScimError::invalid_value(
                "'userName' contains control characters",
            ));
        }
        Ok(UserName(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        normalize_key(&self.0)
    }
}

pub use crate::domain::text::{SearchKeys, fold, normalize_key};

/// What a validated create or replace request carries, split into what offboard acts on
/// (userName, externalId, active) and the record it stores.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub user_name: UserName,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    /// The document without `active`, which lives on the membership status.
    pub record: Document,
}

impl UserInput {
    pub fn from_document(mut doc: Document) -> Result<Self, ScimError> {
        let active = match doc.remove("active") {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        };
        let user_name = match doc.get("userName") {
            Some(Value::String(s)) => UserName::parse(s)?,
            _ => return Err(ScimError::invalid_value("'userName' is required")),
        };
        doc.insert(
            "userName".into(),
            Value::String(user_name.as_str().to_string()),
        );
        let external_id = doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(UserInput {
            user_name,
            external_id,
            active,
            record: doc,
        })
    }

    /// The primary (or first) email, for the account's admin view.
    pub fn primary_email(&self) -> Option<String> {
        primary_email(&self.record)
    }

    pub fn display_name(&self) -> Option<String> {
        if let Some(d) = self.record.get("displayName").and_then(Value::as_str) {
            return Some(d.to_string());
        }
        let name = self.record.get("name")?;
        if let Some(f) = name.get("formatted").and_then(Value::as_str) {
            return Some(f.to_string());
        }
        let parts: Vec<&str> = ["givenName", "familyName"]
            .iter()
            .filter_map(|k| name.get(*k).and_then(Value::as_str))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// The record's primary (or first) email.
pub fn primary_email(record: &Document) -> Option<String> {
    let emails = record.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The organization's view of a user as events carry it, from its record and its
/// membership's `status`. Attributes the schema does not declare are its
/// `custom_attributes`; the enterprise extension is `enterprise`.
pub fn event_view(
    user_name: Option<&str>,
    record: &Document,
    groups: Vec<crate::domain::events::GroupRef>,
    status: crate::domain::MembershipStatus,
) -> crate::domain::events::UserView {
    use super::schema::{ENTERPRISE_USER_SCHEMA, USER};
    let mut custom = Map::new();
    let mut enterprise = None;
    for (k, v) in record {
        if k.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            enterprise = Some(v.clone());
        } else if USER.core_attr(k).is_none() {
            custom.insert(k.clone(), v.clone());
        }
    }
    crate::domain::events::UserView {
        user_name: user_name.map(str::to_string),
        email: primary_email(record),
        name: record.get("name").cloned(),
        display_name: record
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::to_string),
        active: status.is_active(),
        status,
        groups,
        enterprise,
        custom_attributes: custom,
    }
}

/// Everything needed to render one User resource.
pub struct UserView<'a> {
    pub id: &'a str,
    pub record: &'a Document,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    pub location: String,
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl UserView<'_> {
    pub fn render(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "schemas".into(),
            super::custom::schemas_of(USER_SCHEMA, self.record),
        );
        out.insert("id".into(), Value::String(self.id.to_string()));
        for (k, v) in self.record {
            out.insert(k.clone(), v.clone());
        }
        out.insert("active".into(), Value::Bool(self.active));
        let mut meta = Map::new();
        meta.insert("resourceType".into(), Value::String("User".into()));
        meta.insert("created".into(), Value::String(format_time(self.created)));
        meta.insert(
            "lastModified".into(),
            Value::String(format_time(self.last_modified)),
        );
        meta.insert("location".into(), Value::String(self.location.clone()));
        meta.insert("version".into(), Value::String(etag(self.version)));
        out.insert("meta".into(), Value::Object(meta));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_match_case_and_normalization_insensitively() {
        let composed = UserName::parse("José@Example.com").expect("valid");
        let decomposed = UserName::parse("Jose\u{301}@EXAMPLE.com").expect("valid");
        assert_eq!(composed.key(), decomposed.key());
        assert!(UserName::parse("  ").is_err());
        assert!(UserName::parse("a\u{0}b").is_err());
        assert!(UserName::parse(&"x".repeat(MAX_USER_NAME_LEN + 1)).is_err());
    }
}
