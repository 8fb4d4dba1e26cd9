//! PATCH paths (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`,
//! each optionally prefixed by a schema URN, or a bare extension URN.

use super::error::ScimError;
use super::filter::Filter;
use super::schema::{Attr, AttrType, ResourceSchema, Scope, find};

#[derive(Debug, Clone)]
pub struct PatchPath {
    pub scope: Scope,
    /// `None`: the path names a whole extension (`urn:…:enterprise:2.0:User`).
    pub attr: Option<&'static Attr>,
    pub filter: Option<Filter>,
    pub sub: Option<&'static Attr>,
}

impl PatchPath {
    pub fn parse(input: &str, schema: &ResourceSchema) -> Result<Self, ScimError> {
        let input = input.trim();
        let bad = |why: &str| ScimError::invalid_path(format!("invalid path '{input}': {why}"));
        if input.is_empty() || input.len() > super::filter::MAX_FILTER_LEN {
            return Err(bad("empty or too long"));
        }
        if let Some((urn, _)) = schema.extension(input) {
            return Ok(PatchPath {
                scope: Scope::Extension(urn),
                attr: None,
                filter: None,
                sub: None,
            });
        }
        let (head, bracket, tail) = match input.find('[') {
            Some(open) => {
                let close = input.rfind(']').ok_or_else(|| bad("missing ']'"))?;
                if close < open {
                    return Err(bad("misplaced ']'"));
                }
                (
                    &input[..open],
                    Some(&input[open + 1..close]),
                    &input[close + 1..],
                )
            }
            None => (input, None, ""),
        };
        let (urn, rest) = schema.split_urn(head);
        let (name, dotted) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let (scope, attr) = schema
            .resolve(urn, name)
            .ok_or_else(|| bad("unknown attribute"))?;
        let filter = match bracket {
            Some(f) => {
                if !attr.multi || attr.ty != AttrType::Complex || dotted.is_some() {
                    return Err(bad("a value filter needs a multi-valued complex attribute"));
                }
                // The bracket's filter is relative to one element of the attribute.
                let wrapped = format!("{}[{f}]", attr.name);
                let parsed = Filter::parse(&wrapped, schema)
                    .map_err(|e| bad(&format!("bad value filter: {}", e.detail)))?;
                match parsed {
                    Filter::ValuePath(_, inner) => Some(*inner),
                    _ => return Err(bad("bad value filter")),
                }
            }
            None => None,
        };
        let sub_name = match (dotted, tail) {
            (Some(s), "") => Some(s),
            (None, "") => None,
            (None, t) => Some(
                t.strip_prefix('.')
                    .ok_or_else(|| bad("unexpected text after ']'"))?,
            ),
            (Some(_), _) => return Err(bad("unexpected text after ']'")),
        };
        let sub = match sub_name {
            Some(s) => Some(find(attr.sub, s).ok_or_else(|| bad("unknown sub-attribute"))?),
            None => None,
        };
        Ok(PatchPath {
            scope,
            attr: Some(attr),
            filter,
            sub,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER};

    #[test]
    fn paths_of_every_shape_parse() {
        let p = PatchPath::parse("name.GivenName", &USER).expect("dotted");
        assert_eq!(p.attr.map(|a| a.name), Some("name"));
        assert_eq!(p.sub.map(|a| a.name), Some("givenName"));

        let p = PatchPath::parse(r#"emails[type eq "work"].value"#, &USER).expect("filtered");
        assert!(p.filter.is_some());
        assert_eq!(p.sub.map(|a| a.name), Some("value"));

        let p = PatchPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            &USER,
        )
        .expect("urn");
        assert_eq!(p.scope, Scope::Extension(ENTERPRISE_USER_SCHEMA));
        assert_eq!(p.attr.map(|a| a.name), Some("department"));

        let p = PatchPath::parse(ENTERPRISE_USER_SCHEMA, &USER).expect("extension");
        assert!(p.attr.is_none());
    }

    #[test]
    fn bad_paths_are_invalid_path_errors() {
        for bad in [
            "",
            "nosuch",
            "name.nosuch",
            "userName[value eq \"x\"]",
            "emails[type eq]",
            "emails[type eq \"w\"]x",
        ] {
            let e = PatchPath::parse(bad, &USER).expect_err(bad);
            assert_eq!(
                e.scim_type,
                Some(crate::scim::error::ScimType::InvalidPath),
                "{bad}"
            );
        }
    }
}
