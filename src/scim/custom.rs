//! Custom attributes: what a client sends that the schema does not declare. An IdP admin
//! maps attributes offboard has never heard of (`costCenter` in an extension schema of
//! their own, `urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User`), or
//! a connector misspells a core one. Refusing them stops the IdP's provisioning of that
//! user, so they are kept: stored with the organization's record as sent (nulls
//! dropped), returned on GET, and reachable by PATCH paths. They are bounded: at most
//! [`MAX_CUSTOM_BYTES`] of JSON per record.
//!
//! Where they live in a document: an unknown top-level name under its own key, an
//! unknown attribute of a declared extension inside that extension's object, and an
//! undeclared extension under its URN.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::ResourceSchema;

/// The most JSON (in bytes) a record's custom attributes may hold.
pub const MAX_CUSTOM_BYTES: usize = 16 * 1024;

/// Where a custom attribute is, in a PATCH path or a body key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPath {
    /// The extension holding it; `None` at the top level.
    pub urn: Option<String>,
    /// `None`: the path names a whole undeclared extension.
    pub name: Option<String>,
}

/// RFC 7643 §2.1 ATTRNAME: a letter, then letters, digits, `-`, `_` (and `$`, which
/// `$ref` uses).
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
}

/// The resource type a schema URN ends with (`User` of `…:core:2.0:User`).
fn resource_type(schema: &ResourceSchema) -> &'static str {
    schema.core_urn.rsplit(':').next().unwrap_or_default()
}

impl CustomPath {
    /// A path to a custom attribute: `shoeSize`, `urn:…:Custom:2.0:User:costCenter`, or a
    /// whole undeclared extension `urn:…:Custom:2.0:User`. `None` for anything else
    /// (sub-attributes and value filters of custom attributes are not supported, and
    /// declared attributes are not custom).
    pub fn parse(input: &str, schema: &ResourceSchema) -> Option<Self> {
        let input = input.trim();
        if input.contains(['[', ']', ' ']) {
            return None;
        }
        if !input.to_ascii_lowercase().starts_with("urn:") {
            return (is_attr_name(input) && schema.core_attr(input).is_none()).then(|| {
                CustomPath {
                    urn: None,
                    name: Some(input.to_string()),
                }
            });
        }
        if input.eq_ignore_ascii_case(schema.core_urn) || schema.extension(input).is_some() {
            return None;
        }
        let (urn, last) = input.rsplit_once(':')?;
        if last.eq_ignore_ascii_case(resource_type(schema)) {
            return Some(CustomPath {
                urn: Some(input.to_string()),
                name: None,
            });
        }
        if !is_attr_name(last) || urn.matches(':').count() < 2 {
            return None;
        }
        let urn = match schema.extension(urn) {
            // An unknown attribute of a declared extension: not custom if declared.
            Some((declared, attrs)) => {
                if super::schema::find(attrs, last).is_some() {
                    return None;
                }
                declared.to_string()
            }
            None if urn.eq_ignore_ascii_case(schema.core_urn) => {
                return (schema.core_attr(last).is_none()).then(|| CustomPath {
                    urn: None,
                    name: Some(last.to_string()),
                });
            }
            None => urn.to_string(),
        };
        Some(CustomPath {
            urn: Some(urn),
            name: Some(last.to_string()),
        })
    }

    /// Sets the attribute (`add` and `replace` alike: custom attributes have no declared
    /// multiplicity to merge by); a null value removes it.
    pub fn set(&self, doc: &mut Map<String, Value>, value: &Value) -> Result<(), ScimError> {
        let Some(value) = without_nulls(value) else {
            self.remove(doc);
            return Ok(());
        };
        match (&self.urn, &self.name) {
            (None, Some(name)) => insert(doc, name, value),
            (Some(urn), None) => {
                if !value.is_object() {
                    return Err(ScimError::invalid_value(format!(
                        "'{urn}' must be an object"
                    )));
                }
                insert(doc, urn, value);
            }
            (Some(urn), Some(name)) => {
                let ext = entry_object(doc, urn)?;
                insert(ext, name, value);
            }
            (None, None) => {}
        }
        Ok(())
    }

    pub fn remove(&self, doc: &mut Map<String, Value>) {
        match (&self.urn, &self.name) {
            (None, Some(name)) | (Some(name), None) => {
                remove(doc, name);
            }
            (Some(urn), Some(name)) => {
                if let Some(key) = find_key(doc, urn)
                    && let Some(Value::Object(ext)) = doc.get_mut(&key)
                {
                    remove(ext, name);
                    if ext.is_empty() {
                        doc.remove(&key);
                    }
                }
            }
            (None, None) => {}
        }
    }
}

/// Attribute names are case-insensitive: an existing key of another case is the same
/// attribute.
fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn insert(map: &mut Map<String, Value>, name: &str, value: Value) {
    let key = find_key(map, name).unwrap_or_else(|| name.to_string());
    map.insert(key, value);
}

