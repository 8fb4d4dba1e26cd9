//! A membership's status, on its own: the events name it and the membership rules
//! decide it, and neither needs the other to say what it is.

#[derive(Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipStatus {
    Active,
    Inactive,
    PendingInvite,
}

impl MembershipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "ACTIVE",
            MembershipStatus::Inactive => "INACTIVE",
            MembershipStatus::PendingInvite => "PENDING_INVITE",
        }
    }

    /// SCIM `active` is `status == ACTIVE`.
    pub fn is_active(self) -> bool {
        self == MembershipStatus::Active
    }
}

impl serde::Serialize for MembershipStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
