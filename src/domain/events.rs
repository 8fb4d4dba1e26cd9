//! The events offboard publishes, as SPEC's Webhooks section defines them: one variant
//! per type, each with its payload (`data`) as a typed struct, so a type and its payload
//! cannot disagree. Payloads name what changed by id and never carry personal data.

use super::content::ContentDirectives;
use chrono::{DateTime, Utc};
use ids::{GroupId, OrganizationId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::status::MembershipStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserDeleted,
    UserSuspended,
    UserUnsuspended,
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
    DeprovisionGuardTripped,
    DeprovisionGuardResolved,
    DeprovisionGuardWouldTrip,
    ScimTokenCreated,
    ScimTokenRotated,
    ScimTokenRevoked,
    ScimTokenExpired,
    MembershipRolesChanged,
}

impl EventType {
    /// Every type offboard emits (and SPEC names, groups included), for endpoint filters.
    pub const ALL: [EventType; 24] = [
        EventType::UserCreated,
        EventType::UserDeleted,
        EventType::UserSuspended,
        EventType::UserUnsuspended,
        EventType::MembershipCreated,
        EventType::MembershipUpdated,
        EventType::MembershipDeactivated,
        EventType::MembershipReactivated,
        EventType::MembershipDeleted,
        EventType::SessionsRevoked,
        EventType::OrganizationDeleted,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupMemberAdded,
        EventType::GroupMemberRemoved,
        EventType::GroupDeleted,
        EventType::DeprovisionGuardTripped,
        EventType::DeprovisionGuardResolved,
        EventType::DeprovisionGuardWouldTrip,
        EventType::ScimTokenCreated,
        EventType::ScimTokenRotated,
        EventType::ScimTokenRevoked,
        EventType::ScimTokenExpired,
        EventType::MembershipRolesChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserDeleted => "user.deleted",
            EventType::UserSuspended => "user.suspended",
            EventType::UserUnsuspended => "user.unsuspended",
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
            EventType::DeprovisionGuardTripped => "deprovision_guard.tripped",
            EventType::DeprovisionGuardResolved => "deprovision_guard.resolved",
            EventType::DeprovisionGuardWouldTrip => "deprovision_guard.would_trip",
            EventType::ScimTokenCreated => "scim_token.created",
            EventType::ScimTokenRotated => "scim_token.rotated",
            EventType::ScimTokenRevoked => "scim_token.revoked",
            EventType::ScimTokenExpired => "scim_token.expired",
            EventType::MembershipRolesChanged => "membership.roles_changed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// What the event tells an application, for the published list of types.
    pub fn description(self) -> &'static str {
        match self {
            EventType::UserCreated => {
                "An account was created by an organization's IdP (the organization's view of the user)."
            }
            EventType::UserDeleted => {
                "An account was deleted: its personal data is erased (ids only)."
            }
            EventType::UserSuspended => {
                "An operator suspended the account: every session ended, new ones refused."
            }
            EventType::UserUnsuspended => "The account's suspension ended (lifted, or `expired`).",
            EventType::MembershipCreated => {
                "A user joined the organization (or a restore brought the membership back)."
            }
            EventType::MembershipUpdated => "The organization's record of the user changed.",
            EventType::MembershipDeactivated => {
                "The user's access to the organization ended (INACTIVE); the account stays."
            }
            EventType::MembershipReactivated => {
                "The user's access to the organization is back (ACTIVE)."
            }
            EventType::MembershipDeleted => {
                "The user was removed from the organization (ids only)."
            }
            EventType::SessionsRevoked => "The user's sessions in the organization were revoked.",
            EventType::OrganizationDeleted => {
                "The organization was deleted, with what went with it."
            }
            EventType::GroupCreated => "A group was created.",
            EventType::GroupUpdated => "A group was renamed or its record changed.",
            EventType::GroupMemberAdded => "A user was added to a group.",
            EventType::GroupMemberRemoved => "A user left a group.",
            EventType::GroupDeleted => "A group was deleted.",
            EventType::DeprovisionGuardTripped => {
                "The deprovisioning guard tripped: further SCIM deprovisionings are held for an operator."
            }
            EventType::DeprovisionGuardResolved => {
                "Held deprovisionings were approved, rejected or withdrawn."
            }
            EventType::DeprovisionGuardWouldTrip => {
                "Dry run: the deprovisioning guard would have tripped (once a window)."
            }
            EventType::ScimTokenCreated => {
                "A SCIM token was made for the organization's IdP (by an operator or a setup link)."
            }
            EventType::ScimTokenRotated => {
                "A SCIM token was replaced by a new one; the old one works until `replaces.expires_at`."
            }
            EventType::ScimTokenRevoked => {
                "A SCIM token was revoked: the IdP using it is refused from now on."
            }
            EventType::ScimTokenExpired => {
                "A SCIM token's expiry passed (announced by the next purge run): the IdP using it is refused."
            }
            EventType::MembershipRolesChanged => {
                "The member's roles in the organization changed (`roles`, `previous_roles`, and what moved them)."
            }
        }
    }

