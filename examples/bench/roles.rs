//! Roles from groups at organization scale: one member added to and removed from a group
//! of `--members` over SCIM, without a role rule naming the group and then with one (the
//! role is recomputed in the same request), and a mapping change over every member as a
//! `roles.recompute` job, timed to its end.

use std::time::Duration;

use entity::memberships;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};

use super::{Db, admin_jwt, create_org, drive, follow, in_process, seed_tagged};

const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub async fn roles_scenario(members: usize, connections: usize, duration: Duration, db_kind: Db) {
    offboard::install_crypto_provider();
    let (_target, port, db, actor) = in_process(db_kind).await;
    let create = |n: &'static str| create_org(&db, &actor, n);
    let (org, other) = (create("Roles").await, create("Other").await);
    // The group's members, and outsiders to add and remove (one per connection).
    seed_tagged(&db, &org.id, &other.id, members + connections, "roles").await;
    if matches!(db_kind, Db::Postgres) {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    let rules = offboard::domain::token::Rules {
        expires_at: None,
        networks: offboard::domain::token::Networks::parse(&[]).unwrap(),
    };
    let (_, token) = offboard::service::scim_tokens::create(&db, &actor, &org.id, &rules)
        .await
        .unwrap();
    let scim_ids: Vec<String> = memberships::Entity::find()
        .select_only()
        .column(memberships::Column::ScimId)
        .filter(memberships::Column::OrganizationId.eq(&org.id))
        .into_tuple()
        .all(&db)
        .await
        .unwrap();
    let (inside, outside) = scim_ids.split_at(members);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let created: Value = client
        .post(format!("{base}/Groups"))
        .bearer_auth(&token)
        .header("content-type", SCIM_JSON)
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Engineering", "members": []})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = created["id"].as_str().unwrap().to_string();
    for chunk in inside.chunks(1000) {
        let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        let r = client
            .patch(format!("{base}/Groups/{gid}"))
            .bearer_auth(&token)
            .header("content-type", SCIM_JSON)
            .body(
                json!({"schemas": [PATCH_OP],
                       "Operations": [{"op": "add", "path": "members", "value": value}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    eprintln!("seeded {members} members in one group");

    let one_member = |label: String| {
        let (client, base, token, gid) = (client.clone(), base.clone(), token.clone(), gid.clone());
        let outsiders: Vec<String> = outside.to_vec();
        let run = move |w: usize, i: usize| {
            // Each worker adds then removes its own outsider, so changes never collide.
            let id = &outsiders[w % outsiders.len()];
            let op = if i.is_multiple_of(2) {
                json!({"op": "add", "path": "members", "value": [{"value": id}]})
            } else {
                json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")})
            };
            Some(
                client
                    .patch(format!("{base}/Groups/{gid}"))
                    .bearer_auth(&token)
                    .header("content-type", SCIM_JSON)
                    .body(json!({"schemas": [PATCH_OP], "Operations": [op]}).to_string()),
            )
        };
        async move { drive(&label, connections, duration, run).await }
    };
    one_member(format!("group PATCH 1 of {members}, no rule"))
        .await
        .print();

    // The mapping change: over SYNC_MAX members, a job.
    let admin = admin_jwt();
    let res = client
        .put(format!(
            "http://127.0.0.1:{port}/admin/v1/organizations/{}/role-mappings",
            org.id
        ))
        .bearer_auth(&admin)
        .json(&json!({"default_role": "member",
                      "rules": [{"group": {"display_name": "engineering"}, "role": "developer"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    let view: Value = res.json().await.unwrap();
    let (secs, readings) = follow(&db, view["job"]["id"].as_str().unwrap()).await;
    let job = offboard::service::jobs::get(&db, view["job"]["id"].as_str().unwrap())
        .await
        .unwrap();
    println!(
        "roles mapping-change db={db_kind:?} members={} time={secs:.2}s rate={:.0}/s members_changed={} progress_readings={readings}",
        job.done,
        job.done as f64 / secs,
        job.result["members_changed"],
    );

    // With the rule: each add grants the outsider `developer`, each removal takes it.
    let mut mapped = one_member(format!("group PATCH 1 of {members}, role rule")).await;
    mapped.print();
    let granted: Option<Value> = memberships::Entity::find()
        .select_only()
        .column(memberships::Column::GrantedRoles)
        .filter(memberships::Column::ScimId.eq(&inside[0]))
        .into_tuple()
        .one(&db)
        .await
        .unwrap();
    assert_eq!(
        granted,
        Some(json!(["developer"])),
        "the group's members hold its role"
    );
}
