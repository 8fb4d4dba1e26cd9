//! An organization's SCIM connection health: what its tokens' recent requests say.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// No token of the organization was ever used.
    NeverConnected,
    /// Requests come and mostly succeed.
    Healthy,
    /// Errors dominate the last hour.
    Failing,
    /// No request for longer than `quiet_after`.
    Quiet,
    /// The deprovisioning guard holds deprovisionings this IdP asked for (it was
    /// answered 429): an operator must approve or reject them.
    Held,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 5] = [
        ConnectionState::NeverConnected,
        ConnectionState::Healthy,
        ConnectionState::Failing,
        ConnectionState::Quiet,
        ConnectionState::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NeverConnected => "never_connected",
            ConnectionState::Healthy => "healthy",
            ConnectionState::Failing => "failing",
            ConnectionState::Quiet => "quiet",
            ConnectionState::Held => "held",
        }
    }
}

/// Requests by status class, and the client errors that were a token refused by its own
/// rules, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub succeeded: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    pub refused_expired: i64,
    pub refused_network: i64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.succeeded += other.succeeded;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.refused_expired += other.refused_expired;
        self.refused_network += other.refused_network;
    }

    /// One request refused for `why` (answered 401: a client error too).
    pub fn of_refusal(why: super::token::Refusal) -> Self {
        let mut c = Counts::of_status(401);
        match why {
            super::token::Refusal::Expired { .. } => c.refused_expired = 1,
            super::token::Refusal::OutsideNetworks => c.refused_network = 1,
        }
        c
    }

    pub fn errors(&self) -> i64 {
        self.client_errors + self.server_errors
    }

    /// The class of one answer.
    pub fn of_status(status: u16) -> Self {
        match status {
            400..=499 => Counts {
                client_errors: 1,
                ..Counts::default()
            },
            500..=599 => Counts {
                server_errors: 1,
                ..Counts::default()
            },
            _ => Counts {
                succeeded: 1,
                ..Counts::default()
            },
        }
    }
}

/// Fewer errors than this in the last hour never make a connection `failing` (one bad
/// request is not an outage).
pub const FAILING_MIN_ERRORS: i64 = 5;

/// The state from the last request of any of the organization's tokens, the last
/// hour's counts, and whether the guard holds deprovisionings the IdP asked for (the
/// operator's move comes first: the IdP sees only 429s until then, and Entra quarantines
/// an application that gets bursts of them).
pub fn state(
    last_used: Option<DateTime<Utc>>,
    last_hour: Counts,
    held: bool,
    now: DateTime<Utc>,
    quiet_after: Duration,
) -> ConnectionState {
    match last_used {
        None => ConnectionState::NeverConnected,
        Some(_) if held => ConnectionState::Held,
        Some(at) if now - at > quiet_after => ConnectionState::Quiet,
        Some(_)
            if last_hour.errors() >= FAILING_MIN_ERRORS
                && last_hour.errors() > last_hour.succeeded =>
        {
            ConnectionState::Failing
        }
        Some(_) => ConnectionState::Healthy,
    }
}

/// What the client says it is, from its `User-Agent` (Entra often sends none).
pub fn client_of(user_agent: Option<&str>) -> &'static str {
    let Some(ua) = user_agent.map(str::to_ascii_lowercase) else {
        return "unknown";
    };
    [
        ("okta", "okta"),
        ("azure", "entra"),
        ("microsoft", "entra"),
        ("aad", "entra"),
        ("jumpcloud", "jumpcloud"),
        ("onelogin", "onelogin"),
        ("google", "google"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("other", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ok: i64, client: i64, server: i64) -> Counts {
        Counts {
            succeeded: ok,
            client_errors: client,
            server_errors: server,
            ..Counts::default()
        }
    }

    #[test]
    fn states_follow_the_last_request_and_the_last_hour() {
        let now = Utc::now();
        let week = Duration::days(7);
        assert_eq!(
            state(None, counts(0, 0, 0), false, now, week),
            ConnectionState::NeverConnected
        );
        let recent = Some(now - Duration::minutes(1));
        assert_eq!(
            state(recent, counts(10, 2, 0), false, now, week),
            ConnectionState::Healthy
        );
        assert_eq!(
            state(recent, counts(3, 4, 1), false, now, week),
            ConnectionState::Failing
        );
        // A few errors are not an outage; as many errors as successes is not dominating.
        assert_eq!(
            state(recent, counts(0, 4, 0), false, now, week),
            ConnectionState::Healthy
        );
        assert_eq!(
            state(recent, counts(5, 5, 0), false, now, week),
            ConnectionState::Healthy
        );
        let old = Some(now - Duration::days(8));
        assert_eq!(
            state(old, counts(0, 0, 0), false, now, week),
            ConnectionState::Quiet
        );
        assert_eq!(
            state(Some(now - week), counts(0, 0, 0), false, now, week),
            ConnectionState::Healthy
        );
    }

    #[test]
    fn held_deprovisionings_put_the_connection_in_the_operators_hands() {
        let now = Utc::now();
        let week = Duration::days(7);
        let recent = Some(now - Duration::minutes(1));
        // Two 429s among many successes would read as healthy; held says what to do.
        assert_eq!(
            state(recent, counts(50, 2, 0), true, now, week),
            ConnectionState::Held
        );
        assert_eq!(
            state(recent, counts(0, 9, 0), true, now, week),
            ConnectionState::Held
        );
        assert_eq!(
            state(
                Some(now - Duration::days(8)),
                counts(0, 0, 0),
                true,
                now,
                week
            ),
            ConnectionState::Held
        );
        assert_eq!(
            state(None, counts(0, 0, 0), true, now, week),
            ConnectionState::NeverConnected
        );
    }

    #[test]
    fn answers_are_classed_and_clients_named() {
        assert_eq!(Counts::of_status(201), counts(1, 0, 0));
        assert_eq!(Counts::of_status(429), counts(0, 1, 0));
        assert_eq!(Counts::of_status(503), counts(0, 0, 1));
        assert_eq!(client_of(Some("Okta SCIM Client 1.0.0")), "okta");
        assert_eq!(client_of(None), "unknown");
        assert_eq!(client_of(Some("curl/8")), "other");
    }
}
