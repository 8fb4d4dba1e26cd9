//! The audit log: who did what to which ids, written in the change's transaction. It
//! holds ids and actions only, never personal data, so it survives erasure.

use chrono::{DateTime, Utc};
use entity::audit_log;
pub use entity::audit_log::ActorKind;
use ids::OrganizationId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
    pub request_id: Option<String>,
    /// The client's address, as far as it can be believed (`forwarded`); none for the
    /// command line, the purge and jobs' steps.
    pub client_address: Option<String>,
}

pub struct Entry<'a> {
    pub organization_id: Option<&'a OrganizationId>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details: Value,
}

pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = audit_log::ActiveModel {
        id: Set(ids::new_id(ids::AUDIT)),
        organization_id: Set(entry.organization_id.cloned()),
        actor_type: Set(actor.kind),
        actor_id: Set(actor.id.clone()),
        action: Set(entry.action.to_string()),
        target_type: Set(entry.target_type.to_string()),
        target_id: Set(entry.target_id.to_string()),
        details: Set(entry.details),
        request_id: Set(actor.request_id.clone()),
        outcome: Set("success".into()),
        created_at: Set(now),
        client_address: Set(actor.client_address.clone()),
    };
    audit_log::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A page of the audit log in order (oldest first), after the entry `after`.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: Option<&OrganizationId>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbErr> {
    use audit_log::Column;
    let q = super::when_eq(
        audit_log::Entity::find(),
        Column::OrganizationId,
        organization_id,
    );
    super::after_page(db, q, Column::Id, after, limit).await
}

pub async fn list_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<Vec<audit_log::Model>, DbErr> {
    audit_log::Entity::find()
        .filter(audit_log::Column::OrganizationId.eq(organization_id))
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await
}

/// Audit action names.
pub mod actions {
    pub const SCIM_USER_CREATE: &str = "scim.user.create";
    pub const SCIM_USER_REPLACE: &str = "scim.user.replace";
    pub const SCIM_USER_PATCH: &str = "scim.user.patch";
    pub const SCIM_USER_DELETE: &str = "scim.user.delete";
    pub const SCIM_GROUP_CREATE: &str = "scim.group.create";
    pub const SCIM_GROUP_REPLACE: &str = "scim.group.replace";
    pub const SCIM_GROUP_PATCH: &str = "scim.group.patch";
    pub const SCIM_GROUP_DELETE: &str = "scim.group.delete";
    pub const ORGANIZATION_CREATE: &str = "organization.create";
    pub const SCIM_TOKEN_CREATE: &str = "scim_token.create";
    pub const SETUP_LINK_CREATE: &str = "setup_link.create";
    pub const SETUP_LINK_REVOKE: &str = "setup_link.revoke";
    pub const SETUP_LINK_OPEN: &str = "setup_link.open";
    pub const SESSION_CREATE: &str = "session.create";
    pub const SESSION_REVOKE: &str = "session.revoke";
    pub const USER_DELETE: &str = "user.delete";
    pub const USER_RESTORE: &str = "user.restore";
    pub const USER_SUSPEND: &str = "user.suspend";
    pub const USER_EXPORT: &str = "user.export";
    pub const JOB_CREATE: &str = "job.create";
    pub const JOB_FINISH: &str = "job.finish";
    pub const USER_UNSUSPEND: &str = "user.unsuspend";
    pub const USER_SUSPENSION_EXPIRE: &str = "user.suspension.expire";
    pub const ORGANIZATION_DELETE: &str = "organization.delete";
    pub const ORGANIZATION_UPDATE: &str = "organization.update";
    pub const ROLE_MAPPING_UPDATE: &str = "role_mapping.update";
    pub const MEMBERSHIP_DELETE: &str = "membership.delete";
    pub const SCIM_TOKEN_REVOKE: &str = "scim_token.revoke";
    pub const SCIM_TOKEN_ROTATE: &str = "scim_token.rotate";
    pub const SCIM_TOKEN_EXPIRE: &str = "scim_token.expire";
    pub const POLICY_MEMBERSHIP_REMOVE: &str = "policy.membership.remove";
    pub const PURGE: &str = "purge";
    pub const WEBHOOK_ENDPOINT_CREATE: &str = "webhook_endpoint.create";
    pub const WEBHOOK_ENDPOINT_DELETE: &str = "webhook_endpoint.delete";
    pub const WEBHOOK_ENDPOINT_UPDATE: &str = "webhook_endpoint.update";
    pub const WEBHOOK_ENDPOINT_RECOVER: &str = "webhook_endpoint.recover";
    pub const WEBHOOK_ENDPOINT_TEST: &str = "webhook_endpoint.test";
    pub const WEBHOOK_SECRET_ROTATE: &str = "webhook_endpoint.rotate_secret";
    pub const EVENT_REPLAY: &str = "event.replay";
    pub const API_KEY_CREATE: &str = "api_key.create";
    pub const API_KEY_DELETE: &str = "api_key.delete";
    pub const DOMAIN_VERIFY: &str = "organization.domain.verify";
    pub const DOMAIN_REMOVE: &str = "organization.domain.remove";
    pub const DEPROVISION_HOLD: &str = "deprovision_guard.hold";
    pub const DEPROVISION_WITHDRAW: &str = "deprovision_guard.withdraw";
    pub const DEPROVISION_APPROVE: &str = "deprovision_guard.approve";
    pub const DEPROVISION_REJECT: &str = "deprovision_guard.reject";
    pub const DEPROVISION_GUARD_UPDATE: &str = "deprovision_guard.update";
}

/// The audit rows whose target is `target_id`, oldest first, at most `limit`.
pub async fn about(
    db: &impl ConnectionTrait,
    target_id: impl AsRef<str>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbErr> {
    audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(target_id.as_ref()))
        .order_by_asc(audit_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