    /// The JSON Schema (2020-12) of the whole event as delivered and stored, generated
    /// from the payload types (published under `docs/events/` and by the admin API).
    pub fn schema(self) -> Value {
        use schemars::schema_for;
        let schema = match self {
            EventType::UserCreated | EventType::UserDeleted => {
                schema_for!(EnvelopeSchema<UserData>)
            }
            EventType::UserSuspended | EventType::UserUnsuspended => {
                schema_for!(EnvelopeSchema<SuspensionData>)
            }
            EventType::MembershipCreated
            | EventType::MembershipUpdated
            | EventType::MembershipDeactivated
            | EventType::MembershipReactivated
            | EventType::MembershipDeleted => schema_for!(EnvelopeSchema<MembershipData>),
            EventType::SessionsRevoked => schema_for!(EnvelopeSchema<SessionsRevokedData>),
            EventType::OrganizationDeleted => {
                schema_for!(EnvelopeSchema<OrganizationDeletedData>)
            }
            EventType::GroupCreated
            | EventType::GroupUpdated
            | EventType::GroupMemberAdded
            | EventType::GroupMemberRemoved
            | EventType::GroupDeleted => schema_for!(EnvelopeSchema<GroupData>),
            EventType::DeprovisionGuardTripped | EventType::DeprovisionGuardWouldTrip => {
                schema_for!(EnvelopeSchema<GuardTripData>)
            }
            EventType::DeprovisionGuardResolved => {
                schema_for!(EnvelopeSchema<GuardResolvedData>)
            }
            EventType::ScimTokenCreated
            | EventType::ScimTokenRotated
            | EventType::ScimTokenRevoked
            | EventType::ScimTokenExpired => schema_for!(EnvelopeSchema<ScimTokenData>),
            EventType::MembershipRolesChanged => schema_for!(EnvelopeSchema<RolesChangedData>),
        };
        let mut v = serde_json::to_value(schema).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("title".into(), Value::String(self.as_str().into()));
            o.insert(
                "description".into(),
                Value::String(self.description().into()),
            );
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                props.insert("type".into(), serde_json::json!({"const": self.as_str()}));
            }
        }
        v
    }
}

/// An event as delivered, for its schema: the envelope, and `data` with where the change
/// came from.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct EnvelopeSchema<T> {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    timestamp: DateTime<Utc>,
    organization_id: String,
    sequence: i64,
    data: DeliveredData<T>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct DeliveredData<T> {
    #[serde(flatten)]
    payload: T,
    #[serde(flatten)]
    provenance: Provenance,
}

/// `{"id": …}`: how payloads name an organization, a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Id {
    pub id: String,
}

impl Id {
    pub fn of(id: impl AsRef<str>) -> Self {
        Id {
            id: id.as_ref().to_string(),
        }
    }
}

/// A group of the user's organization, as a user's view names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GroupRef {
    pub id: String,
    pub display_name: String,
}