fn remove(map: &mut Map<String, Value>, name: &str) {
    if let Some(key) = find_key(map, name) {
        map.remove(&key);
    }
}

fn entry_object<'m>(
    doc: &'m mut Map<String, Value>,
    urn: &str,
) -> Result<&'m mut Map<String, Value>, ScimError> {
    let key = find_key(doc, urn).unwrap_or_else(|| urn.to_string());
    doc.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_value(format!("'{urn}' must be an object")))
}

/// The `schemas` of a rendered resource: its core schema, then every extension its record
/// holds (declared ones and custom ones alike), in the record's order.
pub fn schemas_of(core_urn: &str, record: &Map<String, Value>) -> Value {
    let mut schemas = vec![Value::String(core_urn.to_string())];
    schemas.extend(
        record
            .keys()
            .filter(|k| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")))
            .map(|k| Value::String(k.clone())),
    );
    Value::Array(schemas)
}

/// The value with every null dropped (RFC 7643 §2.5: null is unassigned); `None` when
/// nothing is left.
pub fn without_nulls(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(o) => {
            let kept: Map<String, Value> = o
                .iter()
                .filter_map(|(k, v)| without_nulls(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(a) => {
            let kept: Vec<Value> = a.iter().filter_map(without_nulls).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        Value::String(s) if s.is_empty() => None,
        other => Some(other.clone()),
    }
}

/// Refuses a record whose custom attributes are larger than [`MAX_CUSTOM_BYTES`].
pub fn check_size(custom: &[(&str, &Value)]) -> Result<(), ScimError> {
    let bytes: usize = custom
        .iter()
        .map(|(k, v)| k.len() + v.to_string().len())
        .sum();
    if bytes > MAX_CUSTOM_BYTES {
        return Err(ScimError::invalid_value(format!(
            "custom attributes may hold at most {MAX_CUSTOM_BYTES} bytes of JSON per record ({bytes} sent)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;
    use serde_json::json;

    const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn path(p: &str) -> Option<CustomPath> {
        CustomPath::parse(p, &USER)
    }

    #[test]
    fn custom_paths_are_undeclared_names_and_extensions() {
        assert_eq!(
            path("shoeSize"),
            Some(CustomPath {
                urn: None,
                name: Some("shoeSize".into())
            })
        );
        assert_eq!(
            path(&format!("{CUSTOM}:costCenter")),
            Some(CustomPath {
                urn: Some(CUSTOM.into()),
                name: Some("costCenter".into())
            })
        );
        assert_eq!(
            path(CUSTOM),
            Some(CustomPath {
                urn: Some(CUSTOM.into()),
                name: None
            })
        );
        assert_eq!(
            path(&format!("{ENTERPRISE}:badge")),
            Some(CustomPath {
                urn: Some(ENTERPRISE.into()),
                name: Some("badge".into())
            })
        );
        for not_custom in [
            "userName",
            "USERNAME",
            "name.givenName",
            "nosuch.attr",
            "emails[type eq \"work\"]",
            ENTERPRISE,
            &format!("{ENTERPRISE}:department"),
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "9lives",
            "a b",
            "urn:x",
            "",
        ] {
            assert_eq!(path(not_custom), None, "{not_custom}");
        }
    }

    #[test]
    fn setting_and_removing_keep_one_key_per_name_whatever_its_case() {
        let mut doc = Map::new();
        path("shoeSize").unwrap().set(&mut doc, &json!(44)).unwrap();
        path("SHOESIZE").unwrap().set(&mut doc, &json!(45)).unwrap();
        assert_eq!(Value::Object(doc.clone()), json!({"shoeSize": 45}));
        let cost = path(&format!("{CUSTOM}:costCenter")).unwrap();
        cost.set(&mut doc, &json!("CC-1")).unwrap();
        assert_eq!(doc[CUSTOM], json!({"costCenter": "CC-1"}));
        cost.remove(&mut doc);
        assert!(!doc.contains_key(CUSTOM), "an emptied extension goes");
        path("shoeSize")
            .unwrap()
            .set(&mut doc, &Value::Null)
            .unwrap();
        assert!(doc.is_empty());
        assert!(path(CUSTOM).unwrap().set(&mut doc, &json!("x")).is_err());
    }

    #[test]
    fn nulls_are_dropped_at_any_depth_and_size_is_bounded() {
        assert_eq!(
            without_nulls(&json!({"a": null, "b": [null, {"c": null}], "d": {"e": 1}})),
            Some(json!({"d": {"e": 1}}))
        );
        assert_eq!(without_nulls(&json!({"a": null})), None);
        let big = json!("x".repeat(MAX_CUSTOM_BYTES));
        assert!(check_size(&[("k", &big)]).is_err());
        let fits = json!("x".repeat(MAX_CUSTOM_BYTES - 10));
        assert!(check_size(&[("k", &fits)]).is_ok());
    }
}
