//! Roles from groups: an organization maps its IdP's groups to the application's roles,
//! and a membership's roles follow from the groups it is in. Pure rules: parsed once
//! (the admin API and the CLI refuse the same mappings), computed the same way wherever
//! a change can move them.
//!
//! A membership's roles are the union, sorted and each kept once, of
//! - the roles of the rules that name a group it is in, and
//! - the values of SCIM's own `roles` attribute as the IdP sent it (Entra's app roles),
//!
//! and the default role when that union is empty. An INACTIVE or removed membership has
//! no roles.

use ids::GroupId;
use serde_json::{Value, json};

use super::organization::InvalidSetting;

/// Rules an organization may have.
pub const MAX_RULES: usize = 1_000;
/// The longest role name.
pub const MAX_ROLE_CHARS: usize = 100;
/// The longest group name or external id a rule may name.
pub const MAX_NAME_CHARS: usize = 256;

/// How a rule names a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    /// offboard's id (`grp_…`): the group must exist in the organization.
    Id(GroupId),
    /// The IdP's `externalId`, matched exactly.
    ExternalId(String),
    /// The `displayName`, matched case-insensitively, so a rule may exist before the
    /// IdP pushes the group.
    DisplayName(DisplayName),
}

/// A display name as the operator spelled it, equal to another (and hashed) by its
/// case-insensitive form.
#[derive(Debug, Clone)]
pub struct DisplayName {
    shown: String,
    key: String,
}

impl DisplayName {
    pub fn new(shown: String) -> Self {
        let key = super::text::fold(&shown);
        DisplayName { shown, key }
    }

    /// Whether a group's display name is this one (case-insensitively).
    pub fn is(&self, display_name: &str) -> bool {
        super::text::fold(display_name) == self.key
    }
}

impl PartialEq for DisplayName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for DisplayName {}

impl std::hash::Hash for DisplayName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub group: GroupRef,
    pub role: String,
}

/// An organization's mapping; empty (no default, no rules) when none was set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMapping {
    pub default_role: Option<String>,
    pub rules: Vec<Rule>,
}

/// What a rule can match a group by.
#[derive(Debug, Clone, Copy)]
pub struct GroupFacts<'a> {
    pub id: &'a GroupId,
    pub external_id: Option<&'a str>,
    pub display_name: &'a str,
}

fn role(raw: &Value, at: &str) -> Result<String, InvalidSetting> {
    let Some(s) = raw.as_str().map(str::trim) else {
        return Err(InvalidSetting::new(format!("{at}: a role is a string")));
    };
    let n = s.chars().count();
    if n == 0 || n > MAX_ROLE_CHARS || s.chars().any(char::is_control) {
        return Err(InvalidSetting::new(format!(
            "{at}: a role is 1 to {MAX_ROLE_CHARS} printable characters"
        )));
    }
    Ok(s.to_string())
}