/// The organization's view of a user, as its IdP provisioned it: what an application
/// needs to act on an event without asking offboard. Personal data: erased from stored
/// events when the record it comes from is erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UserView {
    pub user_name: Option<String>,
    /// The primary email (else the first).
    pub email: Option<String>,
    /// SCIM `name` as the IdP sent it (`givenName`, `familyName`, `formatted`, …).
    pub name: Option<Value>,
    pub display_name: Option<String>,
    /// SCIM `active`: `status == "ACTIVE"`.
    pub active: bool,
    pub status: MembershipStatus,
    /// The organization's groups the user is in.
    pub groups: Vec<GroupRef>,
    /// The enterprise extension (`department`, `employeeNumber`, `manager`, …), if sent.
    pub enterprise: Option<Value>,
    /// Attributes the schema does not declare, as the IdP sent them.
    pub custom_attributes: serde_json::Map<String, Value>,
}

/// The user an event is about: the account's id, the id the organization's IdP gave it
/// (`externalId`), and, on the events that describe the user, the organization's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UserRef {
    pub id: String,
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub view: Option<UserView>,
}

impl UserRef {
    pub fn of(id: &UserId) -> Self {
        UserRef {
            id: id.to_string(),
            external_id: None,
            view: None,
        }
    }
}

/// A membership as events name it: its own id, the SCIM id its organization's IdP knows
/// the user by, and its status before and after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MembershipInfo {
    pub id: String,
    pub scim_id: String,
    pub status: MembershipStatus,
    /// `null` when the membership is new.
    pub previous_status: Option<MembershipStatus>,
}

/// `data` of the `membership.*` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MembershipData {
    pub organization: Id,
    pub user: UserRef,
    pub membership: MembershipInfo,
    /// Deactivation and removal: the user's sessions in the organization that ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_revoked: Option<u64>,
    /// Removal: whether that was the account's last membership (it is deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_deleted: Option<bool>,
    /// Removal by the operator: where the application should move the user's resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_resources_to_department_id: Option<String>,
    /// Removal by the operator: what the application should do with the user's content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDirectives>,
    /// Creation by a restore within the grace period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<bool>,
    /// `membership.updated`, `membership.deactivated` and `membership.reactivated`: the
    /// value before this change of each attribute of `user` (the organization's view,
    /// and `external_id`) that the change altered, and only those (`null` where the
    /// attribute was absent); `{}` when what changed is outside the view. Erased with
    /// the view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_attributes: Option<serde_json::Map<String, Value>>,
}

impl MembershipData {
    pub fn new(
        organization_id: &OrganizationId,
        user_id: &UserId,
        membership: MembershipInfo,
    ) -> Self {
        MembershipData {
            organization: Id::of(organization_id),
            user: UserRef::of(user_id),
            membership,
            sessions_revoked: None,
            account_deleted: None,
            transfer_resources_to_department_id: None,
            content: None,
            restored: None,
            previous_attributes: None,
        }
    }
}

/// What `previous_attributes` holds: of the attributes `user` carries (all but `id`),
/// the value in `before` of each that differs in `after`, `null` where `before` had
/// none.
pub fn previous_attributes(before: &UserRef, after: &UserRef) -> serde_json::Map<String, Value> {
    let as_map = |u: &UserRef| match serde_json::to_value(u) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_map(before), as_map(after));
    let mut out = serde_json::Map::new();
    for name in before.keys().chain(after.keys()) {
        if name == "id" || out.contains_key(name) || before.get(name) == after.get(name) {
            continue;
        }
        let was = before.get(name).cloned().unwrap_or(Value::Null);
        out.insert(name.clone(), was);
    }
    out
}

/// `data` of `user.created` (with the organization's view of the user) and
/// `user.deleted` (ids and `external_id` only: a deleted account's data is being erased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UserData {
    pub organization: Id,
    pub user: UserRef,
    /// `user.deleted` by the operator: what the application should do with the user's
    /// content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDirectives>,
}

impl UserData {
    pub fn new(organization_id: &OrganizationId, user_id: &UserId) -> Self {
        UserData {
            organization: Id::of(organization_id),
            user: UserRef::of(user_id),
            content: None,
        }
    }
}

/// `data` of `user.suspended` (`until`, `null` for until lifted) and `user.unsuspended`
/// (`expired`: its time ran out, rather than the operator lifting it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SuspensionData {
    pub organization: Id,
    pub user: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
}

