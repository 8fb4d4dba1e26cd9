//! PATCH requests (RFC 7644 §3.5.2) in every dialect the IdPs send: case-insensitive op
//! names, no-path value objects (with dotted and URN keys), value filters that create the
//! element they name when it is missing (Entra), and removal of listed values.
//!
//! A request is parsed whole before anything is applied, and it is applied to a copy, so
//! it takes effect entirely or not at all.

use serde_json::{Map, Value};

use super::custom::CustomPath;
use super::error::ScimError;
use super::filter::Filter;
use super::path::PatchPath;
use super::resource::{Document, canonicalize, coerce, too_many_values, value_key};
use super::schema::{Attr, AttrType, Mutability, ResourceSchema, Scope, find};

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// More operations than any IdP sends in one request; a bound against abuse.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    /// A path to a custom attribute (see `custom`) instead of a declared one.
    pub custom: Option<CustomPath>,
    pub value: Option<Value>,
}

/// A parsed PATCH request.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

impl PatchRequest {
    pub fn parse(body: &Value, schema: &ResourceSchema) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
        let schemas_ok = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
            .and_then(|(_, v)| v.as_array())
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain {PATCH_SCHEMA}"
            )));
        }
        let ops = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .and_then(|(_, v)| v.as_array())
            .ok_or_else(|| ScimError::invalid_syntax("'Operations' must be an array"))?;
        if ops.is_empty() {
            return Err(ScimError::invalid_syntax("'Operations' is empty"));
        }
        if ops.len() > MAX_OPERATIONS {
            return Err(ScimError::new(
                413,
                Some(super::error::ScimType::TooMany),
                format!("more than {MAX_OPERATIONS} operations"),
            ));
        }
        let mut operations = Vec::with_capacity(ops.len());
        for op in ops {
            operations.push(parse_operation(op, schema)?);
        }
        Ok(PatchRequest { operations })
    }

    /// Applies every operation to a copy of `doc`; the result is validated again so a
    /// patched document is as canonical as a created one.
    pub fn apply(&self, schema: &ResourceSchema, doc: &Document) -> Result<Document, ScimError> {
        let mut work = doc.clone();
        for op in &self.operations {
            apply_operation(schema, &mut work, op)?;
        }
        canonicalize(schema, &Value::Object(work))
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn parse_operation(op: &Value, schema: &ResourceSchema) -> Result<Operation, ScimError> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("each operation must be an object"))?;
    let kind = match field(obj, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(s) => return Err(ScimError::invalid_syntax(format!("unknown op '{s}'"))),
        None => return Err(ScimError::invalid_syntax("operation without 'op'")),
    };
    let mut custom = None;
    let path = match field(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => match PatchPath::parse(p, schema) {
            Ok(path) => Some(path),
            Err(e) => {
                custom = Some(CustomPath::parse(p, schema).ok_or(e)?);
                None
            }
        },
        Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
    };
    if let Some(custom) = custom {
        let value = field(obj, "value").cloned().filter(|v| !v.is_null());
        if kind != OpKind::Remove
            && value.is_none()
            && !matches!(field(obj, "value"), Some(Value::Null))
        {
            return Err(ScimError::invalid_value(
                "'add' and 'replace' need a 'value'",
            ));
        }
        return Ok(Operation {
            kind,
            path: None,
            custom: Some(custom),
            value,
        });
    }
    let explicit_null = matches!(field(obj, "value"), Some(Value::Null));
    let value = field(obj, "value").cloned().filter(|v| !v.is_null());
    // RFC 7643 §2.5: null is unassigned. Replacing a path with null removes it.
    let kind = match (kind, &path) {
        (OpKind::Replace, Some(_)) if explicit_null => OpKind::Remove,
        _ => kind,
    };
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::no_target("'remove' needs a 'path'")),
        (OpKind::Add | OpKind::Replace, _, None) => Err(ScimError::invalid_value(
            "'add' and 'replace' need a 'value'",
        )),
        (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => Err(
            ScimError::invalid_value("without a 'path', 'value' must be an object"),
        ),
        _ => Ok(Operation {
            kind,
            path,
            custom: None,
            value,
        }),
    }
}