fn name(raw: &Value, at: &str) -> Result<String, InvalidSetting> {
    let Some(s) = raw.as_str() else {
        return Err(InvalidSetting::new(format!("{at}: a string is expected")));
    };
    let n = s.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || s.chars().any(char::is_control) {
        return Err(InvalidSetting::new(format!(
            "{at}: 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(s.to_string())
}

impl GroupRef {
    /// `{"id": "grp_…"}`, `{"external_id": "…"}` or `{"display_name": "…"}`.
    fn parse(raw: &Value, at: &str) -> Result<GroupRef, InvalidSetting> {
        let Some(o) = raw.as_object().filter(|o| o.len() == 1) else {
            return Err(InvalidSetting::new(format!(
                "{at}: a group is {{\"id\"}}, {{\"external_id\"}} or {{\"display_name\"}}"
            )));
        };
        let (k, v) = o.iter().next().ok_or_else(|| InvalidSetting::new(at))?;
        match k.as_str() {
            "id" => GroupId::named(&name(v, at)?)
                .map(GroupRef::Id)
                .ok_or_else(|| InvalidSetting::new(format!("{at}: not a group id (grp_…)"))),
            "external_id" => Ok(GroupRef::ExternalId(name(v, at)?)),
            "display_name" => Ok(GroupRef::DisplayName(DisplayName::new(name(v, at)?))),
            other => Err(InvalidSetting::new(format!(
                "{at}: '{}' names no group (id, external_id or display_name)",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            GroupRef::Id(id) => json!({"id": id.as_str()}),
            GroupRef::ExternalId(e) => json!({"external_id": e}),
            GroupRef::DisplayName(d) => json!({"display_name": d.shown}),
        }
    }

    pub fn matches(&self, g: &GroupFacts<'_>) -> bool {
        match self {
            GroupRef::Id(id) => id == g.id,
            GroupRef::ExternalId(e) => g.external_id == Some(e.as_str()),
            GroupRef::DisplayName(d) => d.is(g.display_name),
        }
    }
}

impl RoleMapping {
    /// `{"default_role": "member", "rules": [{"group": {…}, "role": "admin"}, …]}`: at
    /// most [`MAX_RULES`] rules, no group named twice, no field offboard does not know.
    pub fn parse(raw: &Value) -> Result<RoleMapping, InvalidSetting> {
        let Some(o) = raw.as_object() else {
            return Err(InvalidSetting::new("the mapping is an object"));
        };
        if let Some(k) = o.keys().find(|k| *k != "default_role" && *k != "rules") {
            return Err(InvalidSetting::new(format!(
                "unknown field '{}'",
                k.chars().take(40).collect::<String>()
            )));
        }
        let default_role = match o.get("default_role") {
            None | Some(Value::Null) => None,
            Some(v) => Some(role(v, "default_role")?),
        };
        let rules_raw = match o.get("rules") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return Err(InvalidSetting::new("rules: a list is expected")),
        };
        if rules_raw.len() > MAX_RULES {
            return Err(InvalidSetting::new(format!("at most {MAX_RULES} rules")));
        }
        let mut rules = Vec::with_capacity(rules_raw.len());
        let mut seen = std::collections::HashSet::new();
        for (i, r) in rules_raw.iter().enumerate() {
            let at = format!("rules[{i}]");
            let Some(ro) = r.as_object() else {
                return Err(InvalidSetting::new(format!("{at}: a rule is an object")));
            };
            if let Some(k) = ro.keys().find(|k| *k != "group" && *k != "role") {
                return Err(InvalidSetting::new(format!(
                    "{at}: unknown field '{}'",
                    k.chars().take(40).collect::<String>()
                )));
            }
            let group = GroupRef::parse(ro.get("group").unwrap_or(&Value::Null), &at)?;
            let role = role(ro.get("role").unwrap_or(&Value::Null), &at)?;
            if !seen.insert(group.clone()) {
                return Err(InvalidSetting::new(format!(
                    "{at}: names a group another rule names"
                )));
            }
            rules.push(Rule { group, role });
        }
        Ok(RoleMapping {
            default_role,
            rules,
        })
    }

    /// As stored and answered.
    pub fn to_value(&self) -> Value {
        json!({
            "default_role": self.default_role,
            "rules": self.rules.iter().map(|r| json!({"group": r.group.to_value(), "role": r.role})).collect::<Vec<_>>(),
        })
    }

    /// As stored; a stored mapping that cannot be read is no mapping (it was valid when
    /// written, so only a hand edit gets here).
    pub fn from_stored(raw: Option<&Value>) -> RoleMapping {
        raw.and_then(|v| RoleMapping::parse(v).ok())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.default_role.is_none() && self.rules.is_empty()
    }

    /// The groups named by id (each must be one of the organization's).
    pub fn group_ids(&self) -> Vec<&GroupId> {
        self.rules
            .iter()
            .filter_map(|r| match &r.group {
                GroupRef::Id(id) => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Whether a rule names this group (a change to it can move its members' roles).
    pub fn names(&self, g: &GroupFacts<'_>) -> bool {
        self.rules.iter().any(|r| r.group.matches(g))
    }

    /// A membership's roles: see the module's rule. `active` is false for an INACTIVE
    /// or removed membership, which has none.
    pub fn roles_for(
        &self,
        active: bool,
        groups: &[GroupFacts<'_>],
        scim_roles: &[String],
    ) -> Vec<String> {
        if !active {
            return Vec::new();
        }
        let mut roles: Vec<String> = self
            .rules
            .iter()
            .filter(|r| groups.iter().any(|g| r.group.matches(g)))
            .map(|r| r.role.clone())
            .chain(scim_roles.iter().cloned())
            .collect();
        if roles.is_empty()
            && let Some(d) = &self.default_role
        {
            roles.push(d.clone());
        }
        roles.sort();
        roles.dedup();
        roles
    }
}

/// The values of SCIM's `roles` attribute as stored (`[{"value": "…", …}]`, or plain
/// strings), each once.
pub fn scim_role_values(roles: &Value) -> Vec<String> {
    let mut out: Vec<String> = roles
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| match r {
                    Value::String(s) => Some(s.trim().to_string()),
                    Value::Object(o) => o
                        .get("value")
                        .and_then(Value::as_str)
                        .map(|s| s.trim().to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty() && s.chars().count() <= MAX_ROLE_CHARS)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// Roles as stored (a JSON list of strings); none when absent.
pub fn stored_roles(raw: Option<&Value>) -> Vec<String> {
    raw.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gid(s: &str) -> GroupId {
        GroupId::named(s).unwrap()
    }

    #[test]
    fn a_mapping_parses_and_refuses_what_it_cannot_hold() {
        let m = RoleMapping::parse(&json!({
            "default_role": "member",
            "rules": [
                {"group": {"id": "grp_1"}, "role": "admin"},
                {"group": {"external_id": "00g1"}, "role": "billing"},
                {"group": {"display_name": "Engineering"}, "role": "dev"}
            ]
        }))
        .unwrap();
        assert_eq!(m.rules.len(), 3);
        assert_eq!(
            m.rules[2].group,
            GroupRef::DisplayName(DisplayName::new("engineering".into()))
        );
        // Answered as the operator spelled it.
        assert_eq!(
            m.to_value()["rules"][2]["group"],
            json!({"display_name": "Engineering"})
        );
        assert_eq!(RoleMapping::parse(&m.to_value()).unwrap(), m);
        for bad in [
            json!([]),
            json!({"rules": [{"group": {"id": "grp_1"}, "role": "a"}, {"group": {"id": "grp_1"}, "role": "b"}]}),
            json!({"rules": [{"group": {"display_name": "Eng"}, "role": "a"}, {"group": {"display_name": "ENG"}, "role": "b"}]}),
            json!({"rules": [{"group": {"id": "usr_1"}, "role": "a"}]}),
            json!({"rules": [{"group": {"name": "x"}, "role": "a"}]}),
            json!({"rules": [{"group": {"id": "grp_1", "external_id": "x"}, "role": "a"}]}),
            json!({"rules": [{"group": {"id": "grp_1"}, "role": ""}]}),
            json!({"rules": [{"group": {"id": "grp_1"}, "role": null}]}),
            json!({"rules": [{"group": {"id": "grp_1"}, "role": "x".repeat(101)}]}),
            json!({"rules": [{"group": {"id": "grp_1"}, "role": "a", "x": 1}]}),
            json!({"rules": "all"}),
            json!({"default_role": 7}),
            json!({"colour": "red"}),
        ] {
            assert!(RoleMapping::parse(&bad).is_err(), "{bad}");
        }
        let many: Vec<Value> = (0..=MAX_RULES)
            .map(|i| json!({"group": {"external_id": format!("g{i}")}, "role": "r"}))
            .collect();
        assert!(RoleMapping::parse(&json!({"rules": many})).is_err());
        assert!(RoleMapping::parse(&json!({"rules": many[..MAX_RULES]})).is_ok());
    }

    #[test]
    fn roles_are_the_union_of_the_groups_and_the_idps_roles_else_the_default() {
        let m = RoleMapping::parse(&json!({
            "default_role": "member",
            "rules": [
                {"group": {"id": "grp_a"}, "role": "admin"},
                {"group": {"display_name": "Billing"}, "role": "billing"},
                {"group": {"external_id": "ext-9"}, "role": "admin"}
            ]
        }))
        .unwrap();
        let (a, b, c) = (gid("grp_a"), gid("grp_b"), gid("grp_c"));
        let ga = GroupFacts {
            id: &a,
            external_id: None,
            display_name: "Admins",
        };
        let gb = GroupFacts {
            id: &b,
            external_id: None,
            display_name: "BILLING",
        };
        let gc = GroupFacts {
            id: &c,
            external_id: Some("ext-9"),
            display_name: "Other",
        };
        assert_eq!(
            m.roles_for(true, &[ga, gb, gc], &[]),
            vec!["admin", "billing"]
        );
        assert_eq!(m.roles_for(true, &[], &[]), vec!["member"]);
        assert_eq!(m.roles_for(true, &[], &["writer".into()]), vec!["writer"]);
        assert_eq!(
            m.roles_for(false, &[ga], &["writer".into()]),
            Vec::<String>::new()
        );
        assert!(
            m.names(&gb)
                && !m.names(&GroupFacts {
                    id: &c,
                    external_id: None,
                    display_name: "x"
                })
        );
        assert!(
            RoleMapping::default()
                .roles_for(true, &[ga], &[])
                .is_empty()
        );
    }

    #[test]
    fn scim_roles_are_read_as_entra_and_plain_lists_send_them() {
        let entra = json!([{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}, {"value": "Admin"}]);
        assert_eq!(scim_role_values(&entra), vec!["Admin"]);
        assert_eq!(scim_role_values(&json!(["a", "b", 3])), vec!["a", "b"]);
        assert!(scim_role_values(&Value::Null).is_empty());
    }
}
