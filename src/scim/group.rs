//! The Group resource: parsing a body into a valid group, splitting a PATCH into member
//! changes (applied to the member table one row at a time, so their cost does not grow
//! with the group) and the rest (applied to the group's record), and rendering.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{CompareOp, Filter, Literal};
use super::patch::{OpKind, Operation, PatchRequest};
use super::resource::Document;
use super::schema::{GROUP_SCHEMA, MAX_MEMBERS};
use super::user::{etag, format_time};

pub const MAX_DISPLAY_NAME_LEN: usize = 256;

/// A parsed Group body. `members` is `None` when the body does not mention them.
#[derive(Debug, Clone)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Option<Vec<String>>,
    /// What is stored: the canonical document without `members`.
    pub record: Document,
}

impl GroupInput {
    pub fn from_document(mut doc: Document) -> Result<Self, ScimError> {
        let members = doc
            .remove("members")
            .map(|v| member_values(&v))
            .transpose()?;
        let display_name = doc
            .get("displayName")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::invalid_value("displayName is required"))?
            .to_string();
        if display_name.chars().count() > MAX_DISPLAY_NAME_LEN {
            return Err(ScimError::invalid_value(format!(
                "displayName is longer than {MAX_DISPLAY_NAME_LEN} characters"
            )));
        }
        let external_id = doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(GroupInput {
            display_name,
            external_id,
            members,
            record: doc,
        })
    }
}

/// The member ids in a `members` value: an array of `{"value": id}` (or one such object),
/// in order, without repeats.
pub fn member_values(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::invalid_value(
                "members must be an array of {\"value\": id}",
            ));
        }
    };
    if items.len() > MAX_MEMBERS {
        return Err(too_many_members());
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        let id = item
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
            .and_then(|(_, v)| v.as_str())
            .ok_or_else(|| ScimError::invalid_value("each member needs a 'value' (a user id)"))?;
        if seen.insert(id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn too_many_members() -> ScimError {
    ScimError::invalid_value(format!("a request may name at most {MAX_MEMBERS} members"))
}

/// A change to a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    /// The whole list (Okta's replace): the difference is added and removed.
    Replace(Vec<String>),
}

/// A Group PATCH: member changes in order, and the operations on everything else.
#[derive(Debug, Clone)]
pub struct GroupPatch {
    pub members: Vec<MemberOp>,
    pub rest: PatchRequest,
}

fn is_members(name: &str) -> bool {
    name.eq_ignore_ascii_case("members")
}

/// The ids a remove filter names: `value eq "id"`, possibly several joined by `or`.
fn ids_in_filter(f: &Filter) -> Result<Vec<String>, ScimError> {
    match f {
        Filter::Compare(a, CompareOp::Eq, Literal::Str(s))
            if a.sub.is_none() && a.attr.name.eq_ignore_ascii_case("value") =>
        {
            Ok(vec![s.clone()])
        }
        Filter::Or(l, r) => {
            let mut ids = ids_in_filter(l)?;
            ids.extend(ids_in_filter(r)?);
            Ok(ids)
        }
        _ => Err(ScimError::invalid_filter(
            "members are selected with value eq \"<user id>\" (joined by or)",
        )),
    }
}

/// Splits a parsed PATCH into member changes and the rest.
pub fn split_patch(req: PatchRequest) -> Result<GroupPatch, ScimError> {
    let mut members = Vec::new();
    let mut rest = Vec::new();
    for op in req.operations {
        match &op.path {
            Some(p) if p.attr.is_some_and(|a| is_members(a.name)) => {
                if p.sub.is_some() {
                    return Err(ScimError::invalid_path(
                        "members' sub-attributes cannot be changed; add or remove the member",
                    ));
                }
                let change = match (op.kind, &p.filter, &op.value) {
                    (OpKind::Remove, Some(f), _) => MemberOp::Remove(ids_in_filter(f)?),
                    // Entra: path "members" with the members to remove in "value".
                    (OpKind::Remove, None, Some(v)) => MemberOp::Remove(member_values(v)?),
                    (OpKind::Remove, None, None) => MemberOp::RemoveAll,
                    (OpKind::Add, None, Some(v)) => MemberOp::Add(member_values(v)?),
                    (OpKind::Replace, None, v) => {
                        MemberOp::Replace(member_values(v.as_ref().unwrap_or(&Value::Null))?)
                    }
                    (OpKind::Add, None, None) => {
                        return Err(ScimError::invalid_value("'add' needs a 'value'"));
                    }
                    (_, Some(_), _) => {
                        return Err(ScimError::invalid_path(
                            "a members value filter is only for remove",
                        ));
                    }
                };
                members.push(change);
            }
            None if op.custom.is_none() => match &op.value {
                Some(Value::Object(obj)) if obj.keys().any(|k| is_members(k)) => {
                    let mut obj = obj.clone();
                    let key = obj
                        .keys()
                        .find(|k| is_members(k))
                        .cloned()
                        .unwrap_or_default();
                    let list = member_values(obj.get(&key).unwrap_or(&Value::Null))?;
                    obj.remove(&key);
                    members.push(match op.kind {
                        OpKind::Add => MemberOp::Add(list),
                        _ => MemberOp::Replace(list),
                    });
                    if !obj.is_empty() {
                        rest.push(Operation {
                            kind: op.kind,
                            path: None,
                            custom: None,
                            value: Some(Value::Object(obj)),
                        });
                    }
                }
                _ => rest.push(op),
            },
            _ => rest.push(op),
        }
    }
    let named: usize = members
        .iter()
        .map(|m| match m {
            MemberOp::Add(ids) | MemberOp::Remove(ids) | MemberOp::Replace(ids) => ids.len(),
            MemberOp::RemoveAll => 0,
        })
        .sum();
    if named > MAX_MEMBERS {
        return Err(too_many_members());
    }
    Ok(GroupPatch {
        members,
        rest: PatchRequest { operations: rest },
    })
}

/// One member as rendered: its id and, when known, its userName.
pub struct Member {
    pub id: String,
    pub display: Option<String>,
}

pub struct GroupView<'a> {
    pub id: &'a str,
    pub record: &'a Document,
    /// `None` when members were not loaded (excluded from the response).
    pub members: Option<&'a [Member]>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    /// `…/scim/v2`, for `meta.location` and members' `$ref`.
    pub base_url: &'a str,
}

