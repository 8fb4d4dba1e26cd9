//! Optimistic concurrency: a write may say which versions of a resource it was made
//! against (`If-Match` with the `meta.version` ETags it read, or `*`); against any other
//! version it changes nothing.

/// The versions a write accepts, read once from `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IfMatch {
    /// No `If-Match`: any version.
    #[default]
    Absent,
    /// `*`: any version of a resource that exists.
    Any,
    /// The listed versions (`W/"3"` and `"3"` alike); tags that are not ours match none.
    Versions(Vec<i64>),
}

/// The resource is no longer at a version the write accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale;

impl IfMatch {
    pub fn parse(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return IfMatch::Absent;
        };
        let mut versions = Vec::new();
        for tag in header.split(',').map(str::trim) {
            if tag == "*" {
                return IfMatch::Any;
            }
            let strong = tag.strip_prefix("W/").unwrap_or(tag);
            if let Some(v) = strong
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok())
            {
                versions.push(v);
            }
        }
        IfMatch::Versions(versions)
    }

    pub fn check(&self, version: i64) -> Result<(), Stale> {
        match self {
            IfMatch::Absent | IfMatch::Any => Ok(()),
            IfMatch::Versions(v) if v.contains(&version) => Ok(()),
            IfMatch::Versions(_) => Err(Stale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_strong_tags_of_the_current_version_match() {
        for h in [r#"W/"3""#, r#""3""#, r#"W/"1", "3""#, "*"] {
            assert_eq!(IfMatch::parse(Some(h)).check(3), Ok(()), "{h}");
        }
        assert_eq!(IfMatch::parse(None).check(3), Ok(()));
    }

    #[test]
    fn any_other_tag_is_stale() {
        for h in [r#"W/"2""#, "3", r#"W/"abc""#, "", r#""3"x"#] {
            assert_eq!(IfMatch::parse(Some(h)).check(3), Err(Stale), "{h}");
        }
    }
}
