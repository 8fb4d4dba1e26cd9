//! Validation of resource bodies against their schema: the edge where a client's JSON
//! becomes a canonical document (canonical attribute names, checked types, no read-only
//! or write-only attributes). Everything behind it trusts the document's shape.

use serde_json::{Map, Value};

use super::custom::CustomPath;
use super::error::ScimError;
use super::schema::{Attr, AttrType, Mutability, ResourceSchema, find};

/// A resource document in canonical form, without `id`, `meta` and `schemas`.
pub type Document = Map<String, Value>;

/// A value's identity for de-duplication: its JSON text (objects' keys are sorted, so
/// equal values have equal text). Hashing it keeps de-duplication linear.
pub fn value_key(v: &Value) -> String {
    v.to_string()
}

pub fn too_many_values(attr: &Attr) -> ScimError {
    ScimError::invalid_value(format!(
        "'{}' may hold at most {} values",
        attr.name, attr.max_values
    ))
}

/// Turns a POST/PUT body (or a patched document) into canonical form. Read-only
/// attributes are ignored as RFC 7644 §3.5.1 says for PUT; `password` is dropped because
/// offboard never keeps one.
pub fn canonicalize(schema: &ResourceSchema, input: &Value) -> Result<Document, ScimError> {
    let mut custom = Vec::new();
    let out = canonicalize_into(schema, input, &mut custom)?;
    let sized: Vec<(&str, &Value)> = custom.iter().map(|(k, v)| (k.as_str(), v)).collect();
    super::custom::check_size(&sized)?;
    Ok(out)
}

/// `canonicalize`, collecting the custom attributes it keeps (see `custom`).
fn canonicalize_into(
    schema: &ResourceSchema,
    input: &Value,
    custom: &mut Vec<(String, Value)>,
) -> Result<Document, ScimError> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    let mut out = Document::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if key.to_ascii_lowercase().starts_with("urn:") {
            if key.eq_ignore_ascii_case(schema.core_urn) {
                let inner = canonicalize_into(schema, value, custom)?;
                out.extend(inner);
                continue;
            }
            let Some((urn, attrs)) = schema.extension(key) else {
                // An extension schema this server does not declare: kept as sent.
                let path = CustomPath::parse(key, schema).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("unknown schema extension '{key}'"))
                })?;
                keep(&mut out, custom, &path, key, value)?;
                continue;
            };
            if value.is_null() {
                continue;
            }
            let ext = value
                .as_object()
                .ok_or_else(|| ScimError::invalid_value(format!("'{urn}' must be an object")))?;
            let mut ext_out = Map::new();
            for (k, v) in ext {
                match find(attrs, k) {
                    Some(attr) => put(&mut ext_out, attr, v)?,
                    None => {
                        let path =
                            CustomPath::parse(&format!("{urn}:{k}"), schema).ok_or_else(|| {
                                ScimError::invalid_syntax(format!(
                                    "unknown attribute '{k}' in '{urn}'"
                                ))
                            })?;
                        keep(
                            &mut ext_out,
                            custom,
                            &CustomPath { urn: None, ..path },
                            k,
                            v,
                        )?;
                    }
                }
            }
            if !ext_out.is_empty() {
                out.insert(urn.to_string(), Value::Object(ext_out));
            }
            continue;
        }
        match schema.core_attr(key) {
            Some(attr) => put(&mut out, attr, value)?,
            None => {
                let path = CustomPath::parse(key, schema).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("unknown attribute '{key}'"))
                })?;
                keep(&mut out, custom, &path, key, value)?;
            }
        }
    }
    Ok(out)
}

/// Keeps a custom attribute (see `custom`) and notes it for the size bound.
fn keep(
    out: &mut Map<String, Value>,
    custom: &mut Vec<(String, Value)>,
    path: &CustomPath,
    key: &str,
    value: &Value,
) -> Result<(), ScimError> {
    path.set(out, value)?;
    if let Some(v) = super::custom::without_nulls(value) {
        custom.push((key.to_string(), v));
    }
    Ok(())
}

fn put(out: &mut Map<String, Value>, attr: &'static Attr, value: &Value) -> Result<(), ScimError> {
    if matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) {
        return Ok(());
    }
    if let Some(v) = coerce(attr, value)? {
        out.insert(attr.name.to_string(), v);
    }
    Ok(())
}