impl GroupView<'_> {
    pub fn render(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "schemas".into(),
            super::custom::schemas_of(GROUP_SCHEMA, self.record),
        );
        out.insert("id".into(), Value::String(self.id.to_string()));
        for (k, v) in self.record {
            out.insert(k.clone(), v.clone());
        }
        if let Some(members) = self.members {
            let list = members
                .iter()
                .map(|m| {
                    let mut o = Map::new();
                    o.insert("value".into(), Value::String(m.id.clone()));
                    o.insert(
                        "$ref".into(),
                        Value::String(format!("{}/Users/{}", self.base_url, m.id)),
                    );
                    if let Some(d) = &m.display {
                        o.insert("display".into(), Value::String(d.clone()));
                    }
                    o.insert("type".into(), Value::String("User".into()));
                    Value::Object(o)
                })
                .collect();
            out.insert("members".into(), Value::Array(list));
        }
        let mut meta = Map::new();
        meta.insert("resourceType".into(), "Group".into());
        meta.insert("created".into(), format_time(self.created).into());
        meta.insert(
            "lastModified".into(),
            format_time(self.last_modified).into(),
        );
        meta.insert(
            "location".into(),
            format!("{}/Groups/{}", self.base_url, self.id).into(),
        );
        meta.insert("version".into(), etag(self.version).into());
        out.insert("meta".into(), Value::Object(meta));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::GROUP;
    use serde_json::json;

    fn patch(ops: Value) -> GroupPatch {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        split_patch(PatchRequest::parse(&body, &GROUP).unwrap()).unwrap()
    }

    #[test]
    fn okta_removes_one_member_by_filter() {
        let p = patch(json!([{"op": "remove", "path": "members[value eq \"usr_1\"]"}]));
        assert_eq!(p.members, vec![MemberOp::Remove(vec!["usr_1".into()])]);
        assert!(p.rest.operations.is_empty());
    }

    #[test]
    fn entra_removes_exactly_the_listed_members() {
        let p = patch(
            json!([{"op": "Remove", "path": "members", "value": [{"value": "usr_1"}, {"value": "usr_2"}]}]),
        );
        assert_eq!(
            p.members,
            vec![MemberOp::Remove(vec!["usr_1".into(), "usr_2".into()])]
        );
    }

    #[test]
    fn remove_without_value_clears_and_replace_takes_the_whole_list() {
        let p = patch(json!([{"op": "remove", "path": "members"}]));
        assert_eq!(p.members, vec![MemberOp::RemoveAll]);
        let p = patch(
            json!([{"op": "replace", "path": "members", "value": [{"value": "usr_1"}, {"value": "usr_1"}]}]),
        );
        assert_eq!(p.members, vec![MemberOp::Replace(vec!["usr_1".into()])]);
    }

    #[test]
    fn a_no_path_value_object_splits_members_from_the_rest() {
        let p = patch(
            json!([{"op": "replace", "value": {"displayName": "Ops", "members": [{"value": "usr_1"}]}}]),
        );
        assert_eq!(p.members, vec![MemberOp::Replace(vec!["usr_1".into()])]);
        assert_eq!(p.rest.operations.len(), 1);
        let p =
            patch(json!([{"op": "replace", "value": {"id": "grp_1", "displayName": "Renamed"}}]));
        assert!(p.members.is_empty());
        assert_eq!(p.rest.operations.len(), 1);
    }

    #[test]
    fn other_member_filters_are_refused() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members[display co \"a\"]"}]});
        let req = PatchRequest::parse(&body, &GROUP).unwrap();
        assert_eq!(split_patch(req).unwrap_err().status, 400);
    }
}
