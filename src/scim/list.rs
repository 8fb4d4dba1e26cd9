//! Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3), attribute
//! projection, sorting and the ListResponse envelope.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::{AttrRef, Filter, parse_attr_path};
use super::schema::{ResourceSchema, Returned, Scope};

pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The most resources one page holds (announced as `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
pub const DEFAULT_COUNT: usize = 100;

/// The raw parameters, from a query string or a `.search` body, before validation.
#[derive(Debug, Default, Clone)]
pub struct RawQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl RawQuery {
    /// Reads a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the search request must be a JSON object"))?;
        let get = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(items)) => {
                    let mut names = Vec::new();
                    for i in items {
                        names.push(i.as_str().ok_or_else(|| {
                            ScimError::invalid_value(format!("'{name}' must list strings"))
                        })?);
                    }
                    Ok(Some(names.join(",")))
                }
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' has the wrong type"
                ))),
            }
        };
        Ok(RawQuery {
            filter: text("filter")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: text("attributes")?,
            excluded_attributes: text("excludedAttributes")?,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: Vec<AttrRef>,
    excluded: Vec<AttrRef>,
    /// Whole extensions named by their URN (`excludedAttributes=urn:…:enterprise:2.0:User`).
    attribute_extensions: Vec<&'static str>,
    excluded_extensions: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based, as on the wire.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<AttrRef>,
    pub descending: bool,
    pub projection: Projection,
}

fn parse_int(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) => Ok(Some(n)),
            // A number too large for i64 is still a number: it saturates.
            Err(_)
                if !s.is_empty()
                    && s.trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_digit()) =>
            {
                Ok(Some(if s.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                }))
            }
            Err(_) => Err(ScimError::invalid_value(format!(
                "'{name}' must be an integer"
            ))),
        },
    }
}

impl Projection {
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &ResourceSchema,
    ) -> Result<Self, ScimError> {
        type Names = (Vec<AttrRef>, Vec<&'static str>);
        let list = |raw: Option<&str>| -> Result<Names, ScimError> {
            let (mut out, mut extensions) = (Vec::new(), Vec::new());
            for name in raw
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                if let Some((urn, _)) = schema.extension(name) {
                    extensions.push(urn);
                    continue;
                }
                let r = parse_attr_path(name, schema)
                    .map_err(|_| ScimError::invalid_value(format!("unknown attribute '{name}'")))?;
                out.push(r);
            }
            Ok((out, extensions))
        };
        let (attributes, attribute_extensions) = list(attributes)?;
        let (excluded, excluded_extensions) = list(excluded)?;
        Ok(Projection {
            attributes,
            excluded,
            attribute_extensions,
            excluded_extensions,
        })
    }

    /// Whether a top-level attribute of this name is returned (so it must be loaded).
    pub fn returns(&self, name: &str) -> bool {
        let named = |list: &[AttrRef]| {
            list.iter()
                .any(|r| r.attr.name.eq_ignore_ascii_case(name) && r.sub.is_none())
        };
        if !self.attributes.is_empty() || !self.attribute_extensions.is_empty() {
            return self
                .attributes
                .iter()
                .any(|r| r.attr.name.eq_ignore_ascii_case(name));
        }
        !named(&self.excluded)
    }

    /// Applies `attributes` / `excludedAttributes` to one rendered resource. `id` and
    /// `schemas` are always returned (RFC 7643 §7, `returned: always`).
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() || !self.attribute_extensions.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = obj.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for r in &self.attributes {
                copy_attr(&obj, &mut out, r);
            }
            for urn in &self.attribute_extensions {
                if let Some(v) = obj.get(*urn) {
                    out.insert((*urn).to_string(), v.clone());
                }
            }
            obj = out;
        }
        for urn in &self.excluded_extensions {
            obj.remove(*urn);
        }
        for r in &self.excluded {
            if r.attr.returned == Returned::Always {
                continue;
            }
            remove_attr(&mut obj, r);
        }
        Value::Object(obj)
    }
}

fn holder(obj: &Map<String, Value>, scope: Option<Scope>) -> Option<&Map<String, Value>> {
    match scope {
        Some(Scope::Extension(urn)) => obj.get(urn)?.as_object(),
        _ => Some(obj),
    }
}

fn copy_attr(from: &Map<String, Value>, to: &mut Map<String, Value>, r: &AttrRef) {
    let Some(src) = holder(from, r.scope) else {
        return;
    };
    let Some(value) = src.get(r.attr.name) else {
        return;
    };
    let picked = match r.sub {
        None => value.clone(),
        Some(sub) => match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|i| i.get(sub.name).map(|v| json!({ sub.name: v })))
                    .collect(),
            ),
            Value::Object(o) => match o.get(sub.name) {
                Some(v) => json!({ sub.name: v }),
                None => return,
            },
            _ => return,
        },
    };
    let dest = match r.scope {
        Some(Scope::Extension(urn)) => {
            let e = to
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            match e.as_object_mut() {
                Some(o) => o,
                None => return,
            }
        }
        _ => to,
    };
    match (dest.get_mut(r.attr.name), picked) {
        (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
        (_, picked) => {
            dest.insert(r.attr.name.to_string(), picked);
        }
    }
}

fn remove_attr(obj: &mut Map<String, Value>, r: &AttrRef) {
    let target = match r.scope {
        Some(Scope::Extension(urn)) => match obj.get_mut(urn).and_then(Value::as_object_mut) {
            Some(o) => o,
            None => return,
        },
        _ => obj,
    };
    match r.sub {
        None => {
            target.remove(r.attr.name);
        }
        Some(sub) => match target.get_mut(r.attr.name) {
            Some(Value::Array(items)) => {
                for i in items {
                    if let Some(o) = i.as_object_mut() {
                        o.remove(sub.name);
                    }
                }
            }
            Some(Value::Object(o)) => {
                o.remove(sub.name);
            }
            _ => {}
        },
    }
}

impl ListQuery {
    pub fn parse(raw: &RawQuery, schema: &ResourceSchema) -> Result<Self, ScimError> {
        let filter = match raw.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(Filter::parse(f, schema)?),
        };
        // RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0.
        let start_index = parse_int("startIndex", raw.start_index.as_deref())?
            .unwrap_or(1)
            .max(1);
        let count = parse_int("count", raw.count.as_deref())?
            .map(|c| c.clamp(0, MAX_RESULTS as i64) as usize)
            .unwrap_or(DEFAULT_COUNT);
        let sort_by = match raw.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(parse_attr_path(s, schema).map_err(|_| {
                ScimError::invalid_value(format!("cannot sort by unknown attribute '{s}'"))
            })?),
        };
        let descending = match raw.sort_order.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', not '{o}'"
                )));
            }
        };
        Ok(ListQuery {
            filter,
            start_index: usize::try_from(start_index).unwrap_or(usize::MAX),
            count,
            sort_by,
            descending,
            projection: Projection::parse(
                raw.attributes.as_deref(),
                raw.excluded_attributes.as_deref(),
                schema,
            )?,
        })
    }
}

pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;

    fn q(start: &str, count: &str) -> Result<ListQuery, ScimError> {
        ListQuery::parse(
            &RawQuery {
                start_index: Some(start.into()),
                count: Some(count.into()),
                ..RawQuery::default()
            },
            &USER,
        )
    }

    #[test]
    fn paging_parameters_follow_the_rfc_bounds() {
        let l = q("-5", "-1").expect("valid");
        assert_eq!((l.start_index, l.count), (1, 0));
        let l = q("99999999999999999999999", "99999999999999999999").expect("valid");
        assert_eq!(l.count, MAX_RESULTS);
        assert!(l.start_index > 1);
        assert!(q("abc", "1").is_err());
        assert!(q("1", "1.5").is_err());
    }

    #[test]
    fn projection_keeps_id_and_schemas_and_the_named_attributes() {
        let p = Projection::parse(Some("userName,name.familyName"), None, &USER).expect("valid");
        let out = p.apply(json!({
            "schemas": ["s"], "id": "usr_1", "userName": "a", "active": true,
            "name": {"givenName": "A", "familyName": "B"}
        }));
        assert_eq!(
            out,
            json!({"schemas": ["s"], "id": "usr_1", "userName": "a", "name": {"familyName": "B"}})
        );
        let p = Projection::parse(None, Some("name,id"), &USER).expect("valid");
        let out = p.apply(json!({"id": "usr_1", "name": {"givenName": "A"}, "active": true}));
        assert_eq!(out, json!({"id": "usr_1", "active": true}));
    }
}
