//! Opaque prefixed identifiers (`usr_01J…`): a type prefix and a ULID, so ids sort by
//! creation time, which gives list responses a stable order.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

pub const ORGANIZATION: &str = "org";
pub const USER: &str = "usr";
pub const MEMBERSHIP: &str = "mem";
pub const SESSION: &str = "ses";
pub const SCIM_TOKEN: &str = "tok";
pub const EVENT: &str = "evt";
pub const AUDIT: &str = "aud";
pub const REQUEST: &str = "req";

/// Whether `id` looks like one of ours with the given prefix; a cheap check before a
/// database lookup, never a substitute for one.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 27
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && id[prefix.len() + 1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix() {
        let id = new_id(USER);
        assert!(has_prefix(&id, USER));
        assert!(!has_prefix(&id, ORGANIZATION));
        assert!(!has_prefix("usr_x", USER));
    }
}
