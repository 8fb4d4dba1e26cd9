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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id(USER);
        let b = new_id(USER);
        assert!(a.starts_with("usr_") && a.len() == 4 + 26);
        // The first ten characters of a ULID are its millisecond timestamp.
        assert!(a[..14] <= b[..14], "ids sort by creation time");
    }
}