fn apply_operation(
    schema: &ResourceSchema,
    doc: &mut Document,
    op: &Operation,
) -> Result<(), ScimError> {
    if let Some(custom) = &op.custom {
        return match (op.kind, &op.value) {
            (OpKind::Remove, _) | (_, None) => {
                custom.remove(doc);
                Ok(())
            }
            (_, Some(v)) => custom.set(doc, v),
        };
    }
    match &op.path {
        Some(path) => {
            check_writable(path)?;
            apply_at(schema, doc, op.kind, path, op.value.as_ref())
        }
        None => {
            let Some(Value::Object(value)) = &op.value else {
                return Err(ScimError::invalid_value("'value' must be an object"));
            };
            apply_object(schema, doc, op.kind, None, value)
        }
    }
}

/// A no-path `add`/`replace`: every key of the value object is a path of its own
/// (`"active"`, `"name.givenName"`, `"urn:…:User:department"`, or an extension URN whose
/// value is an object of that extension's attributes).
fn apply_object(
    schema: &ResourceSchema,
    doc: &mut Document,
    kind: OpKind,
    within: Option<&'static str>,
    value: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (key, v) in value {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let full = match within {
            Some(urn) => format!("{urn}:{key}"),
            None => key.clone(),
        };
        let path = match PatchPath::parse(&full, schema) {
            Ok(path) => path,
            Err(e) => {
                CustomPath::parse(&full, schema).ok_or(e)?.set(doc, v)?;
                continue;
            }
        };
        if path.attr.is_none() {
            let Value::Object(inner) = v else {
                return Err(ScimError::invalid_value(format!(
                    "'{key}' must be an object"
                )));
            };
            let Scope::Extension(urn) = path.scope else {
                return Err(ScimError::invalid_path(format!("invalid path '{key}'")));
            };
            apply_object(schema, doc, kind, Some(urn), inner)?;
            continue;
        }
        // Read-only attributes in a value object are ignored, as in a PUT: Okta's rename
        // PATCH carries the resource's own `id`.
        if is_read_only(&path) {
            continue;
        }
        apply_at(schema, doc, kind, &path, Some(v))?;
    }
    Ok(())
}

fn is_read_only(path: &PatchPath) -> bool {
    path.attr
        .is_some_and(|a| a.mutability == Mutability::ReadOnly)
        || path
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly)
}

fn check_writable(path: &PatchPath) -> Result<(), ScimError> {
    if is_read_only(path) {
        let name = path.attr.map(|a| a.name).unwrap_or_default();
        return Err(ScimError::mutability(format!("'{name}' is read-only")));
    }
    if path
        .attr
        .is_some_and(|a| a.mutability == Mutability::Immutable)
    {
        return Err(ScimError::mutability("the attribute is immutable"));
    }
    Ok(())
}

/// The object holding the path's attribute: the document or its extension object.
fn container(doc: &mut Document, scope: Scope) -> Result<&mut Map<String, Value>, ScimError> {
    match scope {
        Scope::Core => Ok(doc),
        Scope::Extension(urn) => {
            let entry = doc
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            entry
                .as_object_mut()
                .ok_or_else(|| ScimError::invalid_value(format!("'{urn}' must be an object")))
        }
    }
}

