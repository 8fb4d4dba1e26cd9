//! What the admin API answers and the CLI's `--json` prints: one view per resource, built
//! from what the use cases return (`of`), serialized as it is, and described in
//! `docs/openapi.json` by its own `JsonSchema` derive (`routes/admin/openapi.rs` names
//! these types; nothing describes an answer a second time).
//!
//! Times are [`Time`]: RFC 3339 in UTC with milliseconds. A field that only some answers
//! carry (`key` on creation, `accounts_linked` on verification, an organization's
//! `deprovision_guard` outside the list) is left out rather than `null` elsewhere.

use ids::{GroupId, MembershipId, OrganizationId, UserId};
use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::domain::breaker;
use crate::domain::guard::GuardSettings;
use crate::scim::user::format_time;

/// A time as every answer writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(self.0))
    }
}

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC with milliseconds."
        })
    }
}

fn at(t: DateTime<Utc>) -> Time {
    Time(t)
}

fn at_opt(t: Option<DateTime<Utc>>) -> Option<Time> {
    t.map(Time)
}

/// A page: `data`, and `next_after` to pass as `after` for the next page (`null` at the
/// end). Described once as the `Page` component, with each list's item type.
#[derive(Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    /// `full`: the page holds as many rows as were asked for, so more may follow `last`.
    pub fn of(data: Vec<T>, last: Option<impl Into<String>>, full: bool) -> Self {
        Page {
            data,
            next_after: if full { last.map(Into::into) } else { None },
        }
    }
}

/// `{"data": [...]}`: a list without paging.
#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

impl<T> List<T> {
    pub fn of(data: Vec<T>) -> Self {
        List { data }
    }
}

/// `{"type": …, "id": …}`: who did something.
#[derive(Serialize, JsonSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: entity::audit_log::ActorKind,
    pub id: String,
}

/// `{"type": …, "id": …}`: what something was done to.
#[derive(Serialize, JsonSchema)]
pub struct Named {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

// ---- organizations ----------------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct RateLimit {
    pub per_second: i32,
    pub burst: i32,
}

/// The deprovisioning guard's settings, and `tripped_at` (`null` while it is armed).
#[derive(Serialize, JsonSchema)]
pub struct DeprovisionGuard {
    /// `hold`, `dry_run` or `off`.
    pub mode: &'static str,
    pub max_count: u32,
    pub max_percent: u8,
    /// e.g. `1h`.
    pub window: String,
    pub tripped_at: Option<Time>,
}