/// `data` of `sessions.revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SessionsRevokedData {
    pub organization: Id,
    pub user: Id,
    pub count: u64,
}

/// `data` of `organization.deleted`: what went with it. (A deletion run as a job keeps
/// it, as far as it got, with the job.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganizationDeletedData {
    pub organization: Id,
    pub memberships_removed: u64,
    pub accounts_deleted: u64,
    pub sessions_revoked: u64,
    pub groups_deleted: u64,
}

impl OrganizationDeletedData {
    /// Nothing removed yet.
    pub fn new(organization_id: &OrganizationId) -> Self {
        OrganizationDeletedData {
            organization: Id::of(organization_id),
            memberships_removed: 0,
            accounts_deleted: 0,
            sessions_revoked: 0,
            groups_deleted: 0,
        }
    }
}

/// `{"scim_id": …}`: a group member as its organization's IdP knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScimIdRef {
    pub scim_id: String,
}

/// `data` of the `group.*` events; a member event names the member's account and its
/// SCIM id in the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GroupData {
    pub organization: Id,
    pub group: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<ScimIdRef>,
}

impl GroupData {
    pub fn new(organization_id: &OrganizationId, group_id: &GroupId) -> Self {
        GroupData {
            organization: Id::of(organization_id),
            group: Id::of(group_id),
            user: None,
            membership: None,
        }
    }

    /// For `group.member_*`: the member's account and SCIM id.
    pub fn member(
        organization_id: &OrganizationId,
        group_id: &GroupId,
        user_id: &UserId,
        scim_id: &str,
    ) -> Self {
        GroupData {
            user: Some(Id::of(user_id)),
            membership: Some(ScimIdRef {
                scim_id: scim_id.to_string(),
            }),
            ..GroupData::new(organization_id, group_id)
        }
    }
}

/// The thresholds a guard was set to when it tripped (or, in a dry run, would have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GuardThreshold {
    pub max_count: u32,
    pub max_percent: u8,
    /// As configured, e.g. `"1h"`.
    pub window: String,
}

/// `data` of `deprovision_guard.tripped` and `deprovision_guard.would_trip`: the
/// deprovisionings counted in the window (the one that crossed the threshold included)
/// and the members active when it began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GuardTripData {
    pub organization: Id,
    pub count: u64,
    pub active_at_start: u64,
    pub window_started_at: DateTime<Utc>,
    pub threshold: GuardThreshold,
}

/// `data` of `deprovision_guard.resolved`: what an operator (or the IdP, withdrawing a
/// deactivation by reactivating the user) did with held deprovisionings, and how many
/// are still held (`0`: the guard is armed again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GuardResolvedData {
    pub organization: Id,
    pub approved: u64,
    pub rejected: u64,
    /// Approved, but the membership had changed meanwhile (already deactivated,
    /// removed), so there was nothing to apply.
    pub skipped: u64,
    pub withdrawn: u64,
    pub remaining: u64,
}

/// `data` of `membership.roles_changed`: the member's roles now and before (each sorted,
/// each role once), and what moved them (`cause`: `group.member_added`,
/// `group.member_removed`, `group.updated`, `group.deleted`, `membership` (its status or
/// the IdP's `roles`), `membership.deleted`, `role_mapping`), with the group when one did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RolesChangedData {
    pub organization: Id,
    pub user: Id,
    pub membership: ScimIdRef,
    pub roles: Vec<String>,
    pub previous_roles: Vec<String>,
    pub cause: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Id>,
}

/// A SCIM token as events name it: its id and rules, never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TokenInfo {
    pub id: String,
    /// The IdP a setup link made it for, when it was named.
    pub name: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Empty: usable from any address.
    pub allowed_networks: Vec<String>,
}

/// The token a rotation replaced, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReplacedToken {
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// `data` of the `scim_token.*` events: the token (the new one, for `rotated`) and, for
/// `rotated`, the one it replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScimTokenData {
    pub organization: Id,
    pub scim_token: TokenInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<ReplacedToken>,
}

