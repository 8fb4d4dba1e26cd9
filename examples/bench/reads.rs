//! Bounded-work scenarios: list reads at organization scale (filters, sort, groups) with
//! the server's memory as the organization grows, the heaviest PATCH the caps allow
//! beside another organization's light PATCHes, and `/metrics` at a million events.

use ids::{GroupId, MembershipId, OrganizationId, UserId};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::{events, group_members, groups, memberships, organizations, users};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait,
};
use serde_json::{Value, json};

use super::{Db, drive, fresh_database, memory_mib, percentile, start_offboard_on};

const FAMILY: &[&str] = &[
    "Smith",
    "Jones",
    "Xu",
    "Alexander",
    "Baxter",
    "Cox",
    "Meyer",
    "Nguyen",
    "Garcia",
    "Knox",
    "Maxwell",
    "Olsen",
    "Patel",
    "Rossi",
    "Felix",
    "Young",
];

async fn the_org(db: &DatabaseConnection) -> OrganizationId {
    organizations::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Inserts users `from..to` of the organization (one membership each) and groups of ten
/// members for every hundred users, in bulk.
async fn seed(db: &DatabaseConnection, org: &OrganizationId, from: usize, to: usize) {
    let now = Utc::now();
    let txn = db.begin().await.unwrap();
    for start in (from..to).step_by(1000) {
        let end = (start + 1000).min(to);
        let (mut us, mut ms, mut scim_ids) = (Vec::new(), Vec::new(), Vec::new());
        for i in start..end {
            let uid = UserId::new();
            let mid = MembershipId::new();
            let name = format!("user{i}@reads.example");
            let family = FAMILY[(i * 7 + i / 3) % FAMILY.len()];
            us.push(users::ActiveModel {
                id: Set(uid.clone()),
                identity_key: Set(None),
                email: Set(Some(name.clone())),
                display_name: Set(Some(format!("User {i}"))),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                purge_after: Set(None),
                held_identity_key: Set(None),
            });
            ms.push(memberships::ActiveModel {
                id: Set(mid.clone()),
                scim_id: Set(mid.to_string()),
                organization_id: Set(org.clone()),
                user_id: Set(uid),
                status: Set(entity::memberships::Status::Active),
                roles: Set(json!([])),
                external_id: Set(Some(format!("ext-{i}"))),
                user_name: Set(Some(name.clone())),
                user_name_key: Set(Some(name.clone())),
                scim: Set(Some(json!({
                    "userName": name,
                    "name": {"givenName": "User", "familyName": format!("{family}{i}")},
                    "emails": [{"value": name, "type": "work", "primary": true}],
                }))),
                given_name_key: Set(Some("user".into())),
                family_name_key: Set(Some(format!("{family}{i}").to_lowercase())),
                display_name_key: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                status_changed_at: Set(now),
                removed_at: Set(None),
                purge_after: Set(None),
                removed_with_account: Set(false),
                granted_roles: Set(None),
            });
            scim_ids.push(mid.to_string());
        }
        users::Entity::insert_many(us)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        memberships::Entity::insert_many(ms)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        let (mut gs, mut gms) = (Vec::new(), Vec::new());
        for (k, members) in scim_ids.chunks(10).enumerate() {
            let gid = GroupId::new();
            let name = format!("Group {} {k}", start / 10);
            gs.push(groups::ActiveModel {
                id: Set(gid.clone()),
                organization_id: Set(org.clone()),
                display_name_key: Set(name.to_lowercase()),
                display_name: Set(name.clone()),
                external_id: Set(None),
                scim: Set(json!({"displayName": name})),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            });
            for m in members {
                gms.push(group_members::ActiveModel {
                    group_id: Set(gid.clone()),
                    member_id: Set(m.clone()),
                    organization_id: Set(org.clone()),
                    created_at: Set(now),
                });
            }
        }
        groups::Entity::insert_many(gs)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        group_members::Entity::insert_many(gms)
            .exec_without_returning(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // What a production server's autovacuum does after a bulk load (this machine's
        // runs without it): statistics, and the visibility map index-only scans need.
        db.execute_unprepared("VACUUM ANALYZE").await.unwrap();
    }
}

/// A timed list request: its name, query parameters and resource type.
type Query = (&'static str, Vec<(&'static str, String)>, &'static str);

/// Lists at `sizes` users (and a tenth as many groups), growing one organization.
pub async fn reads(sizes: Vec<usize>, connections: usize, duration: Duration, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let url = target.url.clone();
    let (mut child, base, token, _target) = start_offboard_on(target, None).await;
    let pid = child.id();
    let db = offboard::db::connect(&url, 2).await.unwrap();
    let org = the_org(&db).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let mut seeded = 0;
    for size in sizes {
        let t = Instant::now();
        seed(&db, &org, seeded, size).await;
        seeded = size;
        println!(
            "== reads db={db_kind:?}: {size} users, {} groups (seeded in {:.1?})",
            size / 10,
            t.elapsed()
        );
        let queries: Vec<Query> = vec![
            (
                "Users filter familyName co x",
                vec![
                    ("filter", "name.familyName co \"x\"".into()),
                    ("count", "100".into()),
                ],
                "Users",
            ),
            (
                "Users sortBy userName",
                vec![("sortBy", "userName".into()), ("count", "100".into())],
                "Users",
            ),
            (
                "Users userName eq",
                vec![(
                    "filter",
                    format!("userName eq \"user{}@reads.example\"", size / 2),
                )],
                "Users",
            ),
            ("Groups count=10", vec![("count", "10".into())], "Groups"),
            (
                "Groups displayName eq",
                vec![("filter", "displayName eq \"GROUP 5 3\"".into())],
                "Groups",
            ),
        ];
        for (name, params, resource) in queries {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            let params = Arc::new(params);
            let mut out = drive(name, connections, duration, move |_, _| {
                Some(
                    client
                        .get(format!("{base}/{resource}"))
                        .bearer_auth(&token)
                        .query(params.as_slice()),
                )
            })
            .await;
            out.print();
        }
        if let Some((rss, peak)) = memory_mib(pid) {
            println!("server RSS {rss:.1} MiB, peak {peak:.1} MiB");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn with_roles(name: &str, n: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "roles": (0..n).map(|i| json!({"value": format!("role-{i}")})).collect::<Vec<_>>(),
    })
}

/// The heaviest PATCH the caps allow: 1,000 operations, each scanning 1,000 roles.
fn worst_patch() -> Value {
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "replace", "path": format!("roles[value eq \"role-{}\"].display", 999 - i), "value": format!("R{i}")}))
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The worst allowed PATCH: its CPU time in process, then over HTTP while another
/// organization sends light PATCHes (whose latency shows whether they waited).
pub async fn worst_patch_scenario(db_kind: Db, rounds: usize) {
    use offboard::scim::patch::PatchRequest;
    use offboard::scim::resource::canonicalize;
    use offboard::scim::schema::USER;
    let body = worst_patch();
    let doc = canonicalize(&USER, &with_roles("x@example.com", 1000)).unwrap();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let req = PatchRequest::parse(&body, &USER).unwrap();
        let out = req.apply(&USER, &doc).unwrap();
        std::hint::black_box(out);
        cpu.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    cpu.sort_by(|a, b| a.total_cmp(b));
    println!(
        "== worst PATCH ({} bytes): parse + apply in process p50 {:.1} ms, max {:.1} ms",
        body.to_string().len(),
        percentile(&cpu, 0.5),
        cpu.last().copied().unwrap_or_default()
    );

    let target = fresh_database(db_kind).await;
    let (mut child, base, token, _t) = start_offboard_on(target, None).await;
    let client = reqwest::Client::new();
    let create = |token: String, body: Value| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r: Value = client
                .post(format!("{base}/Users"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["id"].as_str().unwrap().to_string()
        }
    };
    let heavy = create(token.clone(), with_roles("heavy@example.com", 1000)).await;
    let light = create(token.clone(), with_roles("light@example.com", 1)).await;
    let light_patch = |i: usize| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": i.is_multiple_of(2)}]});
    let send_light = |i: usize| {
        let (client, base, token, light) =
            (client.clone(), base.clone(), token.clone(), light.clone());
        async move {
            let t = Instant::now();
            let r = client
                .patch(format!("{base}/Users/{light}"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(light_patch(i).to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            t.elapsed().as_secs_f64() * 1000.0
        }
    };
    let mut alone = Vec::new();
    for i in 0..200 {
        alone.push(send_light(i).await);
    }
    let (mut heavy_ms, mut beside) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (client, base, token, heavy, body) = (
            client.clone(),
            base.clone(),
            token.clone(),
            heavy.clone(),
            body.clone(),
        );
        let h = tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .patch(format!("{base}/Users/{heavy}"))
                .bearer_auth(&token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            t.elapsed().as_secs_f64() * 1000.0
        });
        let mut i = 0;
        while !h.is_finished() {
            beside.push(send_light(round * 1000 + i).await);
            i += 1;
        }
        heavy_ms.push(h.await.unwrap());
    }
    for v in [&mut alone, &mut heavy_ms, &mut beside] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    println!(
        "worst PATCH over HTTP db={db_kind:?}: p50 {:.1} ms, max {:.1} ms",
        percentile(&heavy_ms, 0.5),
        heavy_ms.last().copied().unwrap_or_default()
    );
    println!(
        "light PATCH alone p50 {:.2} ms p99 {:.2} ms; beside the worst PATCH p50 {:.2} ms p99 {:.2} ms max {:.2} ms ({} requests)",
        percentile(&alone, 0.5),
        percentile(&alone, 0.99),
        percentile(&beside, 0.5),
        percentile(&beside, 0.99),
        beside.last().copied().unwrap_or_default(),
        beside.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `/metrics` scrapes with `events` rows in the outbox: the first (which reads the
/// database) and the next ones (cached for a few seconds).
pub async fn metrics_scenario(events_n: usize, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let url = target.url.clone();
    let port = super::free_port();
    let (mut child, _base, _token, _t) = start_offboard_on(target, Some(port)).await;
    let db = offboard::db::connect(&url, 2).await.unwrap();
    let org = the_org(&db).await;
    let types = [
        "user.created",
        "membership.created",
        "membership.deactivated",
        "membership.deleted",
        "user.deleted",
        "sessions.revoked",
    ];
    let t = Instant::now();
    let now = Utc::now();
    let txn = db.begin().await.unwrap();
    for start in (0..events_n).step_by(2000) {
        let end = (start + 2000).min(events_n);
        let rows: Vec<events::ActiveModel> = (start..end)
            .map(|i| events::ActiveModel {
                id: Set(ids::new_id(ids::EVENT)),
                organization_id: Set(org.clone()),
                sequence: Set(i as i64 + 1),
                event_type: Set(types[i % types.len()].to_string()),
                user_id: Set(Some(UserId::from_stored(format!("usr_{i}")))),
                payload: Set(json!({"type": types[i % types.len()]})),
                created_at: Set(now),
                fanned_out: Set(true),
            })
            .collect();
        events::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    if db_kind == Db::Postgres {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    println!(
        "== metrics db={db_kind:?}: {events_n} events (seeded in {:.1?})",
        t.elapsed()
    );
    let client = reqwest::Client::new();
    let scrape = || {
        let client = client.clone();
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.text().await.unwrap();
            t.elapsed().as_secs_f64() * 1000.0
        }
    };
    let first = scrape().await;
    let mut warm = Vec::new();
    for _ in 0..50 {
        warm.push(scrape().await);
    }
    warm.sort_by(|a, b| a.total_cmp(b));
    println!(
        "scrape reading the database {first:.1} ms; cached scrapes p50 {:.2} ms p99 {:.2} ms",
        percentile(&warm, 0.5),
        percentile(&warm, 0.99)
    );
    let _ = child.kill();
    let _ = child.wait();
}
