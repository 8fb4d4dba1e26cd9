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

impl EmailDomain {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        // Anything that is not a bare host name (a URL, an address, a port, a wildcard).
        if trimmed.len() > 1024
            || trimmed
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "@/:*?#[]\\%".contains(c))
        {
            return Err(DomainError::Invalid);
        }
        let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainError::Invalid)?;
        if ascii.is_empty() || ascii.len() > 253 {
            return Err(DomainError::Invalid);
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainError::SingleLabel);
        }
        if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
            return Err(DomainError::Invalid);
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
        ] {
            assert!(EmailDomain::parse(junk).is_err(), "{junk:?} was accepted");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(EmailDomain::parse(&long_label).is_err());
        let too_long = format!("{}com", "abcdefghi.".repeat(26));
        assert!(EmailDomain::parse(&too_long).is_err());
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
