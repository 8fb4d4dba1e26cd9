//! Content directives: what the operator asks the application to do with a deleted
//! user's content (messages, posts, comments). offboard does not own that content: it
//! records the directives in the audit row and carries them in `membership.deleted` and
//! `user.deleted` as `content`, for the application to carry out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The four directives of the Delete User API offboard was built from; each is `false`
/// unless the operator set it.
/// Stored in a job's parameters as serialized (snake_case names, all four).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ContentDirectives {
    /// Delete everything the user authored (implies the three below).
    pub delete_all: bool,
    /// Keep the user's messages but show them as deleted.
    pub mark_messages_deleted: bool,
    /// Delete the user's posts for good rather than hiding them.
    pub hard_delete_posts: bool,
    /// Delete the user's comments for good rather than hiding them.
    pub hard_delete_comments: bool,
}

/// Each directive's name, and the camelCase name that API itself uses.
const NAMES: [(&str, &str); 4] = [
    ("delete_all", "deleteAll"),
    ("mark_messages_deleted", "markMessageDeleted"),
    ("hard_delete_posts", "hardDeletePost"),
    ("hard_delete_comments", "hardDeleteComment"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectiveError {
    #[error("{0} must be true or false")]
    NotBoolean(&'static str),
    #[error("{0} and {1} name the same directive; send one of them")]
    Twice(&'static str, &'static str),
}

impl DirectiveError {
    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            DirectiveError::NotBoolean(f) | DirectiveError::Twice(f, _) => f,
        }
    }
}

impl ContentDirectives {
    /// Every field name a body may use for a directive, both spellings.
    pub fn field_names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().flat_map(|(snake, camel)| [*snake, *camel])
    }

    /// Reads the directives from a request body's fields (other fields are left to the
    /// caller); `None` when it names none. Each must be a boolean, and a directive may be
    /// named once, in either spelling.
    pub fn from_fields(body: &Map<String, Value>) -> Result<Option<Self>, DirectiveError> {
        let mut named = false;
        let mut values = [false; 4];
        for (slot, (snake, camel)) in values.iter_mut().zip(NAMES) {
            let given = match (body.get(snake), body.get(camel)) {
                (Some(_), Some(_)) => return Err(DirectiveError::Twice(snake, camel)),
                (Some(v), None) => Some((snake, v)),
                (None, Some(v)) => Some((camel, v)),
                (None, None) => None,
            };
            if let Some((name, v)) = given {
                *slot = v.as_bool().ok_or(DirectiveError::NotBoolean(name))?;
                named = true;
            }
        }
        let [
            delete_all,
            mark_messages_deleted,
            hard_delete_posts,
            hard_delete_comments,
        ] = values;
        Ok(named.then_some(ContentDirectives {
            delete_all,
            mark_messages_deleted,
            hard_delete_posts,
            hard_delete_comments,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Option<ContentDirectives>, DirectiveError> {
        ContentDirectives::from_fields(v.as_object().unwrap())
    }

    #[test]
    fn both_spellings_read_as_the_same_directives() {
        let snake =
            read(json!({"delete_all": true, "hard_delete_comments": true, "confirm": true}));
        let camel = read(json!({"deleteAll": true, "hardDeleteComment": true}));
        let want = ContentDirectives {
            delete_all: true,
            hard_delete_comments: true,
            ..Default::default()
        };
        assert_eq!(snake, Ok(Some(want)));
        assert_eq!(camel, Ok(Some(want)));
        assert_eq!(
            read(json!({"markMessageDeleted": true, "hard_delete_posts": true})),
            Ok(Some(ContentDirectives {
                mark_messages_deleted: true,
                hard_delete_posts: true,
                ..Default::default()
            }))
        );
    }

    #[test]
    fn no_directive_is_none_and_explicit_false_is_some() {
        assert_eq!(read(json!({"confirm": true})), Ok(None));
        assert_eq!(
            read(json!({"hardDeletePost": false})),
            Ok(Some(ContentDirectives::default()))
        );
    }

    #[test]
    fn non_booleans_and_doubles_are_refused_by_name() {
        for bad in [
            json!("true"),
            json!(1),
            json!(null),
            json!({}),
            json!([true]),
        ] {
            let err = read(json!({"hardDeleteComment": bad})).unwrap_err();
            assert_eq!(err, DirectiveError::NotBoolean("hardDeleteComment"));
            assert_eq!(err.field(), "hardDeleteComment");
        }
        assert_eq!(
            read(json!({"delete_all": true, "deleteAll": true})),
            Err(DirectiveError::Twice("delete_all", "deleteAll"))
        );
    }

    #[test]
    fn field_names_cover_both_spellings() {
        let names: Vec<_> = ContentDirectives::field_names().collect();
        assert_eq!(names.len(), 8);
        for n in [
            "delete_all",
            "markMessageDeleted",
            "hard_delete_posts",
            "hardDeleteComment",
        ] {
            assert!(names.contains(&n), "{n}");
        }
    }
}
