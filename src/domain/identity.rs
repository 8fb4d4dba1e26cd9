//! How accounts link across organizations. An account belongs to the organization whose
//! IdP created it, unless its userName is an email in a domain the operator verified for
//! that organization: then it is the one account for that email among every organization
//! that verified the domain. This module decides the linking key; it never looks at which
//! organization holds what (the caller asks the store whether the domain is verified).

use std::fmt;

/// An email domain as the operator verifies it: lower case, IDNA ASCII (`xn--…`), no
/// trailing dot, at least two labels, not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailDomain(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the domain is empty")]
    Empty,
    #[error("the domain is not a valid host name")]
    Invalid,
    #[error("the domain must have at least two labels (example.com)")]
    SingleLabel,
    #[error("an IP address is not an email domain")]
    IpAddress,
}

/// Input longer than this is not looked at (a domain is at most 253 octets of ASCII; the
/// margin leaves room for non-ASCII input before its IDNA encoding).
const MAX_INPUT: usize = 1024;

impl EmailDomain {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        // Bounds the work handed to IDNA; anything this long is rejected there anyway.
        if trimmed.len() > MAX_INPUT {
            return Err(DomainError::Invalid);
        }
        // Strict UTS #46 (STD3 rules, DNS lengths) rejects whatever is not a bare host
        // name: URLs, addresses, ports, wildcards, spaces, control characters, empty or
        // over-long labels, names over 253 octets. The tests below pin that down.
        let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainError::Invalid)?;
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainError::SingleLabel);
        }
        // A top-level label is never all digits: that is an IPv4 address.
        if labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(DomainError::IpAddress);
        }
        Ok(EmailDomain(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A userName read as an email: the key that links accounts (`local@ascii-domain`) and
/// its domain. `None` when the userName is not an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailIdentity {
    pub key: String,
    pub domain: EmailDomain,
}

impl EmailIdentity {
    /// `user_name_key` is the normalized userName (NFC, lower case, trimmed).
    pub fn of(user_name_key: &str) -> Option<Self> {
        let (local, domain) = user_name_key.rsplit_once('@')?;
        if local.is_empty() || local.len() > 64 || local.chars().any(char::is_whitespace) {
            return None;
        }
        let domain = EmailDomain::parse(domain).ok()?;
        Some(EmailIdentity {
            key: format!("{local}@{}", domain.as_str()),
            domain,
        })
    }
}

/// Which account a new membership joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountLink {
    /// The account shared by every organization that verified the email's domain.
    Verified(EmailIdentity),
    /// A new account of the provisioning organization's own.
    Private,
}

/// The linking rule: only an email in a domain verified for the provisioning
/// organization links; everything else (another organization's domain, a non-email
/// userName such as `jsmith`) makes an organization-private account.
pub fn account_link(identity: Option<EmailIdentity>, domain_verified: bool) -> AccountLink {
    match identity {
        Some(id) if domain_verified => AccountLink::Verified(id),
        _ => AccountLink::Private,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_to_lower_case_ascii() {
        assert_eq!(
            EmailDomain::parse(" Acme.COM. ").unwrap().as_str(),
            "acme.com"
        );
        assert_eq!(
            EmailDomain::parse("münchen.de").unwrap().as_str(),
            "xn--mnchen-3ya.de"
        );
        assert_eq!(
            EmailDomain::parse("xn--mnchen-3ya.de").unwrap(),
            EmailDomain::parse("MÜNCHEN.de").unwrap()
        );
    }

    #[test]
    fn junk_is_not_a_domain() {
        for junk in [
            "",
            " ",
            ".",
            "com",
            "localhost",
            "10.0.0.1",
            "https://acme.com",
            "user@acme.com",
            "acme.com:443",
            "*.acme.com",
            "acme..com",
            "-acme.com",
            "acme .com",
            "a_b.com",
            "acme%2e.com",
            "acme#.com",
            "ac?me.com",
            "acme[1].com",
            "acme\\.com",
            "acme/x.com",
            "acme\t.com",
            "acme\u{7}.com",
            "acme\u{a0}.com",
            "\u{ad}",
            "acme.\u{ad}",
        ] {
            assert!(EmailDomain::parse(junk).is_err(), "{junk:?} was accepted");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(EmailDomain::parse(&long_label).is_err());
        let longest_label = format!("{}.com", "a".repeat(63));
        assert!(EmailDomain::parse(&longest_label).is_ok());
        // 253 octets is the most a domain may have; 254 is one too many.
        let l63 = "a".repeat(63);
        let longest = format!("{l63}.{l63}.{l63}.{}.com", "a".repeat(57));
        assert_eq!(longest.len(), 253);
        assert!(EmailDomain::parse(&longest).is_ok());
        assert!(EmailDomain::parse(&format!("a{longest}")).is_err());
        let too_long = format!("{}com", "abcdefghi.".repeat(26));
        assert!(EmailDomain::parse(&too_long).is_err());
        assert!(EmailDomain::parse(&"a.".repeat(MAX_INPUT)).is_err());
    }

    #[test]
    fn a_domain_displays_as_its_ascii_form() {
        let d = EmailDomain::parse("MÜNCHEN.de").unwrap();
        assert_eq!(d.to_string(), "xn--mnchen-3ya.de");
    }

    #[test]
    fn the_local_part_of_an_email_is_at_most_64_octets() {
        let at_limit = format!("{}@acme.com", "a".repeat(64));
        assert_eq!(
            EmailIdentity::of(&at_limit).map(|i| i.key),
            Some(at_limit.clone())
        );
        assert_eq!(EmailIdentity::of(&format!("a{at_limit}")), None);
    }

    #[test]
    fn an_email_username_yields_its_linking_key_and_domain() {
        let id = EmailIdentity::of("jane.doe@münchen.de").unwrap();
        assert_eq!(id.key, "jane.doe@xn--mnchen-3ya.de");
        assert_eq!(id.domain.as_str(), "xn--mnchen-3ya.de");
        assert_eq!(
            EmailIdentity::of("jane.doe@xn--mnchen-3ya.de").unwrap().key,
            id.key
        );
    }

    #[test]
    fn a_username_that_is_not_an_email_has_no_linking_key() {
        for name in [
            "jsmith",
            "@acme.com",
            "jsmith@",
            "j smith@acme.com",
            "jsmith@localhost",
        ] {
            assert_eq!(EmailIdentity::of(name), None, "{name}");
        }
    }

    #[test]
    fn only_an_email_in_a_verified_domain_links() {
        let id = EmailIdentity::of("ceo@victim.com");
        assert_eq!(account_link(id.clone(), false), AccountLink::Private);
        assert!(matches!(account_link(id, true), AccountLink::Verified(_)));
        assert_eq!(account_link(None, true), AccountLink::Private);
    }
}