impl DeprovisionGuard {
    pub fn of(s: &GuardSettings, tripped_at: Option<DateTime<Utc>>) -> Self {
        DeprovisionGuard {
            mode: s.mode.as_str(),
            max_count: s.max_count,
            max_percent: s.max_percent,
            window: humantime::format_duration(s.window).to_string(),
            tripped_at: at_opt(tripped_at),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub deactivated_retention_secs: Option<i64>,
    /// `null`: the server's default (`OFFBOARD_RATE_LIMIT_PER_SECOND` / `_BURST`).
    pub rate_limit: Option<RateLimit>,
    pub inspect_full_bodies_until: Option<Time>,
    /// On one organization's answers; not in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprovision_guard: Option<DeprovisionGuard>,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Organization {
    pub fn of(org: &entity::organizations::Model) -> Self {
        Organization {
            id: org.id.clone(),
            name: org.name.clone(),
            deactivated_retention_secs: org.deactivated_retention_secs,
            rate_limit: match (org.rate_limit_per_second, org.rate_limit_burst) {
                (Some(per_second), Some(burst)) => Some(RateLimit { per_second, burst }),
                _ => None,
            },
            inspect_full_bodies_until: at_opt(org.inspect_full_bodies_until),
            deprovision_guard: None,
            created_at: at(org.created_at),
            updated_at: at(org.updated_at),
        }
    }

    pub fn with_guard(mut self, guard: DeprovisionGuard) -> Self {
        self.deprovision_guard = Some(guard);
        self
    }
}

/// What every view of a membership shows.
#[derive(Serialize, JsonSchema)]
pub struct MembershipCore {
    pub id: MembershipId,
    pub scim_id: String,
    pub status: entity::memberships::Status,
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub created_at: Time,
    pub updated_at: Time,
    pub removed_at: Option<Time>,
}

impl MembershipCore {
    pub fn of(m: &entity::memberships::Model) -> Self {
        MembershipCore {
            id: m.id.clone(),
            scim_id: m.scim_id.clone(),
            status: m.status,
            user_name: m.user_name.clone(),
            external_id: m.external_id.clone(),
            created_at: at(m.created_at),
            updated_at: at(m.updated_at),
            removed_at: at_opt(m.removed_at),
        }
    }
}

/// A member as the organization's member list shows it.
#[derive(Serialize, JsonSchema)]
pub struct Member {
    #[serde(flatten)]
    pub membership: MembershipCore,
    pub user_id: UserId,
    /// Its roles in the application (see `Membership.granted_roles`).
    pub granted_roles: Vec<String>,
}

impl Member {
    pub fn of(m: &entity::memberships::Model) -> Self {
        Member {
            membership: MembershipCore::of(m),
            user_id: m.user_id.clone(),
            granted_roles: crate::domain::roles::stored_roles(m.granted_roles.as_ref()),
        }
    }
}

/// An unrevoked SCIM token as listed: metadata, never the token.
#[derive(Serialize, JsonSchema)]
pub struct ScimToken {
    pub id: String,
    /// What it is for, when it was named (a setup link names it after the IdP).
    pub name: Option<String>,
    pub created_at: Time,
    pub last_used_at: Option<Time>,
    /// After this the token is refused; `null`: it never expires.
    pub expires_at: Option<Time>,
    /// `live`, `expires_soon` (within 14 days) or `expired` (refused; listed until revoked).
    pub state: &'static str,
    /// The networks it may be used from; empty: anywhere.
    pub allowed_networks: Vec<String>,
    /// The token a rotation replaced it with.
    pub replaced_by: Option<String>,
}

impl ScimToken {
    pub fn of(t: &entity::scim_tokens::Model) -> Self {
        use crate::domain::token::{Lifetime, Networks};
        ScimToken {
            id: t.id.clone(),
            name: t.name.clone(),
            created_at: at(t.created_at),
            last_used_at: at_opt(t.last_used_at),
            expires_at: at_opt(t.expires_at),
            state: Lifetime::of(t.expires_at, chrono::Utc::now()).as_str(),
            allowed_networks: Networks::from_stored(t.allowed_networks.as_deref()).as_strings(),
            replaced_by: t.replaced_by.clone(),
        }
    }
}

/// A new SCIM token: the token is shown this once.
#[derive(Serialize, JsonSchema)]
pub struct ScimTokenCreated {
    pub id: String,
    pub organization_id: OrganizationId,
    pub token: String,
    pub name: Option<String>,
    pub created_at: Time,
    pub expires_at: Option<Time>,
    pub allowed_networks: Vec<String>,
}

impl ScimTokenCreated {
    pub fn of(t: &entity::scim_tokens::Model, token: String) -> Self {
        use crate::domain::token::Networks;
        ScimTokenCreated {
            id: t.id.clone(),
            organization_id: t.organization_id.clone(),
            token,
            name: t.name.clone(),
            created_at: at(t.created_at),
            expires_at: at_opt(t.expires_at),
            allowed_networks: Networks::from_stored(t.allowed_networks.as_deref()).as_strings(),
        }
    }
}

/// A rotation's answer: the new token (shown this once) and the one it replaces, which
/// works until its `expires_at`.
#[derive(Serialize, JsonSchema)]
pub struct ScimTokenRotated {
    #[serde(flatten)]
    pub token: ScimTokenCreated,
    pub replaces: ScimToken,
}

/// Requests by status class.
#[derive(Serialize, JsonSchema)]
pub struct StatusCounts {
    pub succeeded: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    /// Client errors that were the token refused by its own rules, by reason.
    pub refused: Refused,
}

/// Requests refused by a token's rules: after its expiry, or from outside its networks.
#[derive(Serialize, JsonSchema)]
pub struct Refused {
    pub expired: i64,
    pub network: i64,
}

impl From<crate::domain::connection::Counts> for StatusCounts {
    fn from(c: crate::domain::connection::Counts) -> Self {
        StatusCounts {
            succeeded: c.succeeded,
            client_errors: c.client_errors,
            server_errors: c.server_errors,
            refused: Refused {
                expired: c.refused_expired,
                network: c.refused_network,
            },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct LastRequest {
    pub method: String,
    pub route: String,
    pub status: u16,
    pub at: Time,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenHealth {
    pub id: String,
    pub created_at: Time,
    pub last_used_at: Option<Time>,
    pub last_request: Option<LastRequest>,
    /// `okta`, `entra`, `jumpcloud`, `onelogin`, `google`, `other` or `unknown`.
    pub client: &'static str,
    pub user_agent: Option<String>,
    pub last_24h: StatusCounts,
    pub last_hour: StatusCounts,
}

/// The organization's SCIM connection: its state and each live token's last request and
/// last 24 hours (never the token itself).
#[derive(Serialize, JsonSchema)]
pub struct Connection {
    pub organization_id: OrganizationId,
    /// `never_connected`, `healthy`, `failing`, `quiet` or `held` (the deprovisioning
    /// guard holds some of its deprovisionings).
    pub state: &'static str,
    pub last_used_at: Option<Time>,
    pub quiet_after_secs: u64,
    pub scim_tokens: Vec<TokenHealth>,
}

impl Connection {
    pub fn of(
        organization_id: &OrganizationId,
        c: &crate::service::connections::Connection,
        quiet_after: std::time::Duration,
    ) -> Self {
        let scim_tokens = c
            .tokens
            .iter()
            .map(|t| {
                let last = t.last.as_ref();
                TokenHealth {
                    id: t.token.id.clone(),
                    created_at: at(t.token.created_at),
                    last_used_at: last.map(|l| at(l.at)),
                    last_request: last.map(|l| LastRequest {
                        method: l.method.clone(),
                        route: l.route.clone(),
                        status: l.status,
                        at: at(l.at),
                    }),
                    client: crate::domain::connection::client_of(
                        last.and_then(|l| l.user_agent.as_deref()),
                    ),
                    user_agent: last.and_then(|l| l.user_agent.clone()),
                    last_24h: t.last_24h.into(),
                    last_hour: t.last_hour.into(),
                }
            })
            .collect();
        Connection {
            organization_id: organization_id.clone(),
            state: c.state.as_str(),
            last_used_at: at_opt(c.last_used_at),
            quiet_after_secs: quiet_after.as_secs(),
            scim_tokens,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ScimErrorAnswered {
    pub scim_type: Option<String>,
    pub detail: String,
}

/// A SCIM request as the inspector keeps it; `body` with personal values as `"…"`.
#[derive(Serialize, JsonSchema)]
pub struct InspectedRequest {
    pub id: String,
    pub at: Time,
    pub method: String,
    pub route: String,
    pub path: String,
    pub query: Option<String>,
    pub status: i32,
    pub latency_ms: i64,
    pub request_id: Option<String>,
    /// The client's address: the peer's, or what `OFFBOARD_TRUSTED_PROXIES` forwarded.
    pub client_address: Option<String>,
    pub scim_token_id: String,
    pub error: Option<ScimErrorAnswered>,
    pub body: Option<Value>,
    /// Only inside a full-body window.
    pub full_body: Option<String>,
}

impl InspectedRequest {
    pub fn of(r: &entity::scim_requests::Model) -> Self {
        InspectedRequest {
            id: r.id.clone(),
            at: at(r.at),
            method: r.method.clone(),
            route: r.route.clone(),
            path: r.path.clone(),
            query: r.query.clone(),
            status: r.status,
            latency_ms: r.latency_ms,
            request_id: r.request_id.clone(),
            client_address: r.client_address.clone(),
            scim_token_id: r.token_id.clone(),
            error: r.error_detail.as_ref().map(|d| ScimErrorAnswered {
                scim_type: r.scim_type.clone(),
                detail: d.clone(),
            }),
            // Stored as the JSON text it was redacted to.
            body: r
                .body
                .as_deref()
                .map(|b| serde_json::from_str::<Value>(b).unwrap_or(Value::Null)),
            full_body: r.full_body.clone(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct Domain {
    pub organization_id: OrganizationId,
    pub domain: String,
    /// When the operator verified it.
    pub created_at: Time,
    /// Accounts linked by this verification (on verification only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts_linked: Option<u64>,
}

impl Domain {
    pub fn of(d: &entity::organization_domains::Model) -> Self {
        Domain {
            organization_id: d.organization_id.clone(),
            domain: d.domain.clone(),
            created_at: at(d.created_at),
            accounts_linked: None,
        }
    }

    pub fn verified(v: &crate::service::domains::Verified) -> Self {
        Domain {
            accounts_linked: Some(v.accounts_linked as u64),
            ..Domain::of(&v.domain)
        }
    }
}

// ---- the deprovisioning guard -----------------------------------------------------------

/// A held action as the operator reviews it: what the IdP asked, of which membership (its
/// `userName` and `externalId` while it is live), when, and through which token.
#[derive(Serialize, JsonSchema)]
pub struct HeldAction {
    pub id: String,
    pub action: entity::held_actions::HeldKind,
    pub source: String,
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub scim_id: Option<String>,
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub membership_status: Option<entity::memberships::Status>,
    pub scim_token_id: String,
    pub request_id: Option<String>,
    pub requested_at: Time,
}

impl HeldAction {
    pub fn of(h: &entity::held_actions::Model, m: Option<&entity::memberships::Model>) -> Self {
        HeldAction {
            id: h.id.clone(),
            action: h.action,
            source: h.source.clone(),
            membership_id: h.membership_id.clone(),
            user_id: h.user_id.clone(),
            scim_id: m.map(|m| m.scim_id.clone()),
            user_name: m.and_then(|m| m.user_name.clone()),
            external_id: m.and_then(|m| m.external_id.clone()),
            membership_status: m.map(|m| m.status),
            scim_token_id: h.token_id.clone(),
            request_id: h.request_id.clone(),
            requested_at: at(h.requested_at),
        }
    }
}

/// The held actions' page, with the guard that holds them.
#[derive(Serialize, JsonSchema)]
pub struct HeldPage {
    pub data: Vec<HeldAction>,
    pub next_after: Option<String>,
    pub deprovision_guard: DeprovisionGuard,
}

/// What an approval or a rejection did.
#[derive(Serialize, JsonSchema)]
pub struct Resolution {
    pub approved: u64,
    pub rejected: u64,
    /// Approved, but there was nothing left to apply (the membership had changed).
    pub skipped: u64,
    /// Still held afterwards.
    pub remaining: u64,
}

impl Resolution {
    pub fn of(r: &crate::service::guard::Resolution) -> Self {
        Resolution {
            approved: r.approved,
            rejected: r.rejected,
            skipped: r.skipped,
            remaining: r.remaining,
        }
    }
}

// ---- users and sessions -----------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct Suspension {
    pub reason: Option<String>,
    pub suspended_at: Time,
    pub until: Option<Time>,
}

impl Suspension {
    pub fn of(s: &entity::suspensions::Model) -> Self {
        Suspension {
            reason: s.reason.clone(),
            suspended_at: at(s.suspended_at),
            until: at_opt(s.until),
        }
    }
}

/// An organization's role mapping: `default_role`, and `rules` mapping a group (named by
/// `{"id"}`, `{"external_id"}` or `{"display_name"}`) to a role.
#[derive(Serialize, JsonSchema)]
pub struct RoleMappingView {
    pub organization_id: OrganizationId,
    pub default_role: Option<String>,
    /// `[{"group": {"id": "grp_…"}, "role": "admin"}, …]`
    pub rules: Vec<Value>,
    /// On a change re-roled in its own request: how many members' roles moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_changed: Option<u64>,
    /// On a change re-roled by a job (answered 202): the job, its progress at
    /// `/admin/v1/jobs/{id}` (`result.members_changed` once done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
}

impl RoleMappingView {
    pub fn of(
        organization_id: &OrganizationId,
        m: &crate::domain::roles::RoleMapping,
        members_changed: Option<u64>,
    ) -> Self {
        let v = m.to_value();
        RoleMappingView {
            organization_id: organization_id.clone(),
            default_role: m.default_role.clone(),
            rules: v["rules"].as_array().cloned().unwrap_or_default(),
            members_changed,
            job: None,
        }
    }
}

/// One of an account's memberships, removed ones included.
#[derive(Serialize, JsonSchema)]
pub struct Membership {
    #[serde(flatten)]
    pub membership: MembershipCore,
    pub organization_id: OrganizationId,
    /// SCIM's `roles` attribute as the IdP sent it.
    pub roles: Value,
    /// The member's roles in the application: the roles the organization's mapping gives
    /// its groups and the IdP's `roles`, else the default role; none when INACTIVE or
    /// removed. Sorted, each once.
    pub granted_roles: Vec<String>,
}

impl Membership {
    pub fn of(m: &entity::memberships::Model) -> Self {
        Membership {
            membership: MembershipCore::of(m),
            organization_id: m.organization_id.clone(),
            roles: m.roles.clone(),
            granted_roles: crate::domain::roles::stored_roles(m.granted_roles.as_ref()),
        }
    }
}

/// `ACTIVE` or `DELETED`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountStatus {
    Active,
    Deleted,
}

/// What every view of an account shows.
#[derive(Serialize, JsonSchema)]
pub struct AccountCore {
    pub id: UserId,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Linked through a verified domain (shared by the organizations that verified it),
    /// or private to the organization that created it.
    pub linked: bool,
    pub created_at: Time,
    pub deleted_at: Option<Time>,
    /// Within the grace period: when the personal data goes and a restore stops working.
    pub purge_after: Option<Time>,
    pub suspension: Option<Suspension>,
}

impl AccountCore {
    pub fn of(a: &entity::users::Model, suspension: Option<&entity::suspensions::Model>) -> Self {
        AccountCore {
            id: a.id.clone(),
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            linked: a.identity_key.is_some() || a.held_identity_key.is_some(),
            created_at: at(a.created_at),
            deleted_at: at_opt(a.deleted_at),
            purge_after: at_opt(a.purge_after),
            suspension: suspension.map(Suspension::of),
        }
    }
}

/// The account with all its memberships, removed ones included.
#[derive(Serialize, JsonSchema)]
pub struct User {
    #[serde(flatten)]
    pub account: AccountCore,
    pub status: AccountStatus,
    pub memberships: Vec<Membership>,
    /// Suspended accounts keep each membership's SCIM status (what the IdP set); this
    /// says whether the account may hold sessions at all.
    pub suspended: bool,
}

impl User {
    pub fn of(view: &crate::service::admin::UserView) -> Self {
        let a = &view.account;
        User {
            account: AccountCore::of(a, view.suspension.as_ref()),
            status: if a.deleted_at.is_some() {
                AccountStatus::Deleted
            } else {
                AccountStatus::Active
            },
            memberships: view.memberships.iter().map(Membership::of).collect(),
            suspended: view.suspension.is_some(),
        }
    }
}

/// A session as stored: in the export, and in [`Session`].
#[derive(Serialize, JsonSchema)]
pub struct SessionRecord {
    pub id: String,
    pub organization_id: OrganizationId,
    pub created_at: Time,
    pub expires_at: Time,
    pub revoked_at: Option<Time>,
    pub revoked_reason: Option<String>,
}

impl SessionRecord {
    pub fn of(s: &entity::sessions::Model) -> Self {
        SessionRecord {
            id: s.id.clone(),
            organization_id: s.organization_id.clone(),
            created_at: at(s.created_at),
            expires_at: at(s.expires_at),
            revoked_at: at_opt(s.revoked_at),
            revoked_reason: s.revoked_reason.clone(),
        }
    }
}

/// A session of an application, and whether it is active now (introspection).
#[derive(Serialize, JsonSchema)]
pub struct Session {
    pub active: bool,
    pub user_id: UserId,
    #[serde(flatten)]
    pub session: SessionRecord,
    /// Introspection: the member's roles in the session's organization now (none once the
    /// session is not active).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl Session {
    pub fn of(s: &entity::sessions::Model, now: DateTime<Utc>) -> Self {
        Session {
            active: s.revoked_at.is_none() && s.expires_at > now,
            user_id: s.user_id.clone(),
            session: SessionRecord::of(s),
            roles: None,
        }
    }

    /// With the member's roles (introspection).
    pub fn with_roles(mut self, roles: Vec<String>) -> Self {
        self.roles = Some(if self.active { roles } else { Vec::new() });
        self
    }
}

// ---- the export -------------------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct ExportedAccount {
    #[serde(flatten)]
    pub account: AccountCore,
    pub updated_at: Time,
}

#[derive(Serialize, JsonSchema)]
pub struct GroupOf {
    pub id: GroupId,
    pub display_name: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ExportedMembership {
    #[serde(flatten)]
    pub membership: Membership,
    /// The organization's SCIM record, as its IdP last sent it.
    pub scim_record: Option<Value>,
    pub groups: Vec<GroupOf>,
    pub status_changed_at: Time,
}

/// An audit row without its target and the caller's address: the export's rows (the
/// person is every row's target, and the caller's address is not the person's), and
/// the core of [`AuditEntry`].
#[derive(Serialize, JsonSchema)]
pub struct AuditRecord {
    pub id: String,
    pub organization_id: Option<OrganizationId>,
    /// Who: `admin` (the JWT's subject), `scim_token`, `policy`, …
    pub actor: Actor,
    pub action: String,
    pub details: Value,
    pub request_id: Option<String>,
    pub outcome: String,
    pub created_at: Time,
}

/// Everything offboard holds about the person (see `service::export`), as one document.
#[derive(Serialize, JsonSchema)]
pub struct UserExport {
    pub exported_at: Time,
    pub account: ExportedAccount,
    pub memberships: Vec<ExportedMembership>,
    pub sessions: Vec<SessionRecord>,
    pub audit: Vec<AuditRecord>,
    pub events: Vec<Event>,
    /// Lists cut at their maximum, by name.
    pub truncated: Vec<&'static str>,
}

impl UserExport {
    pub fn of(e: &crate::service::export::Export, now: DateTime<Utc>) -> Self {
        let memberships = e
            .memberships
            .iter()
            .map(|m| ExportedMembership {
                membership: Membership::of(m),
                scim_record: m.scim.clone(),
                groups: e
                    .groups
                    .get(&m.id)
                    .map(|gs| {
                        gs.iter()
                            .map(|(id, name)| GroupOf {
                                id: id.clone(),
                                display_name: name.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                status_changed_at: at(m.status_changed_at),
            })
            .collect();
        UserExport {
            exported_at: at(now),
            account: ExportedAccount {
                account: AccountCore::of(&e.account, e.suspension.as_ref()),
                updated_at: at(e.account.updated_at),
            },
            memberships,
            sessions: e.sessions.iter().map(SessionRecord::of).collect(),
            audit: e.audit.iter().map(AuditRecord::of).collect(),
            events: e
                .events
                .iter()
                .map(|ev| Event(ev.payload.clone()))
                .collect(),
            truncated: e.truncated.clone(),
        }
    }
}

// ---- the audit log, events and jobs -----------------------------------------------------

impl AuditRecord {
    pub fn of(r: &entity::audit_log::Model) -> Self {
        AuditRecord {
            id: r.id.clone(),
            organization_id: r.organization_id.clone(),
            actor: Actor {
                kind: r.actor_type,
                id: r.actor_id.clone(),
            },
            action: r.action.clone(),
            details: r.details.clone(),
            request_id: r.request_id.clone(),
            outcome: r.outcome.clone(),
            created_at: at(r.created_at),
        }
    }
}

/// An audit row as the audit log lists it.
#[derive(Serialize, JsonSchema)]
pub struct AuditEntry {
    #[serde(flatten)]
    pub record: AuditRecord,
    pub target: Named,
    /// The client's address (none for the command line and the purge): the peer's, or
    /// what `OFFBOARD_TRUSTED_PROXIES` forwarded.
    pub client_address: Option<String>,
}

impl AuditEntry {
    pub fn of(r: &entity::audit_log::Model) -> Self {
        AuditEntry {
            record: AuditRecord::of(r),
            target: Named {
                kind: r.target_type.clone(),
                id: r.target_id.clone(),
            },
            client_address: r.client_address.clone(),
        }
    }
}

/// An event as it is delivered, the stored payload unchanged: see `docs/events/` for
/// each type's `data`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Event(pub Value);

impl JsonSchema for Event {
    fn schema_name() -> Cow<'static, str> {
        "Event".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let time = g.subschema_for::<Time>();
        json_schema!({
            "description": "The webhook body as it is sent: see docs/events/ for each type's `data`.",
            "type": "object",
            "required": ["id", "type", "timestamp", "organization_id", "sequence", "data"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "timestamp": time,
                "organization_id": {"type": "string"},
                "sequence": {"type": "integer", "format": "int64"},
                "data": {"type": "object"}
            }
        })
    }
}

#[derive(Serialize, JsonSchema)]
pub struct EventType {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub description: &'static str,
    /// The JSON Schema of the event.
    pub schema: Value,
}

impl EventType {
    /// Every event type, with the same schemas as `docs/events/`.
    pub fn all() -> Vec<Self> {
        crate::domain::events::EventType::ALL
            .iter()
            .map(|t| EventType {
                event_type: t.as_str(),
                description: t.description(),
                schema: t.schema(),
            })
            .collect()
    }
}

/// A page of one organization's feed.
#[derive(Serialize, JsonSchema)]
pub struct FeedPage {
    pub organization_id: OrganizationId,
    pub data: Vec<Event>,
    /// Pass as `after` to continue.
    pub next_after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub status: entity::jobs::JobStatus,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub errors: Vec<Value>,
    pub result: Value,
    pub created_at: Time,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
}

impl Job {
    pub fn of(job: &entity::jobs::Model) -> Self {
        Job {
            id: job.id.clone(),
            kind: job.kind.clone(),
            status: job.status,
            total: job.total,
            done: job.done,
            failed: job.failed,
            errors: job.errors.as_array().cloned().unwrap_or_default(),
            result: job.result.clone(),
            created_at: at(job.created_at),
            started_at: at_opt(job.started_at),
            finished_at: at_opt(job.finished_at),
        }
    }
}

// ---- webhooks ---------------------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct Breaker {
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    pub consecutive_failures: i32,
    pub open_until: Option<Time>,
    /// Deliveries it may have in flight now.
    pub slots: u32,
}

#[derive(Serialize, JsonSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub event_types: Value,
    pub organization_id: Option<OrganizationId>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<Time>,
    pub max_in_flight: Option<i32>,
    pub breaker: Breaker,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Endpoint {
    pub fn of(
        ep: &entity::webhook_endpoints::Model,
        settings: &crate::configuration::WebhookSettings,
        now: DateTime<Utc>,
    ) -> Self {
        let (state, configured) = breaker::of_endpoint(
            &settings.breaker,
            ep.consecutive_failures,
            ep.breaker_open_until,
            ep.max_in_flight,
            settings.endpoint_concurrency,
            now,
        );
        Endpoint {
            id: ep.id.clone(),
            url: ep.url.clone(),
            event_types: ep.event_types.clone(),
            organization_id: ep.organization_id.clone(),
            enabled: ep.enabled,
            disabled_reason: ep.disabled_reason.clone(),
            failing_since: at_opt(ep.failing_since),
            max_in_flight: ep.max_in_flight,
            breaker: Breaker {
                state: state.as_str(),
                consecutive_failures: ep.consecutive_failures,
                open_until: match state {
                    breaker::State::Open { until } => Some(at(until)),
                    _ => None,
                },
                slots: breaker::slots(state, configured),
            },
            created_at: at(ep.created_at),
            updated_at: at(ep.updated_at),
        }
    }
}

/// The signing secret is shown on creation and rotation only.
#[derive(Serialize, JsonSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub secret: String,
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<Time>,
}

impl EndpointWithSecret {
    pub fn of(endpoint: Endpoint, ep: &entity::webhook_endpoints::Model, secret: String) -> Self {
        EndpointWithSecret {
            endpoint,
            secret,
            previous_secret_expires_at: at_opt(ep.previous_secret_expires_at),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub organization_id: String,
    pub status: entity::deliveries::DeliveryStatus,
    pub attempts: i32,
    /// While it is pending.
    pub next_attempt_at: Option<Time>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Time,
    pub completed_at: Option<Time>,
}

impl Delivery {
    pub fn of(d: &entity::deliveries::Model) -> Self {
        use entity::deliveries::DeliveryStatus;
        Delivery {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            organization_id: d.organization_id.clone(),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| at(d.next_attempt_at)),
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            created_at: at(d.created_at),
            completed_at: at_opt(d.completed_at),
        }
    }
}

pub use crate::service::webhooks::TestSend;

#[derive(Serialize, JsonSchema)]
pub struct Replayed {
    pub replayed: u64,
}

// ---- API keys ---------------------------------------------------------------------------

#[derive(Serialize, JsonSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// `null`: every organization.
    pub organization_id: Option<OrganizationId>,
    pub created_at: Time,
    /// Shown on creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl ApiKey {
    pub fn of(k: &entity::api_keys::Model) -> Self {
        ApiKey {
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: k.scopes.split(' ').map(str::to_string).collect(),
            organization_id: k.organization_id.clone(),
            created_at: at(k.created_at),
            key: None,
        }
    }

    pub fn created(k: &entity::api_keys::Model, key: String) -> Self {
        ApiKey {
            key: Some(key),
            ..ApiKey::of(k)
        }
    }
}

/// A setup link, as the operator sees it (never its secret).
#[derive(Serialize, JsonSchema)]
pub struct SetupLink {
    pub id: String,
    pub organization_id: OrganizationId,
    /// The IdP the admin is guided through; `null`: theirs to pick.
    pub idp: Option<String>,
    pub created_at: Time,
    pub expires_at: Time,
    pub revoked_at: Option<Time>,
    /// How many times the page was opened, and when last.
    pub opened: i64,
    pub last_opened_at: Option<Time>,
    /// The SCIM token the page made, once it has.
    pub scim_token_id: Option<String>,
}

impl SetupLink {
    pub fn of(l: &entity::setup_links::Model) -> Self {
        SetupLink {
            id: l.id.clone(),
            organization_id: l.organization_id.clone(),
            idp: l.idp.clone(),
            created_at: at(l.created_at),
            expires_at: at(l.expires_at),
            revoked_at: at_opt(l.revoked_at),
            opened: l.opened,
            last_opened_at: at_opt(l.last_opened_at),
            scim_token_id: l.token_id.clone(),
        }
    }
}

/// A new setup link: its URL (which holds the secret) is shown this once.
#[derive(Serialize, JsonSchema)]
pub struct SetupLinkCreated {
    #[serde(flatten)]
    pub link: SetupLink,
    pub url: String,
}
