//! SCIM groups and their member rows.

use ids::{GroupId, OrganizationId};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{group_members, groups, memberships};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::db;
use crate::domain::text::normalize_key;

pub struct NewGroup<'a> {
    pub organization_id: &'a OrganizationId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub record: Value,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    g: NewGroup<'_>,
    now: DateTime<Utc>,
) -> Result<groups::Model, DbErr> {
    groups::Entity::insert(groups::ActiveModel {
        id: Set(GroupId::new()),
        organization_id: Set(g.organization_id.clone()),
        display_name_key: Set(normalize_key(&g.display_name)),
        display_name: Set(g.display_name),
        external_id: Set(g.external_id),
        scim: Set(g.record),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
}

/// The organization's group, locked for update on PostgreSQL when `lock`.
pub async fn find(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    id: &GroupId,
    lock: bool,
) -> Result<Option<groups::Model>, DbErr> {
    let mut q = groups::Entity::find_by_id(id.clone())
        .filter(groups::Column::OrganizationId.eq(organization_id));
    if lock {
        q = db::for_update(q, db);
    }
    q.one(db).await
}

/// Writes a changed group back, bumping its version.
pub async fn save(
    db: &impl ConnectionTrait,
    current: &groups::Model,
    display_name: String,
    external_id: Option<String>,
    record: Value,
    now: DateTime<Utc>,
) -> Result<groups::Model, DbErr> {
    let mut am = current.clone().into_active_model();
    am.display_name_key = Set(normalize_key(&display_name));
    am.display_name = Set(display_name);
    am.external_id = Set(external_id);
    am.scim = Set(record);
    am.version = Set(current.version + 1);
    am.updated_at = Set(now);
    am.update(db).await
}

/// Bumps the version only (a member change), so `meta.version` moves.
pub async fn touch(
    db: &impl ConnectionTrait,
    current: &groups::Model,
    now: DateTime<Utc>,
) -> Result<groups::Model, DbErr> {
    let mut am = current.clone().into_active_model();
    am.version = Set(current.version + 1);
    am.updated_at = Set(now);
    am.update(db).await
}

pub async fn delete(db: &impl ConnectionTrait, id: &GroupId) -> Result<(), DbErr> {
    group_members::Entity::delete_many()
        .filter(group_members::Column::GroupId.eq(id))
        .exec(db)
        .await?;
    groups::Entity::delete_by_id(id.clone()).exec(db).await?;
    Ok(())
}

/// Deletes every group of the organization (organization deletion); returns how many.
pub async fn delete_for_organization(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
) -> Result<u64, DbErr> {
    group_members::Entity::delete_many()
        .filter(group_members::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    let res = groups::Entity::delete_many()
        .filter(groups::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// A group member: its SCIM id and, when it is a live user, its userName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub display: Option<String>,
}

/// The group's members (SCIM ids) with their userName in the organization, in id order.
pub async fn members(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    group_id: &GroupId,
) -> Result<Vec<Member>, DbErr> {
    let ids = member_ids(db, group_id).await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = memberships::Entity::find()
            .select_only()
            .column(memberships::Column::ScimId)
            .column(memberships::Column::UserName)
            .filter(memberships::Column::OrganizationId.eq(organization_id))
            .filter(memberships::Column::ScimId.is_in(chunk.iter()))
            .filter(memberships::Column::RemovedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        names.extend(rows);
    }
    Ok(ids
        .into_iter()
        .map(|id| Member {
            display: names.get(&id).cloned().flatten(),
            id,
        })
        .collect())
}

pub async fn member_ids(
    db: &impl ConnectionTrait,
    group_id: &GroupId,
) -> Result<Vec<String>, DbErr> {
    group_members::Entity::find()
        .select_only()
        .column(group_members::Column::MemberId)
        .filter(group_members::Column::GroupId.eq(group_id))
        .order_by_asc(group_members::Column::MemberId)
        .into_tuple()
        .all(db)
        .await
}

/// Of `member_ids` (SCIM ids), those already in the group.
pub async fn member_ids_among(
    db: &impl ConnectionTrait,
    group_id: &GroupId,
    member_ids: &[String],
) -> Result<Vec<String>, DbErr> {
    let mut out = Vec::new();
    for chunk in member_ids.chunks(500) {
        let rows: Vec<String> = group_members::Entity::find()
            .select_only()
            .column(group_members::Column::MemberId)
            .filter(group_members::Column::GroupId.eq(group_id))
            .filter(group_members::Column::MemberId.is_in(chunk.iter()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Adds members (SCIM ids); returns those that were not members before.
pub async fn add_members(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    group_id: &GroupId,
    member_ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    let already: std::collections::HashSet<String> = member_ids_among(db, group_id, member_ids)
        .await?
        .into_iter()
        .collect();
    let new: Vec<String> = member_ids
        .iter()
        .filter(|u| !already.contains(*u))
        .cloned()
        .collect();
    for chunk in new.chunks(500) {
        group_members::Entity::insert_many(chunk.iter().map(|u| group_members::ActiveModel {
            group_id: Set(group_id.clone()),
            member_id: Set(u.clone()),
            organization_id: Set(organization_id.clone()),
            created_at: Set(now),
        }))
        .on_conflict(
            OnConflict::columns([
                group_members::Column::GroupId,
                group_members::Column::MemberId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(new)
}

/// Removes members (SCIM ids); returns those that were members.
pub async fn remove_members(
    db: &impl ConnectionTrait,
    group_id: &GroupId,
    member_ids: &[String],
) -> Result<Vec<String>, DbErr> {
    let there = member_ids_among(db, group_id, member_ids).await?;
    for chunk in there.chunks(500) {
        group_members::Entity::delete_many()
            .filter(group_members::Column::GroupId.eq(group_id))
            .filter(group_members::Column::MemberId.is_in(chunk.iter()))
            .exec(db)
            .await?;
    }
    Ok(there)
}

/// Takes members (SCIM ids) out of every group of the organization (their membership
/// was removed); returns the (group, member) pairs removed.
pub async fn remove_from_all_groups(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    member_ids: &[String],
) -> Result<Vec<(GroupId, String)>, DbErr> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<(GroupId, String)> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .column(group_members::Column::MemberId)
        .filter(group_members::Column::OrganizationId.eq(organization_id))
        .filter(group_members::Column::MemberId.is_in(member_ids.iter().map(String::as_str)))
        .order_by_asc(group_members::Column::GroupId)
        .into_tuple()
        .all(db)
        .await?;
    if !pairs.is_empty() {
        group_members::Entity::delete_many()
            .filter(group_members::Column::OrganizationId.eq(organization_id))
            .filter(group_members::Column::MemberId.is_in(member_ids.iter().map(String::as_str)))
            .exec(db)
            .await?;
    }
    Ok(pairs)
}

/// A group a member is in, with what a role rule can name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGroup {
    pub id: GroupId,
    pub external_id: Option<String>,
    pub display_name: String,
}

impl MemberGroup {
    /// As a user's `groups` shows it: `(id, displayName)`.
    pub fn shown(&self) -> (GroupId, String) {
        (self.id.clone(), self.display_name.clone())
    }
}

/// The groups of each of these members (SCIM ids) in the organization, each member's in
/// id order.
pub async fn member_groups(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    member_ids: &[String],
) -> Result<HashMap<String, Vec<MemberGroup>>, DbErr> {
    let mut out: HashMap<String, Vec<MemberGroup>> = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let pairs: Vec<(String, GroupId)> = group_members::Entity::find()
            .select_only()
            .column(group_members::Column::MemberId)
            .column(group_members::Column::GroupId)
            .filter(group_members::Column::OrganizationId.eq(organization_id))
            .filter(group_members::Column::MemberId.is_in(chunk.iter()))
            .into_tuple()
            .all(db)
            .await?;
        if pairs.is_empty() {
            continue;
        }
        let mut group_ids: Vec<&GroupId> = pairs.iter().map(|(_, g)| g).collect();
        group_ids.sort_unstable();
        group_ids.dedup();
        let facts: HashMap<GroupId, MemberGroup> = groups::Entity::find()
            .select_only()
            .column(groups::Column::Id)
            .column(groups::Column::ExternalId)
            .column(groups::Column::DisplayName)
            .filter(groups::Column::Id.is_in(group_ids))
            .into_tuple::<(GroupId, Option<String>, String)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(id, external_id, display_name)| {
                let group = MemberGroup {
                    id: id.clone(),
                    external_id,
                    display_name,
                };
                (id, group)
            })
            .collect();
        for (member, group) in pairs {
            if let Some(g) = facts.get(&group) {
                out.entry(member).or_default().push(g.clone());
            }
        }
    }
    for groups in out.values_mut() {
        groups.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(out)
}

/// The groups of each of these members (SCIM ids) in the organization, as their `groups`
/// shows them: member -> [(id, displayName)], in id order.
pub async fn groups_of_members(
    db: &impl ConnectionTrait,
    organization_id: &OrganizationId,
    member_ids: &[String],
) -> Result<HashMap<String, Vec<(GroupId, String)>>, DbErr> {
    Ok(member_groups(db, organization_id, member_ids)
        .await?
        .into_iter()
        .map(|(member, groups)| (member, groups.iter().map(MemberGroup::shown).collect()))
        .collect())
}

/// What `/Users` or `/Groups` lists: the organization's groups.
pub fn listed(organization_id: &OrganizationId) -> sea_orm::Select<groups::Entity> {
    groups::Entity::find().filter(groups::Column::OrganizationId.eq(organization_id))
}