/// Where a change came from, added to every event's `data`: `source` (`scim.post`,
/// `scim.put`, `scim.patch`, `scim.delete`, `admin`, `policy`, `organization_deletion`,
/// `guard_approval`, `setup_link`), the SCIM token (the IdP connection) that made it, and the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Provenance {
    pub source: &'static str,
    pub scim_token_id: Option<String>,
    pub request_id: Option<String>,
}

/// An event decided by a use case, before the outbox gives it an id and a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    UserCreated(UserData),
    UserDeleted(UserData),
    UserSuspended(SuspensionData),
    UserUnsuspended(SuspensionData),
    MembershipCreated(MembershipData),
    MembershipUpdated(MembershipData),
    MembershipDeactivated(MembershipData),
    MembershipReactivated(MembershipData),
    MembershipDeleted(MembershipData),
    SessionsRevoked(SessionsRevokedData),
    OrganizationDeleted(OrganizationDeletedData),
    GroupCreated(GroupData),
    GroupUpdated(GroupData),
    GroupMemberAdded(GroupData),
    GroupMemberRemoved(GroupData),
    GroupDeleted(GroupData),
    DeprovisionGuardTripped(GuardTripData),
    DeprovisionGuardResolved(GuardResolvedData),
    DeprovisionGuardWouldTrip(GuardTripData),
    ScimTokenCreated(ScimTokenData),
    ScimTokenRotated(ScimTokenData),
    ScimTokenRevoked(ScimTokenData),
    ScimTokenExpired(ScimTokenData),
    MembershipRolesChanged(RolesChangedData),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::UserCreated(_) => EventType::UserCreated,
            Event::UserDeleted(_) => EventType::UserDeleted,
            Event::UserSuspended(_) => EventType::UserSuspended,
            Event::UserUnsuspended(_) => EventType::UserUnsuspended,
            Event::MembershipCreated(_) => EventType::MembershipCreated,
            Event::MembershipUpdated(_) => EventType::MembershipUpdated,
            Event::MembershipDeactivated(_) => EventType::MembershipDeactivated,
            Event::MembershipReactivated(_) => EventType::MembershipReactivated,
            Event::MembershipDeleted(_) => EventType::MembershipDeleted,
            Event::SessionsRevoked(_) => EventType::SessionsRevoked,
            Event::OrganizationDeleted(_) => EventType::OrganizationDeleted,
            Event::GroupCreated(_) => EventType::GroupCreated,
            Event::GroupUpdated(_) => EventType::GroupUpdated,
            Event::GroupMemberAdded(_) => EventType::GroupMemberAdded,
            Event::GroupMemberRemoved(_) => EventType::GroupMemberRemoved,
            Event::GroupDeleted(_) => EventType::GroupDeleted,
            Event::DeprovisionGuardTripped(_) => EventType::DeprovisionGuardTripped,
            Event::DeprovisionGuardResolved(_) => EventType::DeprovisionGuardResolved,
            Event::DeprovisionGuardWouldTrip(_) => EventType::DeprovisionGuardWouldTrip,
            Event::ScimTokenCreated(_) => EventType::ScimTokenCreated,
            Event::ScimTokenRotated(_) => EventType::ScimTokenRotated,
            Event::ScimTokenRevoked(_) => EventType::ScimTokenRevoked,
            Event::ScimTokenExpired(_) => EventType::ScimTokenExpired,
            Event::MembershipRolesChanged(_) => EventType::MembershipRolesChanged,
        }
    }

    /// The account whose events are delivered in order (one user's events never
    /// overtake each other); `None` for events about the organization or a group as a
    /// whole.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Event::UserCreated(d) | Event::UserDeleted(d) => Some(&d.user.id),
            Event::UserSuspended(d) | Event::UserUnsuspended(d) => Some(&d.user.id),
            Event::MembershipCreated(d)
            | Event::MembershipUpdated(d)
            | Event::MembershipDeactivated(d)
            | Event::MembershipReactivated(d)
            | Event::MembershipDeleted(d) => Some(&d.user.id),
            Event::SessionsRevoked(d) => Some(&d.user.id),
            Event::MembershipRolesChanged(d) => Some(&d.user.id),
            Event::GroupMemberAdded(d) | Event::GroupMemberRemoved(d) => {
                d.user.as_ref().map(|u| u.id.as_str())
            }
            Event::OrganizationDeleted(_)
            | Event::GroupCreated(_)
            | Event::GroupUpdated(_)
            | Event::GroupDeleted(_)
            | Event::DeprovisionGuardTripped(_)
            | Event::DeprovisionGuardResolved(_)
            | Event::DeprovisionGuardWouldTrip(_)
            | Event::ScimTokenCreated(_)
            | Event::ScimTokenRotated(_)
            | Event::ScimTokenRevoked(_)
            | Event::ScimTokenExpired(_) => None,
        }
    }

    /// The payload as the webhook's `data`.
    pub fn data(&self) -> Value {
        // These structs hold strings, numbers and options only: serializing cannot fail.
        serde_json::to_value(self.with(None)).unwrap_or(Value::Null)
    }

    /// The event's webhook body, serialized once: the envelope `head` around its data,
    /// with the provenance among the data's fields.
    pub fn body(&self, head: Head<'_>, provenance: &Provenance) -> serde_json::Result<String> {
        serde_json::to_string(&Envelope {
            id: head.id,
            event_type: self.event_type().as_str(),
            timestamp: head.timestamp,
            organization_id: head.organization_id,
            sequence: head.sequence,
            data: self.with(Some(provenance)),
        })
    }

    fn with<'a>(&'a self, provenance: Option<&'a Provenance>) -> Data<'a> {
        Data {
            event: self,
            provenance,
        }
    }
}

