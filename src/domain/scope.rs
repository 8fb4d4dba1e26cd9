//! What an application's API key may do: its scopes, each allowing exactly its `/v1`
//! routes. An application holds a key with what it needs and nothing more; admin JWTs are
//! for operators and open none of these routes.

/// One thing an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `GET /v1/events`: the pull feed.
    EventsRead,
    /// `GET /v1/sessions/{id}`: introspection.
    SessionsRead,
    /// `POST /v1/sessions`, `DELETE /v1/sessions/{id}`: register and revoke.
    SessionsWrite,
    /// `GET /v1/users/{id}`: a user and their memberships.
    UsersRead,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::EventsRead,
        Scope::SessionsRead,
        Scope::SessionsWrite,
        Scope::UsersRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsRead => "events:read",
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::UsersRead => "users:read",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether a key whose stored scopes are `stored` (space-separated) has this one.
    pub fn held_by(self, stored: &str) -> bool {
        stored.split(' ').any(|s| s == self.as_str())
    }

    /// Every scope's name, for messages.
    pub fn known() -> String {
        Scope::ALL.map(Scope::as_str).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_is_its_own_name_and_nothing_else() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            assert!(s.held_by(s.as_str()));
        }
        assert_eq!(Scope::parse("sessions:*"), None);
        assert_eq!(Scope::parse("EVENTS:READ"), None);
        assert!(!Scope::SessionsWrite.held_by("sessions:read events:read"));
        assert!(Scope::SessionsRead.held_by("events:read sessions:read"));
        assert!(!Scope::UsersRead.held_by("users:readx"));
    }
}
