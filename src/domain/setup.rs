//! Setup links, as an operator asks for them: which identity provider the IT admin is
//! guided through, and how long the link lives. Parsed once: the admin API and the CLI
//! accept and refuse the same values.

use std::time::Duration;

use super::organization::InvalidSetting;

/// How long a link lives when the operator does not say.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest a link may live: it is a credential handed to someone outside.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Live links an organization may have at once (a loop creating links stops here).
pub const MAX_LIVE_LINKS: u64 = 100;

/// The identity providers the setup page has a guide for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idp {
    Okta,
    Entra,
    JumpCloud,
    OneLogin,
    Google,
    Other,
}

impl Idp {
    pub const ALL: [Idp; 6] = [
        Idp::Okta,
        Idp::Entra,
        Idp::JumpCloud,
        Idp::OneLogin,
        Idp::Google,
        Idp::Other,
    ];

    /// The name the API, the CLI and the page's addresses use.
    pub fn name(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::JumpCloud => "jumpcloud",
            Idp::OneLogin => "onelogin",
            Idp::Google => "google",
            Idp::Other => "other",
        }
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Idp::Okta => "Okta",
            Idp::Entra => "Microsoft Entra ID",
            Idp::JumpCloud => "JumpCloud",
            Idp::OneLogin => "OneLogin",
            Idp::Google => "Google Workspace",
            Idp::Other => "another SCIM 2.0 client",
        }
    }

    pub fn parse(raw: &str) -> Result<Idp, InvalidSetting> {
        Idp::ALL
            .into_iter()
            .find(|i| i.name() == raw.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = Idp::ALL.iter().map(|i| i.name()).collect();
                InvalidSetting::new(format!("idp must be one of {}", known.join(", ")))
            })
    }
}

/// What the IT admin should change in their IdP after offboard refused one of its
/// requests with `status` (and the SCIM error's `scimType` and `detail`): shown beside
/// the error on the setup page. Plain advice, from what the answer says, never a guess
/// about data the page does not show.
pub fn advice(idp: Idp, status: u16, scim_type: Option<&str>, detail: &str) -> String {
    let who = match idp {
        Idp::Other => "your SCIM client",
        _ => idp.label(),
    };
    let detail_lc = detail.to_ascii_lowercase();
    match (status, scim_type) {
        (401, _) if detail_lc.contains("expired") => format!(
            "The token {who} sends has expired. Ask the application's operator for a new setup link (or token) and paste the new token in {who}."
        ),
        (401, _) if detail_lc.contains("network") => format!(
            "{who} called from an address outside this token's allowed networks. Ask the application's operator to add {who}'s outgoing addresses to the token."
        ),
        (401, _) => format!(
            "{who} sent no token, or one offboard does not know. Paste the whole token (without \"Bearer \") in {who}'s token field."
        ),
        (409, _) => format!(
            "{who} tried to create a user or group that this organization already has (the same userName or displayName). Let {who} match existing users by userName, or remove the duplicate in {who}."
        ),
        (400, Some("invalidFilter")) => format!(
            "{who} searched with a filter offboard does not answer. Keep the default user matching (userName) in {who}'s settings."
        ),
        (400, Some("invalidPath" | "noTarget" | "mutability")) => format!(
            "{who} sent a change offboard cannot apply to that attribute. Remove or fix that attribute's mapping in {who}'s attribute mappings."
        ),
        (400, _) if idp == Idp::Entra && detail_lc.contains("active") => {
            "Entra sent `active` in a form offboard cannot read. Add `?aadOptscim062020` to the Tenant URL, as the steps above say.".to_string()
        }
        (400, _) => format!(
            "{who} sent a value offboard cannot accept. Check the attribute mappings in {who}: remove mappings this application does not need, and keep userName an email address."
        ),
        (404, _) => format!(
            "{who} named a user or group that this organization does not have (removed here, or made through another connection). {who} usually creates it again on its next run; if this repeats, push the user or group again from {who}."
        ),
        (412, _) => format!(
            "{who} changed a record with an out-of-date version; it retries with the current one on its own."
        ),
        (413, _) => format!(
            "A request from {who} was too large. Push large groups in smaller batches, or ask the application's operator."
        ),
        (429, _) => format!(
            "{who} sent faster than this organization may, or a mass deactivation is held for the application's operator to approve. {who} retries on its own; nothing to change."
        ),
        (500..=599, _) => format!(
            "offboard failed on its side: nothing to change in {who}, which retries. If this repeats, tell the application's operator the time shown."
        ),
        _ => format!("Check the error above against {who}'s provisioning settings."),
    }
}

/// A link's lifetime: `7d` by default, at most 30 days, at least a minute.
pub fn link_ttl(raw: Option<&str>) -> Result<Duration, InvalidSetting> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_TTL);
    };
    let ttl = humantime::parse_duration(raw.trim()).map_err(|_| {
        InvalidSetting::new(format!("ttl: '{raw}' is not a duration (e.g. 12h, 7d)"))
    })?;
    if ttl < Duration::from_secs(60) || ttl > MAX_TTL {
        return Err(InvalidSetting::new("ttl must be between 1m and 30d"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_lives_seven_days_unless_told_and_thirty_at_most() {
        assert_eq!(link_ttl(None), Ok(DEFAULT_TTL));
        assert_eq!(link_ttl(Some("12h")), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(link_ttl(Some("30d")), Ok(MAX_TTL));
        assert!(link_ttl(Some("31d")).is_err());
        assert!(link_ttl(Some("30s")).is_err());
        assert!(link_ttl(Some("soon")).is_err());
    }

    #[test]
    fn advice_follows_the_answer_and_names_the_idp() {
        let expired = advice(Idp::Okta, 401, None, "the bearer token expired at …");
        assert!(expired.contains("expired") && expired.contains("Okta"));
        let network = advice(
            Idp::Okta,
            401,
            None,
            "may not be used from this network address",
        );
        assert!(network.contains("allowed networks"));
        assert!(advice(Idp::Entra, 409, Some("uniqueness"), "taken").contains("already has"));
        assert!(
            advice(
                Idp::Entra,
                400,
                Some("invalidValue"),
                "active must be a boolean"
            )
            .contains("aadOptscim062020")
        );
        assert!(
            !advice(
                Idp::Okta,
                400,
                Some("invalidValue"),
                "active must be a boolean"
            )
            .contains("aadOptscim062020")
        );
        assert!(advice(Idp::Other, 503, None, "").contains("your SCIM client"));
    }

    #[test]
    fn idps_parse_by_their_names_only() {
        for i in Idp::ALL {
            assert_eq!(Idp::parse(i.name()), Ok(i));
        }
        assert!(Idp::parse("ping").is_err());
        assert!(Idp::parse("Okta").is_err());
    }
}