/// Checks and converts one attribute value; `None` means unassigned (null or empty).
pub fn coerce(attr: &Attr, value: &Value) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi {
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            single => vec![single],
        };
        if items.len() > attr.max_values {
            return Err(too_many_values(attr));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(attr, item)?
                && seen.insert(value_key(&v))
            {
                out.push(v);
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    coerce_single(attr, value)
}

fn coerce_single(attr: &Attr, value: &Value) -> Result<Option<Value>, ScimError> {
    // RFC 7643 §2.5: null is unassigned, at any depth (`"name": {"honorificPrefix": null}`).
    if value.is_null() {
        return Ok(None);
    }
    let wrong =
        |expected: &str| ScimError::invalid_value(format!("'{}' must be {expected}", attr.name));
    Ok(Some(match attr.ty {
        AttrType::Complex => {
            let obj = match value {
                Value::Object(o) => o.clone(),
                // Entra sends `manager` as a bare id; it is the `value` sub-attribute.
                Value::String(_) if find(attr.sub, "value").is_some() => {
                    let mut o = Map::new();
                    o.insert("value".into(), value.clone());
                    o
                }
                _ => return Err(wrong("an object")),
            };
            let mut out = Map::new();
            for (k, v) in &obj {
                let sub = find(attr.sub, k).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("unknown attribute '{}.{k}'", attr.name))
                })?;
                if let Some(v) = coerce_single(sub, v)? {
                    out.insert(sub.name.to_string(), v);
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        AttrType::Boolean => match value {
            Value::Bool(b) => Value::Bool(*b),
            // Entra sends "True"/"False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("a boolean")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() => value.clone(),
            _ => return Err(wrong("an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(wrong("a number")),
        },
        AttrType::DateTime => match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => value.clone(),
            _ => return Err(wrong("an RFC 3339 date-time")),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(_) => value.clone(),
            _ => return Err(wrong("a string")),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER};
    use serde_json::json;

    #[test]
    fn names_are_canonicalized_and_read_only_attributes_dropped() {
        let doc = canonicalize(
            &USER,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "client-chosen",
                "USERNAME": "a@example.com",
                "Active": "False",
                "password": "hunter2",
                "groups": [],
                "meta": {"resourceType": "User"},
                "emails": {"Value": "a@example.com", "type": "work"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"manager": "usr_9"}
            }),
        )
        .expect("valid");
        assert_eq!(
            Value::Object(doc),
            json!({
                "userName": "a@example.com",
                "active": false,
                "emails": [{"value": "a@example.com", "type": "work"}],
                ENTERPRISE_USER_SCHEMA: {"manager": {"value": "usr_9"}}
            })
        );
    }

    #[test]
    fn null_anywhere_is_unassigned_and_an_empty_list_is_none() {
        let doc = canonicalize(
            &USER,
            &json!({
                "userName": "a@example.com",
                "title": null,
                "roles": [],
                "name": {"givenName": "Ann", "honorificPrefix": null},
                "addresses": [
                    {"country": null, "locality": null, "type": "other"},
                    {"country": null},
                    null
                ],
                "emails": [null, {"value": "a@example.com", "display": null}]
            }),
        )
        .expect("nulls are unassigned values");
        assert_eq!(
            Value::Object(doc),
            json!({
                "userName": "a@example.com",
                "name": {"givenName": "Ann"},
                "addresses": [{"type": "other"}],
                "emails": [{"value": "a@example.com"}]
            })
        );
    }

    #[test]
    fn wrong_types_and_unknown_attributes_are_rejected() {
        let e = canonicalize(&USER, &json!({"userName": 5})).expect_err("number");
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidValue)
        );
        let e = canonicalize(&USER, &json!({"active": "yes"})).expect_err("bool");
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidValue)
        );
        // An unknown attribute is kept (see `custom`); a name that cannot be one is not.
        let kept = canonicalize(&USER, &json!({"shoeSize": 9})).expect("custom");
        assert_eq!(kept["shoeSize"], json!(9));
        let e = canonicalize(&USER, &json!({"shoe size": 9})).expect_err("not a name");
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidSyntax)
        );
        assert!(canonicalize(&USER, &json!([1])).is_err());
    }
}