fn apply_at(
    schema: &ResourceSchema,
    doc: &mut Document,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(attr) = path.attr else {
        // The whole extension.
        let Scope::Extension(urn) = path.scope else {
            return Err(ScimError::invalid_path("invalid path"));
        };
        return match (kind, value) {
            (OpKind::Remove, _) => {
                doc.remove(urn);
                Ok(())
            }
            (OpKind::Replace, Some(Value::Object(v))) => {
                doc.remove(urn);
                apply_object(schema, doc, OpKind::Add, Some(urn), v)
            }
            (OpKind::Add, Some(Value::Object(v))) => {
                apply_object(schema, doc, OpKind::Add, Some(urn), v)
            }
            _ => Err(ScimError::invalid_value(format!(
                "'{urn}' must be an object"
            ))),
        };
    };
    // The `password` attribute is accepted and discarded: offboard never keeps one.
    if attr.mutability == Mutability::WriteOnly {
        return Ok(());
    }
    let target = container(doc, path.scope)?;
    if let Some(filter) = &path.filter {
        return apply_filtered(target, kind, attr, filter, path.sub, value);
    }
    match (kind, path.sub) {
        (OpKind::Remove, None) => {
            match (value, attr.multi) {
                // Remove exactly the listed values (Entra's dialect for members).
                (Some(v), true) => remove_listed(target, attr, v)?,
                _ => {
                    target.remove(attr.name);
                }
            }
            Ok(())
        }
        (OpKind::Remove, Some(sub)) => {
            if attr.multi {
                return Err(ScimError::invalid_path(format!(
                    "'{}.{}' needs a value filter",
                    attr.name, sub.name
                )));
            }
            if let Some(Value::Object(o)) = target.get_mut(attr.name) {
                o.remove(sub.name);
            }
            Ok(())
        }
        (_, Some(sub)) => {
            if attr.multi {
                return Err(ScimError::invalid_path(format!(
                    "'{}.{}' needs a value filter",
                    attr.name, sub.name
                )));
            }
            let v = value.ok_or_else(|| ScimError::invalid_value("missing 'value'"))?;
            let slot = target
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let obj = slot.as_object_mut().ok_or_else(|| {
                ScimError::invalid_value(format!("'{}' is not complex", attr.name))
            })?;
            match coerce(sub, v)? {
                Some(v) => obj.insert(sub.name.to_string(), v),
                None => obj.remove(sub.name),
            };
            Ok(())
        }
        (_, None) => {
            let v = value.ok_or_else(|| ScimError::invalid_value("missing 'value'"))?;
            let new = coerce(attr, v)?;
            match (kind, attr.multi, attr.ty, new) {
                (_, _, _, None) => {
                    if kind == OpKind::Replace {
                        target.remove(attr.name);
                    }
                }
                (OpKind::Add, true, _, Some(Value::Array(items))) => {
                    let slot = target
                        .entry(attr.name.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(existing) = slot {
                        let mut seen: std::collections::HashSet<String> =
                            existing.iter().map(value_key).collect();
                        for item in items {
                            if seen.insert(value_key(&item)) {
                                existing.push(item);
                            }
                        }
                        if existing.len() > attr.max_values {
                            return Err(too_many_values(attr));
                        }
                    }
                }
                // Complex single-valued: the given sub-attributes replace or add, the
                // others stay (RFC 7644 §3.5.2.1 and §3.5.2.3).
                (_, false, AttrType::Complex, Some(Value::Object(sub))) => {
                    let slot = target
                        .entry(attr.name.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    match slot {
                        Value::Object(o) => o.extend(sub),
                        other => *other = Value::Object(sub),
                    }
                }
                (_, _, _, Some(v)) => {
                    target.insert(attr.name.to_string(), v);
                }
            }
            Ok(())
        }
    }
}

fn remove_listed(
    target: &mut Map<String, Value>,
    attr: &Attr,
    listed: &Value,
) -> Result<(), ScimError> {
    let listed = coerce(attr, listed)?.unwrap_or(Value::Array(Vec::new()));
    let listed: Vec<Value> = listed.as_array().cloned().unwrap_or_default();
    let key = |v: &Value| value_key(v.get("value").unwrap_or(v));
    let keys: std::collections::HashSet<String> = listed.iter().map(key).collect();
    if let Some(Value::Array(existing)) = target.get_mut(attr.name) {
        existing.retain(|e| !keys.contains(&key(e)));
        if existing.is_empty() {
            target.remove(attr.name);
        }
    }
    Ok(())
}

fn apply_filtered(
    target: &mut Map<String, Value>,
    kind: OpKind,
    attr: &'static Attr,
    filter: &Filter,
    sub: Option<&'static Attr>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // Which elements the filter selects, read in place (no copy of the document).
    let matching: Vec<usize> = match target.get(attr.name) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter(|(_, e)| filter.matches(e))
            .map(|(i, _)| i)
            .collect(),
        Some(v @ Value::Object(_)) if filter.matches(v) => vec![0],
        _ => Vec::new(),
    };
    if kind == OpKind::Remove {
        if matching.is_empty() {
            return Err(ScimError::no_target(format!(
                "no value of '{}' matches the filter",
                attr.name
            )));
        }
        if let Some(Value::Array(items)) = target.get_mut(attr.name) {
            let hits: std::collections::HashSet<usize> = matching.iter().copied().collect();
            let mut i = 0;
            items.retain_mut(|e| {
                let hit = hits.contains(&i);
                i += 1;
                match (hit, sub) {
                    (false, _) => true,
                    (true, None) => false,
                    (true, Some(s)) => {
                        if let Value::Object(o) = e {
                            o.remove(s.name);
                        }
                        true
                    }
                }
            });
            if items.is_empty() {
                target.remove(attr.name);
            }
        }
        return Ok(());
    }
    let v = value.ok_or_else(|| ScimError::invalid_value("missing 'value'"))?;
    let update: Map<String, Value> = match sub {
        Some(s) => {
            let mut m = Map::new();
            if let Some(v) = coerce(s, v)? {
                m.insert(s.name.to_string(), v);
            }
            m
        }
        None => match v {
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, val) in o {
                    let s = find(attr.sub, k).ok_or_else(|| {
                        ScimError::invalid_syntax(format!("unknown attribute '{}.{k}'", attr.name))
                    })?;
                    if let Some(val) = coerce(s, val)? {
                        m.insert(s.name.to_string(), val);
                    }
                }
                m
            }
            _ => return Err(ScimError::invalid_value("'value' must be an object")),
        },
    };
    if matching.is_empty() {
        // Entra targets `emails[type eq "work"].value` before a work email exists: the
        // filter's equalities describe the element to create. Anything else has no target.
        if !filter.is_conjunction_of_equalities() {
            return Err(ScimError::no_target(format!(
                "no value of '{}' matches the filter",
                attr.name
            )));
        }
        let mut element = Map::new();
        for (a, val) in filter.equalities() {
            element.insert(a.name.to_string(), Value::String(val.to_string()));
        }
        element.extend(update);
        let slot = target
            .entry(attr.name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = slot {
            items.push(Value::Object(element));
        }
        return Ok(());
    }
    if let Some(Value::Array(items)) = target.get_mut(attr.name) {
        for i in matching {
            if let Some(Value::Object(e)) = items.get_mut(i) {
                e.extend(update.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER};
    use serde_json::json;

    fn doc() -> Document {
        canonicalize(
            &USER,
            &json!({
                "userName": "a@example.com",
                "active": true,
                "name": {"givenName": "Ann", "familyName": "Lee"},
                "emails": [{"value": "a@example.com", "type": "work", "primary": true}]
            }),
        )
        .expect("doc")
    }

    fn patch(ops: Value) -> Result<Document, ScimError> {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": ops});
        PatchRequest::parse(&body, &USER)?.apply(&USER, &doc())
    }

    #[test]
    fn every_deactivation_dialect_sets_active_false() {
        for ops in [
            json!([{"op": "replace", "value": {"active": false}}]),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            json!([{"op": "replace", "path": "active", "value": false}]),
            json!([{"op": "Replace", "path": "active", "value": false}]),
            json!([{"op": "add", "path": "active", "value": "false"}]),
        ] {
            let d = patch(ops.clone()).expect("patch");
            assert_eq!(d.get("active"), Some(&json!(false)), "{ops}");
        }
    }

    #[test]
    fn replacing_a_path_with_null_unassigns_it() {
        let d = patch(json!([
            {"op": "replace", "path": "name.familyName", "value": null},
            {"op": "Replace", "path": "emails", "value": null}
        ]))
        .expect("null is unassigned");
        assert_eq!(d["name"], json!({"givenName": "Ann"}));
        assert!(!d.contains_key("emails"));
        // Without a path there is nothing to unassign, and add needs a value.
        assert!(patch(json!([{"op": "replace", "value": null}])).is_err());
        assert!(patch(json!([{"op": "add", "path": "title", "value": null}])).is_err());
    }

    #[test]
    fn dotted_and_urn_keys_in_a_value_object_are_paths() {
        let d = patch(json!([{"op": "replace", "value": {
            "name.givenName": "Anna",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"
        }}]))
        .expect("patch");
        assert_eq!(d["name"], json!({"givenName": "Anna", "familyName": "Lee"}));
        assert_eq!(d[ENTERPRISE_USER_SCHEMA], json!({"department": "Ops"}));
    }

    #[test]
    fn a_value_filter_creates_the_element_it_names_when_missing() {
        let d = patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}
        ]))
        .expect("patch");
        assert_eq!(
            d["emails"],
            json!([{"value": "new@example.com", "type": "work", "primary": true}])
        );
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555"}])
        );
    }

    #[test]
    fn a_failing_operation_leaves_the_document_unchanged() {
        let e = patch(json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "remove", "path": "emails[type eq \"home\"]"}
        ]))
        .expect_err("no target");
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::NoTarget));
    }

    #[test]
    fn bad_requests_get_the_rfc_scim_type() {
        use crate::scim::error::ScimType::*;
        for (ops, want) in [
            (
                json!([{"op": "move", "path": "active", "value": false}]),
                InvalidSyntax,
            ),
            (json!([{"op": "remove"}]), NoTarget),
            (
                json!([{"op": "replace", "path": "nosuch.attr", "value": 1}]),
                InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                Mutability,
            ),
            (
                json!([{"op": "replace", "path": "meta.created", "value": "x"}]),
                Mutability,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                InvalidValue,
            ),
            (json!([{"op": "replace", "path": "active"}]), InvalidValue),
            (json!([{"op": "replace", "value": 5}]), InvalidValue),
        ] {
            let e = patch(ops.clone()).expect_err("error");
            assert_eq!(e.scim_type, Some(want), "{ops}");
        }
        let e = PatchRequest::parse(&json!({"Operations": []}), &USER).expect_err("schemas");
        assert_eq!(e.scim_type, Some(InvalidSyntax));
    }

    #[test]
    fn passwords_are_discarded() {
        let d = patch(json!([{"op": "replace", "value": {"password": "hunter2"}}])).expect("patch");
        assert!(d.get("password").is_none());
    }

    #[test]
    fn the_operation_limit_is_inclusive() {
        let ops = |n: usize| {
            let ops: Vec<Value> = (0..n)
                .map(|_| json!({"op": "replace", "path": "nickName", "value": "n"}))
                .collect();
            json!({"schemas": [PATCH_SCHEMA], "Operations": ops})
        };
        assert!(PatchRequest::parse(&ops(MAX_OPERATIONS), &USER).is_ok());
        let e = PatchRequest::parse(&ops(MAX_OPERATIONS + 1), &USER).expect_err("too many");
        assert_eq!(e.status, 413);
    }

    #[test]
    fn custom_attribute_operations() {
        let d = patch(json!([{"op": "add", "path": "shoeSize", "value": 44}])).expect("add");
        assert_eq!(d["shoeSize"], json!(44));
        let d = patch(json!([
            {"op": "add", "path": "shoeSize", "value": 44},
            {"op": "remove", "path": "SHOESIZE"}
        ]))
        .expect("remove");
        assert!(!d.contains_key("shoeSize"));
        let d = patch(json!([
            {"op": "add", "path": "shoeSize", "value": 44},
            {"op": "replace", "path": "shoeSize", "value": null}
        ]))
        .expect("replace with null");
        assert!(!d.contains_key("shoeSize"));
        // A blank path is no path: the value object is applied.
        let d = patch(json!([{"op": "replace", "path": "  ", "value": {"shoeSize": 1}}]))
            .expect("blank path");
        assert_eq!(d["shoeSize"], json!(1));
        for bad in [
            json!([{"op": "add", "path": "shoeSize"}]),
            json!([{"op": "replace", "path": "shoeSize"}]),
        ] {
            let e = patch(bad.clone()).expect_err("needs a value");
            assert_eq!(
                e.scim_type,
                Some(crate::scim::error::ScimType::InvalidValue),
                "{bad}"
            );
        }
    }
}