/// What the outbox gives an event: its id, instant, organization and sequence number.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub id: &'a str,
    pub timestamp: DateTime<Utc>,
    pub organization_id: &'a str,
    pub sequence: i64,
}

/// An event's `data`: its own fields, then the provenance's (`source`, …), when there
/// is one.
struct Data<'a> {
    event: &'a Event,
    provenance: Option<&'a Provenance>,
}

impl Serialize for Data<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct With<'a, D: Serialize> {
            #[serde(flatten)]
            data: &'a D,
            #[serde(flatten)]
            provenance: Option<&'a Provenance>,
        }
        macro_rules! with {
            ($d:expr) => {
                With {
                    data: $d,
                    provenance: self.provenance,
                }
                .serialize(s)
            };
        }
        match self.event {
            Event::UserCreated(d) | Event::UserDeleted(d) => with!(d),
            Event::UserSuspended(d) | Event::UserUnsuspended(d) => with!(d),
            Event::MembershipCreated(d)
            | Event::MembershipUpdated(d)
            | Event::MembershipDeactivated(d)
            | Event::MembershipReactivated(d)
            | Event::MembershipDeleted(d) => with!(d),
            Event::SessionsRevoked(d) => with!(d),
            Event::OrganizationDeleted(d) => with!(d),
            Event::GroupCreated(d)
            | Event::GroupUpdated(d)
            | Event::GroupMemberAdded(d)
            | Event::GroupMemberRemoved(d)
            | Event::GroupDeleted(d) => with!(d),
            Event::DeprovisionGuardTripped(d) | Event::DeprovisionGuardWouldTrip(d) => with!(d),
            Event::DeprovisionGuardResolved(d) => with!(d),
            Event::ScimTokenCreated(d)
            | Event::ScimTokenRotated(d)
            | Event::ScimTokenRevoked(d)
            | Event::ScimTokenExpired(d) => with!(d),
            Event::MembershipRolesChanged(d) => with!(d),
        }
    }
}

/// The webhook body as stored in the outbox and delivered:
/// `{"id","type","timestamp","organization_id","sequence","data"}`.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope<'a, D = Value> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    #[serde(serialize_with = "millis")]
    pub timestamp: DateTime<Utc>,
    pub organization_id: &'a str,
    pub sequence: i64,
    pub data: D,
}

