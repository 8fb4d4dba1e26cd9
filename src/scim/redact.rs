//! What the request inspector keeps of a SCIM request when personal values must not be
//! kept: the shape of the body (attribute names, paths, array lengths) and the values
//! that say what the IdP asked (`active`, `op`, schema URNs), every other value replaced
//! by `"…"`. Pure: no HTTP, no database.

use serde_json::{Map, Value};

/// What a redacted value becomes.
pub const REDACTED: &str = "…";

/// The body with personal values replaced. Booleans and `null` are kept (they carry no
/// one's data: `primary`, `active`); strings and numbers are replaced unless they are
/// `active`'s value, an operation's `op`, a schema URN or an attribute path (whose filter
/// literals are replaced, `emails[type eq "…"].value`).
pub fn redact_body(body: &Value) -> Value {
    redact(body, Context::Value)
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    /// An ordinary value: replaced unless boolean or null.
    Value,
    /// A value kept as it is (`active`, `op`).
    Kept,
    /// A list of schema URNs.
    Schemas,
    /// An attribute path: kept with its filter literals replaced.
    Path,
}

fn redact(v: &Value, ctx: Context) -> Value {
    match v {
        Value::Null | Value::Bool(_) => v.clone(),
        Value::String(s) => match ctx {
            Context::Kept => v.clone(),
            Context::Schemas if is_urn(s) => v.clone(),
            Context::Path => Value::String(redact_filter(s)),
            _ => Value::String(REDACTED.into()),
        },
        Value::Number(_) => match ctx {
            Context::Kept => v.clone(),
            _ => Value::String(REDACTED.into()),
        },
        Value::Array(items) => Value::Array(items.iter().map(|i| redact(i, ctx)).collect()),
        Value::Object(map) => Value::Object(redact_object(map)),
    }
}

fn redact_object(map: &Map<String, Value>) -> Map<String, Value> {
    // A PATCH operation on `active` keeps its value: it is what the IdP asked.
    let on_active = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("path"))
        .and_then(|(_, p)| p.as_str())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("active"));
    map.iter()
        .map(|(k, v)| {
            let ctx = match k.to_ascii_lowercase().as_str() {
                "active" | "op" => Context::Kept,
                "value" if on_active => Context::Kept,
                "schemas" => Context::Schemas,
                "path" => Context::Path,
                _ => Context::Value,
            };
            (k.clone(), redact(v, ctx))
        })
        .collect()
}

fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// A filter or path with every quoted literal replaced (`userName eq "…"`); numbers and
/// dates compared unquoted are replaced too, attribute names and operators kept.
pub fn redact_filter(filter: &str) -> String {
    replace_literals(filter, true)
}

/// A message with its double-quoted literals replaced (names in single quotes kept).
pub fn redact_filter_literals(text: &str) -> String {
    replace_literals(text, false)
}

/// A request path with every segment that could be a personal value (an address, a
/// name with spaces, anything long) replaced: ids and resource names stay.
pub fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let plain = seg.len() <= 100
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
            if plain { seg } else { REDACTED }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn replace_literals(filter: &str, numbers: bool) -> String {
    let mut out = String::with_capacity(filter.len());
    let mut chars = filter.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            // Skip to the closing quote (a backslash escapes the next character).
            while let Some(d) = chars.next() {
                match d {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            out.push('"');
            out.push_str(REDACTED);
            out.push('"');
        } else if numbers && c.is_ascii_digit() && !out.ends_with(|p: char| p.is_alphanumeric()) {
            // A number standing alone (`age gt 30`), not part of a name (`x509`).
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_alphanumeric() || matches!(d, '.' | ':' | '-'))
            {
                chars.next();
            }
            out.push_str(REDACTED);
        } else {
            out.push(c);
        }
    }
    out
}

/// A query string with `filter` redacted as [`redact_filter`] does, the paging, sorting
/// and attribute-selection parameters kept, and any other parameter's value replaced.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = percent_decode(value);
            let kept = match name.to_ascii_lowercase().as_str() {
                "filter" => redact_filter(&decoded),
                "startindex" | "count" | "attributes" | "excludedattributes" | "sortby"
                | "sortorder" => decoded,
                _ => REDACTED.to_string(),
            };
            format!("{name}={kept}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `+` and `%XX` decoded; invalid escapes kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entra_deactivation_keeps_the_operation_and_its_value() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        });
        assert_eq!(redact_body(&body), body);
    }

    #[test]
    fn personal_values_are_replaced_and_names_kept() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "alice@example.com",
            "externalId": "00u1",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"value": "alice@example.com", "primary": true, "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 42}
        });
        assert_eq!(
            redact_body(&body),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "…",
                "externalId": "…",
                "active": true,
                "name": {"givenName": "…", "familyName": "…"},
                "emails": [{"value": "…", "primary": true, "type": "…"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "…"}
            })
        );
    }

    #[test]
    fn an_okta_value_object_keeps_active_and_hides_the_rest() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false, "displayName": "Bob"}}]
        });
        assert_eq!(
            redact_body(&body)["Operations"][0]["value"],
            json!({"active": false, "displayName": "…"})
        );
    }

    #[test]
    fn a_value_that_is_not_a_schema_urn_is_replaced_even_under_schemas() {
        let body = json!({"schemas": ["alice@example.com"]});
        assert_eq!(redact_body(&body), json!({"schemas": ["…"]}));
    }

    #[test]
    fn paths_keep_their_attributes_and_lose_their_literals() {
        let body =
            json!({"Operations": [{"op": "remove", "path": "members[value eq \"2819c223\"]"}]});
        assert_eq!(
            redact_body(&body)["Operations"][0]["path"],
            json!("members[value eq \"…\"]")
        );
    }

    #[test]
    fn filters_lose_quoted_and_bare_literals() {
        assert_eq!(
            redact_filter(r#"userName eq "al\"ice@example.com" and x509 gt 30"#),
            r#"userName eq "…" and x509 gt …"#
        );
    }

    #[test]
    fn paths_keep_ids_and_lose_addresses() {
        assert_eq!(
            redact_path("/scim/v2/Users/alice@example.com"),
            "/scim/v2/Users/…"
        );
        assert_eq!(
            redact_path("/scim/v2/Users/mem_01JABC"),
            "/scim/v2/Users/mem_01JABC"
        );
    }

    #[test]
    fn messages_lose_quoted_literals_and_keep_names() {
        assert_eq!(
            redact_filter_literals("'userName' \"bob@example.com\" is taken (limit 1000)"),
            "'userName' \"…\" is taken (limit 1000)"
        );
    }

    #[test]
    fn query_strings_keep_paging_and_redact_the_filter() {
        assert_eq!(
            redact_query(
                "filter=userName+eq+%22alice%40example.com%22&startIndex=1&count=100&x=secret"
            ),
            r#"filter=userName eq "…"&startIndex=1&count=100&x=…"#
        );
    }
}
