//! Event types and payloads, as SPEC's Webhooks section defines them. Payloads name what
//! changed by id and never carry personal data.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserCreated,
    UserDeleted,
    MembershipCreated,
    MembershipUpdated,
    MembershipDeactivated,
    MembershipReactivated,
    MembershipDeleted,
    SessionsRevoked,
    OrganizationDeleted,
    GroupCreated,
    GroupUpdated,
    GroupMemberAdded,
    GroupMemberRemoved,
    GroupDeleted,
}

impl EventType {
    /// Every type offboard emits (and SPEC names, groups included), for endpoint filters.
    pub const NAMES: &'static [&'static str] = &[
        "user.created",
        "user.deleted",
        "membership.created",
        "membership.updated",
        "membership.deactivated",
        "membership.reactivated",
        "membership.deleted",
        "sessions.revoked",
        "organization.deleted",
        "group.created",
        "group.updated",
        "group.member_added",
        "group.member_removed",
        "group.deleted",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserDeleted => "user.deleted",
            EventType::MembershipCreated => "membership.created",
            EventType::MembershipUpdated => "membership.updated",
            EventType::MembershipDeactivated => "membership.deactivated",
            EventType::MembershipReactivated => "membership.reactivated",
            EventType::MembershipDeleted => "membership.deleted",
            EventType::SessionsRevoked => "sessions.revoked",
            EventType::OrganizationDeleted => "organization.deleted",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupMemberAdded => "group.member_added",
            EventType::GroupMemberRemoved => "group.member_removed",
            EventType::GroupDeleted => "group.deleted",
        }
    }
}

/// An event decided inside a transaction, before it has an id and a sequence number.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub user_id: Option<String>,
    pub data: Value,
}

impl NewEvent {
    /// An event about the organization as a whole, outside any user's order.
    pub fn organization(event_type: EventType, data: Value) -> Self {
        NewEvent {
            event_type,
            user_id: None,
            data,
        }
    }

    pub fn new(event_type: EventType, user_id: &str, data: Value) -> Self {
        NewEvent {
            event_type,
            user_id: Some(user_id.to_string()),
            data,
        }
    }
}

/// A membership as events name it: its own id and the SCIM id its organization's IdP
/// knows the user by.
#[derive(Debug, Clone, Copy)]
pub struct MembershipRef<'a> {
    pub id: &'a str,
    pub scim_id: &'a str,
}

impl<'a> From<&'a entity::memberships::Model> for MembershipRef<'a> {
    fn from(m: &'a entity::memberships::Model) -> Self {
        MembershipRef {
            id: &m.id,
            scim_id: &m.scim_id,
        }
    }
}

/// `data` for membership events.
pub fn membership_data(
    organization_id: &str,
    user_id: &str,
    membership: MembershipRef<'_>,
    status: &str,
    previous_status: Option<&str>,
) -> Value {
    json!({
        "organization": {"id": organization_id},
        "user": {"id": user_id},
        "membership": {
            "id": membership.id,
            "scim_id": membership.scim_id,
            "status": status,
            "previous_status": previous_status,
        },
    })
}

/// The webhook body: `{"id","type","timestamp","organization_id","sequence","data"}`.
pub fn envelope(
    id: &str,
    event_type: &str,
    at: DateTime<Utc>,
    organization_id: &str,
    sequence: i64,
    data: &Value,
) -> Value {
    json!({
        "id": id,
        "type": event_type,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "organization_id": organization_id,
        "sequence": sequence,
        "data": data,
    })
}

/// `data` for group events: ids only. A member is named by its account and by its SCIM
/// id in the organization (`(account id, scim id)`).
pub fn group_data(organization_id: &str, group_id: &str, member: Option<(&str, &str)>) -> Value {
    let mut v = json!({"organization": {"id": organization_id}, "group": {"id": group_id}});
    if let Some((user, scim_id)) = member {
        v["user"] = json!({"id": user});
        v["membership"] = json!({"scim_id": scim_id});
    }
    v
}