fn millis<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_type_has_one_name_and_reads_back() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(EventType::from_name("user.exploded"), None);
    }

    #[test]
    fn membership_payloads_carry_ids_statuses_and_only_the_facts_that_apply() {
        let mut d = MembershipData::new(
            &OrganizationId::from_stored("org_1"),
            &UserId::from_stored("usr_1"),
            MembershipInfo {
                id: "mem_1".into(),
                scim_id: "mem_1".into(),
                status: MembershipStatus::Inactive,
                previous_status: Some(MembershipStatus::Active),
            },
        );
        d.sessions_revoked = Some(2);
        let e = Event::MembershipDeactivated(d);
        assert_eq!(e.event_type().as_str(), "membership.deactivated");
        assert_eq!(e.user_id(), Some("usr_1"));
        assert_eq!(
            e.data(),
            json!({
                "organization": {"id": "org_1"},
                "user": {"id": "usr_1", "external_id": null},
                "membership": {"id": "mem_1", "scim_id": "mem_1", "status": "INACTIVE", "previous_status": "ACTIVE"},
                "sessions_revoked": 2,
            })
        );
        let created = MembershipData::new(
            &OrganizationId::from_stored("org_1"),
            &UserId::from_stored("usr_1"),
            MembershipInfo {
                id: "mem_1".into(),
                scim_id: "mem_1".into(),
                status: MembershipStatus::Active,
                previous_status: None,
            },
        );
        assert_eq!(
            Event::MembershipCreated(created).data()["membership"]["previous_status"],
            Value::Null
        );
    }

    #[test]
    fn group_events_name_the_member_only_for_member_changes() {
        let whole = Event::GroupUpdated(GroupData::new(
            &OrganizationId::from_stored("org_1"),
            &GroupId::from_stored("grp_1"),
        ));
        assert_eq!(whole.user_id(), None);
        assert_eq!(
            whole.data(),
            json!({"organization": {"id": "org_1"}, "group": {"id": "grp_1"}})
        );
        let member = Event::GroupMemberAdded(GroupData::member(
            &OrganizationId::from_stored("org_1"),
            &GroupId::from_stored("grp_1"),
            &UserId::from_stored("usr_1"),
            "mem_1",
        ));
        assert_eq!(member.user_id(), Some("usr_1"));
        assert_eq!(member.data()["membership"], json!({"scim_id": "mem_1"}));
    }

    #[test]
    fn the_body_is_the_envelope_around_the_data_and_its_provenance() {
        let at: DateTime<Utc> = "2026-11-25T10:00:00.123456Z".parse().unwrap();
        let event = Event::UserDeleted(UserData::new(
            &OrganizationId::from_stored("org_1"),
            &UserId::from_stored("usr_1"),
        ));
        let provenance = Provenance {
            source: "scim.delete",
            scim_token_id: Some("tok_1".into()),
            request_id: None,
        };
        let head = Head {
            id: "evt_1",
            timestamp: at,
            organization_id: "org_1",
            sequence: 7,
        };
        let body: Value = serde_json::from_str(&event.body(head, &provenance).unwrap()).unwrap();
        let mut data = event.data();
        data["source"] = json!("scim.delete");
        data["scim_token_id"] = json!("tok_1");
        data["request_id"] = Value::Null;
        assert_eq!(
            body,
            json!({"id": "evt_1", "type": "user.deleted", "timestamp": "2026-11-25T10:00:00.123Z",
                   "organization_id": "org_1", "sequence": 7, "data": data})
        );
        assert_eq!(event.data()["user"]["id"], json!("usr_1"));
        assert!(
            event.data().get("source").is_none(),
            "data alone has no provenance"
        );
    }

    #[test]
    fn the_envelope_has_the_documented_shape() {
        let at: DateTime<Utc> = "2026-11-25T10:00:00.123456Z".parse().unwrap();
        let e = Envelope {
            id: "evt_1",
            event_type: "user.deleted",
            timestamp: at,
            organization_id: "org_1",
            sequence: 7,
            data: json!({}),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"id": "evt_1", "type": "user.deleted", "timestamp": "2026-11-25T10:00:00.123Z",
                   "organization_id": "org_1", "sequence": 7, "data": {}})
        );
    }
}
