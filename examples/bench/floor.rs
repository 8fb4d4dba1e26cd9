//! The floor: the statements one SCIM `PATCH active=false` and one `DELETE /Users/{id}`
//! commit in offboard (the same SQL, the same tables and indexes, rows of the same size),
//! run in a loop directly against SQLite through sqlx: no HTTP, no ORM, no JSON built per
//! request. Each transaction is `BEGIN IMMEDIATE` … `COMMIT` on one connection, as
//! offboard's single SQLite writer does, so transactions per second here is what this
//! machine's SQLite can commit of offboard's work; offboard's req/s divided by it is the
//! fraction of the floor reached.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{self, Row};

use crate::{Db, fresh_database, percentile, seed};

const SELECT_MEMBERSHIP: &str = r#"SELECT "memberships"."id", "memberships"."organization_id", "memberships"."user_id", "memberships"."scim_id", "memberships"."status", "memberships"."roles", "memberships"."external_id", "memberships"."user_name", "memberships"."user_name_key", "memberships"."scim", "memberships"."given_name_key", "memberships"."family_name_key", "memberships"."display_name_key", "memberships"."version", "memberships"."created_at", "memberships"."updated_at", "memberships"."status_changed_at", "memberships"."removed_at", "memberships"."purge_after", "memberships"."removed_with_account", "memberships"."granted_roles" FROM "memberships" WHERE "memberships"."organization_id" = ? AND "memberships"."scim_id" = ? AND "memberships"."removed_at" IS NULL LIMIT ?"#;
const COUNT_GUARD: &str = r#"UPDATE "deprovision_guards" SET "window_count" = "window_count" + ?, "updated_at" = ? WHERE "deprovision_guards"."organization_id" = ? AND "deprovision_guards"."mode" <> ? AND "deprovision_guards"."tripped_at" IS NULL AND "deprovision_guards"."window_started_at" > ? RETURNING "organization_id", "mode", "max_count", "max_percent", "window_secs", "window_started_at", "window_count", "active_at_start", "reported", "tripped_at", "updated_at""#;
const SELECT_ROLE_MAPPING: &str = r#"SELECT "organizations"."role_mapping" FROM "organizations" WHERE "organizations"."id" = ? LIMIT ?"#;
const REVOKE_SESSIONS: &str = r#"UPDATE "sessions" SET "revoked_at" = ?, "revoked_reason" = ? WHERE "organization_id" = ? AND "user_id" IN (?) AND "revoked_at" IS NULL RETURNING "user_id""#;
const UPDATE_MEMBERSHIP: &str = r#"UPDATE "memberships" SET "status" = ?, "version" = ?, "updated_at" = ?, "status_changed_at" = ? WHERE "memberships"."id" = ? RETURNING "id", "organization_id", "user_id", "scim_id", "status", "roles", "external_id", "user_name", "user_name_key", "scim", "given_name_key", "family_name_key", "display_name_key", "version", "created_at", "updated_at", "status_changed_at", "removed_at", "purge_after", "removed_with_account", "granted_roles""#;
const SELECT_GROUPS: &str = r#"SELECT "group_members"."member_id", "group_members"."group_id" FROM "group_members" WHERE "group_members"."organization_id" = ? AND "group_members"."member_id" IN (?)"#;
const RESERVE_SEQUENCE: &str = r#"UPDATE "organizations" SET "event_seq" = "event_seq" + ? WHERE "organizations"."id" = ? AND "organizations"."deleted_at" IS NULL RETURNING "event_seq""#;
const INSERT_EVENT: &str = r#"INSERT INTO "events" ("id", "organization_id", "sequence", "event_type", "user_id", "payload", "created_at", "fanned_out") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"#;
const INSERT_AUDIT: &str = r#"INSERT INTO "audit_log" ("id", "organization_id", "actor_type", "actor_id", "action", "target_type", "target_id", "details", "request_id", "outcome", "created_at", "client_address") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#;
// DELETE's own statements (besides those above).
const MARK_REMOVED: &str = r#"UPDATE "memberships" SET "status_changed_at" = (CASE WHEN ("status" <> ?) THEN ? ELSE "status_changed_at" END), "status" = ?, "removed_at" = ?, "updated_at" = ?, "version" = "version" + ?, "purge_after" = ?, "scim" = ?, "given_name_key" = ?, "family_name_key" = ?, "display_name_key" = ?, "user_name" = ?, "user_name_key" = ?, "external_id" = ?, "roles" = ? WHERE "memberships"."id" IN (?)"#;
const OTHERS: &str = r#"SELECT "memberships"."user_id", "memberships"."removed_at" FROM "memberships" WHERE "memberships"."user_id" IN (?) AND "memberships"."id" NOT IN (?)"#;
const DELETE_ACCOUNT: &str = r#"UPDATE "users" SET "deleted_at" = ?, "updated_at" = ?, "identity_key" = ?, "held_identity_key" = ?, "email" = ?, "display_name" = ?, "purge_after" = ? WHERE "users"."id" IN (?) AND "users"."deleted_at" IS NULL"#;
const ERASE_EVENTS_EVERYWHERE: &str = "UPDATE events INDEXED BY idx_events_user SET payload = json_remove(json_set(payload, '$.data.user', json_object('id', json_extract(payload, '$.data.user.id'), 'external_id', NULL)), '$.data.previous_attributes') WHERE user_id IN (?) AND (json_type(payload, '$.data.user.status') IS NOT NULL OR json_type(payload, '$.data.user.external_id') = 'text' OR json_type(payload, '$.data.previous_attributes') IS NOT NULL)";

/// An event payload of the size offboard writes.
fn event_payload(id: &str, org: &str, user: &str, name: &str) -> String {
    serde_json::json!({"id": id, "type": "membership.deactivated", "timestamp": "2026-11-26T12:00:00.000Z",
        "organization_id": org, "sequence": 1, "data": {"membership": {"id": user, "status": "INACTIVE"},
        "user": {"id": user, "external_id": "ext-1", "user_name": name, "email": name, "name": {"givenName": "User", "familyName": "Bench"},
        "active": false, "status": "INACTIVE", "groups": []}, "sessions_revoked": 0,
        "source": "scim.patch", "scim_token_id": "tok_01JBENCH", "request_id": "req_01JBENCH"}})
    .to_string()
}

pub async fn floor(users: usize, duration: Duration, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let db = offboard::db::connect(&target.url, 2).await.unwrap();
    offboard::db::migrate(&db).await.unwrap();
    let actor = offboard::store::audit::Actor {
        kind: offboard::store::audit::ActorKind::Admin,
        id: "bench".into(),
        request_id: None,
        client_address: None,
    };
    let name = offboard::domain::organization::OrganizationName::parse("Bench").unwrap();
    let org = offboard::service::admin::create_organization(
        &db,
        &actor,
        &name,
        None,
        crate::bench_guard_settings(),
    )
    .await
    .unwrap();
    let other_name = offboard::domain::organization::OrganizationName::parse("Other").unwrap();
    let other = offboard::service::admin::create_organization(
        &db,
        &actor,
        &other_name,
        None,
        crate::bench_guard_settings(),
    )
    .await
    .unwrap();
    seed(&db, &org.id, &other.id, users).await;
    // The guard's window in progress, as it is in every deprovisioning but a window's
    // first: the floor measures the common case.
    {
        use entity::deprovision_guards as guards;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        guards::Entity::update_many()
            .col_expr(
                guards::Column::WindowStartedAt,
                Expr::value(chrono::Utc::now()),
            )
            .col_expr(guards::Column::ActiveAtStart, Expr::value(users as i64))
            .filter(guards::Column::OrganizationId.eq(org.id.clone()))
            .exec(&db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    if db_kind == Db::Postgres {
        return floor_postgres(&target.url, org.id.as_str(), users, duration).await;
    }

    let options = SqliteConnectOptions::from_str(&target.url)
        .unwrap()
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
        .pragma("secure_delete", "ON")
        .pragma("wal_autocheckpoint", "20000");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    checkpoint_in_background(&target.url);
    let members: Vec<(String, String, String, String)> = sqlx::query(
        r#"SELECT id, scim_id, user_id, user_name FROM memberships WHERE organization_id = ? ORDER BY id"#,
    )
    .bind(org.id.as_str())
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    println!(
        "== floor: offboard's statements on SQLite (WAL, synchronous=NORMAL, secure_delete, checkpoints beside the writer), one writer, {users} members, {duration:?} each"
    );

    // PATCH active=false/true: the deprovisioning transaction.
    let mut clock = Clock::default();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < duration {
        let t = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        clock.start();
        patch(&mut conn, &mut clock, org.id.as_str(), &members, i, ONE).await;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        i += 1;
    }
    report(
        "PATCH active (its transaction)",
        &mut latencies,
        started.elapsed(),
    );
    clock.print(latencies.len());

    // The same PATCH transactions, GROUP at a time in one commit, each in its savepoint:
    // what a writer committing concurrent requests together would do through this driver.
    let mut clock = Clock::default();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < duration {
        let t = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .unwrap();
        for _ in 0..GROUP {
            clock.start();
            patch(
                &mut conn,
                &mut clock,
                org.id.as_str(),
                &members,
                i,
                IN_GROUP,
            )
            .await;
            i += 1;
        }
        sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
        let each = t.elapsed().as_secs_f64() * 1e3;
        latencies.extend(std::iter::repeat_n(each, GROUP));
    }
    report(
        &format!("PATCH active, {GROUP} per commit"),
        &mut latencies,
        started.elapsed(),
    );

    // The same statements through a synchronous driver (rusqlite on the same file and
    // settings): no hand-off to a connection thread per statement. Alone, then grouped.
    let sync = synchronous(&target.url);
    for group in [1, GROUP] {
        let mut clock = Clock::default();
        let mut latencies = Vec::new();
        let started = Instant::now();
        let mut i = 0usize;
        while started.elapsed() < duration {
            let t = Instant::now();
            if group == 1 {
                clock.start();
                patch_sync(&sync, &mut clock, org.id.as_str(), &members, i, ONE);
                i += 1;
            } else {
                sync.execute_batch("BEGIN IMMEDIATE").unwrap();
                for _ in 0..group {
                    clock.start();
                    patch_sync(&sync, &mut clock, org.id.as_str(), &members, i, IN_GROUP);
                    i += 1;
                }
                sync.execute_batch("COMMIT").unwrap();
            }
            let each = t.elapsed().as_secs_f64() * 1e3;
            latencies.extend(std::iter::repeat_n(each, group));
        }
        report(
            &format!("PATCH active, synchronous, {group} per commit"),
            &mut latencies,
            started.elapsed(),
        );
        if group == 1 {
            clock.print(latencies.len());
        }
    }
    drop(sync);

    // DELETE /Users/{id}: removal, account deletion and erasure at once.
    let mut clock = Clock::default();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut deleted = 0usize;
    let half = members.len() / 2;
    while started.elapsed() < duration && deleted < half {
        let t = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        clock.start();
        delete(
            &mut conn,
            &mut clock,
            org.id.as_str(),
            &members[deleted],
            ONE,
        )
        .await;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        deleted += 1;
    }
    report(
        "DELETE /Users (its transaction)",
        &mut latencies,
        started.elapsed(),
    );
    clock.print(latencies.len());
    // The other half of the members, GROUP deletions per commit.
    let mut clock = Clock::default();
    let mut latencies = Vec::new();
    let started = Instant::now();
    for group in members[half..].chunks(GROUP) {
        if started.elapsed() >= duration {
            break;
        }
        let t = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .unwrap();
        for member in group {
            clock.start();
            delete(&mut conn, &mut clock, org.id.as_str(), member, IN_GROUP).await;
        }
        sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
        let each = t.elapsed().as_secs_f64() * 1e3;
        latencies.extend(std::iter::repeat_n(each, group.len()));
    }
    report(
        &format!("DELETE /Users, {GROUP} per commit"),
        &mut latencies,
        started.elapsed(),
    );
    // The smallest write transaction, for scale.
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query(RESERVE_SEQUENCE)
            .bind(1i64)
            .bind(other.id.as_str())
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report(
        "one UPDATE per transaction",
        &mut latencies,
        started.elapsed(),
    );
}

/// How many requests' transactions the grouped floors commit together (as many as the
/// SCIM scenario's connections).
const GROUP: usize = 16;

/// How a transaction is opened and closed: on its own, or as one request of a group that
/// commits together (a savepoint each, as a group-committing writer would isolate them).
type Bounds = (&'static str, &'static str);
const ONE: Bounds = ("BEGIN IMMEDIATE", "COMMIT");
const IN_GROUP: Bounds = ("SAVEPOINT request", "RELEASE request");

/// One `DELETE /Users/{id}` of a member of one organization only: removal, account
/// deletion and erasure at once.
async fn delete(
    c: &mut Conn,
    clock: &mut Clock,
    org: &str,
    member: &(String, String, String, String),
    bounds: Bounds,
) {
    let (mid, scim_id, uid, _) = member;
    let now = chrono::Utc::now();
    guarded_start(
        c,
        clock,
        org,
        scim_id,
        uid,
        "membership.deleted",
        now,
        bounds.0,
    )
    .await;
    sqlx::query(SELECT_GROUPS)
        .bind(org)
        .bind(scim_id)
        .fetch_all(&mut *c)
        .await
        .unwrap();
    clock.tick("select groups");
    let none = Option::<String>::None;
    sqlx::query(MARK_REMOVED)
        .bind("INACTIVE")
        .bind(now)
        .bind("INACTIVE")
        .bind(now)
        .bind(now)
        .bind(1i64)
        .bind(Option::<chrono::DateTime<chrono::Utc>>::None)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind("[]")
        .bind(mid)
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("mark removed");
    // The user's other memberships: none, so the account goes and there is no other
    // record to erase.
    sqlx::query(OTHERS)
        .bind(uid)
        .bind(mid)
        .fetch_all(&mut *c)
        .await
        .unwrap();
    clock.tick("other memberships");
    sqlx::query(DELETE_ACCOUNT)
        .bind(now)
        .bind(now)
        .bind(&none)
        .bind(&none)
        .bind(&none)
        .bind("deleted user")
        .bind(Option::<chrono::DateTime<chrono::Utc>>::None)
        .bind(uid)
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("delete account");
    sqlx::query("DELETE FROM \"suspensions\" WHERE \"suspensions\".\"user_id\" IN (?)")
        .bind(uid)
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("end suspensions");
    sqlx::query(ERASE_EVENTS_EVERYWHERE)
        .bind(uid)
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("erase events (all)");
    let events: Vec<(&str, String, String)> = ["membership.deleted", "user.deleted"]
        .into_iter()
        .map(|kind| {
            let id = ids::new_id(ids::EVENT);
            let payload = format!(r#"{{"id":"{id}","type":"{kind}","organization_id":"{}","data":{{"user":{{"id":"{uid}","external_id":null}}}}}}"#, org);
            (kind, id, payload)
        })
        .collect();
    finish(c, clock, org, uid, mid, &events, now, bounds.1).await;
}

/// One PATCH `active` deprovisioning (or reactivation, every other `i`): its statements.
#[allow(clippy::too_many_arguments)]
async fn patch(
    c: &mut Conn,
    clock: &mut Clock,
    org: &str,
    members: &[(String, String, String, String)],
    i: usize,
    bounds: Bounds,
) {
    let (mid, scim_id, uid, user_name) = &members[(i * 7919) % members.len()];
    let now = chrono::Utc::now();
    guarded_start(
        c,
        clock,
        org,
        scim_id,
        uid,
        "membership.deactivated",
        now,
        bounds.0,
    )
    .await;
    let status = if i.is_multiple_of(2) {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    sqlx::query(UPDATE_MEMBERSHIP)
        .bind(status)
        .bind(i as i64 + 2)
        .bind(now)
        .bind(now)
        .bind(mid)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    clock.tick("update membership");
    sqlx::query(SELECT_GROUPS)
        .bind(org)
        .bind(scim_id)
        .fetch_all(&mut *c)
        .await
        .unwrap();
    clock.tick("select groups");
    sqlx::query(SELECT_ROLE_MAPPING)
        .bind(org)
        .bind(1i64)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    clock.tick("select role mapping");
    let event_id = ids::new_id(ids::EVENT);
    let payload = event_payload(&event_id, org, uid, user_name);
    finish(
        c,
        clock,
        org,
        uid,
        mid,
        &[("membership.deactivated", event_id, payload)],
        now,
        bounds.1,
    )
    .await;
}

/// How many PATCH transactions run at once on PostgreSQL (as the SCIM scenario's
/// connections).
const CONNECTIONS: usize = 16;

/// The floor on PostgreSQL: offboard's PATCH statements (the SQLite floor's SQL with
/// PostgreSQL's placeholders, row locks and casts, as offboard sends them), on
/// `CONNECTIONS` connections at once, each looping over its own members of one
/// organization, for `duration`.
async fn floor_postgres(url: &str, org: &str, users: usize, duration: Duration) {
    use sea_orm::sqlx::postgres::PgPoolOptions;
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS as u32)
        .connect(url)
        .await
        .unwrap();
    let members: Vec<(String, String, String, String)> = sqlx::query(
        "SELECT id, scim_id, user_id, user_name FROM memberships WHERE organization_id = $1 ORDER BY id",
    )
    .bind(org)
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    println!(
        "== floor: offboard's PATCH statements on PostgreSQL, {CONNECTIONS} connections at once, {users} members, {duration:?}"
    );
    let members = std::sync::Arc::new(members);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..CONNECTIONS {
        let (pool, members, org) = (pool.clone(), members.clone(), org.to_string());
        tasks.spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let mut latencies = Vec::new();
            let mut i = k;
            while started.elapsed() < duration {
                let t = Instant::now();
                patch_postgres(&mut conn, &org, &members, i).await;
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                i += CONNECTIONS;
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap());
    }
    report(
        &format!("PATCH active, {CONNECTIONS} at once"),
        &mut latencies,
        started.elapsed(),
    );
}

/// SQLite's `?` placeholders as PostgreSQL's `$1`, `$2`, ...
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// `patch`'s statements as offboard sends them to PostgreSQL.
async fn patch_postgres(
    c: &mut sqlx::PgConnection,
    org: &str,
    members: &[(String, String, String, String)],
    i: usize,
) {
    use serde_json::Value;
    let (mid, scim_id, uid, user_name) = &members[(i * 7919) % members.len()];
    let now = chrono::Utc::now();
    sqlx::query("BEGIN").execute(&mut *c).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} FOR UPDATE",
        numbered(SELECT_MEMBERSHIP)
    )))
    .bind(org)
    .bind(scim_id)
    .bind(1i64)
    .fetch_optional(&mut *c)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(numbered(COUNT_GUARD)))
        .bind(1i64)
        .bind(now)
        .bind(org)
        .bind("off")
        .bind(now - chrono::Duration::days(7))
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(numbered(REVOKE_SESSIONS)))
        .bind(now)
        .bind("membership.deactivated")
        .bind(org)
        .bind(uid)
        .execute(&mut *c)
        .await
        .unwrap();
    let status = if i.is_multiple_of(2) {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    sqlx::query(sqlx::AssertSqlSafe(numbered(UPDATE_MEMBERSHIP)))
        .bind(status)
        .bind(i as i64 + 2)
        .bind(now)
        .bind(now)
        .bind(mid)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(numbered(SELECT_GROUPS)))
        .bind(org)
        .bind(scim_id)
        .fetch_all(&mut *c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(numbered(SELECT_ROLE_MAPPING)))
        .bind(org)
        .bind(1i64)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    let last: i64 = sqlx::query(sqlx::AssertSqlSafe(numbered(RESERVE_SEQUENCE)))
        .bind(1i64)
        .bind(org)
        .fetch_one(&mut *c)
        .await
        .unwrap()
        .get(0);
    let event_id = ids::new_id(ids::EVENT);
    let payload = event_payload(&event_id, org, uid, user_name);
    sqlx::query(sqlx::AssertSqlSafe(
        numbered(INSERT_EVENT).replace("$6", "CAST($6 AS json)"),
    ))
    .bind(event_id)
    .bind(org)
    .bind(last)
    .bind("membership.deactivated")
    .bind(uid)
    .bind(payload)
    .bind(now)
    .bind(false)
    .execute(&mut *c)
    .await
    .unwrap();
    let details: Value = serde_json::from_str(
        r#"{"from":"ACTIVE","to":"INACTIVE","sessions_revoked":0,"scim_id":"mem_01JBENCH"}"#,
    )
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(numbered(INSERT_AUDIT)))
        .bind(ids::new_id(ids::AUDIT))
        .bind(org)
        .bind("scim_token")
        .bind("tok_01JBENCH")
        .bind("membership.change")
        .bind("membership")
        .bind(mid)
        .bind(details)
        .bind("req_01JBENCH")
        .bind("success")
        .bind(now)
        .bind("127.0.0.1")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query("COMMIT").execute(&mut *c).await.unwrap();
}

/// A synchronous connection to the floor's database, set up as offboard's writer is.
fn synchronous(url: &str) -> rusqlite::Connection {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA secure_delete = ON; PRAGMA busy_timeout = 30000; \
         PRAGMA wal_autocheckpoint = 20000;",
    )
    .unwrap();
    conn
}

/// Checkpoints the WAL every 100 ms on a connection of its own, as `serve` does beside
/// its writer (`db::checkpoint_forever`), for as long as the bench runs.
fn checkpoint_in_background(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        loop {
            std::thread::sleep(offboard::db::CHECKPOINT_EVERY);
            let _ = c.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
        }
    });
}

/// `patch`'s statements through rusqlite, in the same order with the same values.
fn patch_sync(
    c: &rusqlite::Connection,
    clock: &mut Clock,
    org: &str,
    members: &[(String, String, String, String)],
    i: usize,
    bounds: Bounds,
) {
    use rusqlite::params;
    let (mid, scim_id, uid, user_name) = &members[(i * 7919) % members.len()];
    let now = chrono::Utc::now().to_rfc3339();
    c.execute_batch(bounds.0).unwrap();
    clock.tick("BEGIN IMMEDIATE");
    let select = |sql: &str, values: &[&dyn rusqlite::ToSql]| {
        let mut statement = c.prepare_cached(sql).unwrap();
        let mut rows = statement.query(values).unwrap();
        while rows.next().unwrap().is_some() {}
    };
    select(SELECT_MEMBERSHIP, params![org, scim_id, 1]);
    clock.tick("select membership");
    let since = (chrono::Utc::now() - chrono::Duration::days(7)).to_rfc3339();
    select(COUNT_GUARD, params![1, now, org, "off", since]);
    clock.tick("count in guard");
    c.prepare_cached(REVOKE_SESSIONS)
        .unwrap()
        .execute(params![now, "membership.deactivated", org, uid])
        .unwrap();
    clock.tick("revoke sessions");
    let status = if i.is_multiple_of(2) {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    select(
        UPDATE_MEMBERSHIP,
        params![status, i as i64 + 2, now, now, mid],
    );
    clock.tick("update membership");
    select(SELECT_GROUPS, params![org, scim_id]);
    clock.tick("select groups");
    select(SELECT_ROLE_MAPPING, params![org, 1]);
    clock.tick("select role mapping");
    let mut last: i64 = 0;
    {
        let mut statement = c.prepare_cached(RESERVE_SEQUENCE).unwrap();
        let mut rows = statement.query(params![1, org]).unwrap();
        if let Some(row) = rows.next().unwrap() {
            last = row.get(0).unwrap();
        }
    }
    clock.tick("reserve sequence");
    let event_id = ids::new_id(ids::EVENT);
    let payload = event_payload(&event_id, org, uid, user_name);
    c.prepare_cached(INSERT_EVENT)
        .unwrap()
        .execute(params![
            event_id,
            org,
            last,
            "membership.deactivated",
            uid,
            payload,
            now,
            false
        ])
        .unwrap();
    clock.tick("insert events");
    c.prepare_cached(INSERT_AUDIT)
        .unwrap()
        .execute(params![
            ids::new_id(ids::AUDIT),
            org,
            "scim_token",
            "tok_01JBENCH",
            "membership.change",
            "membership",
            mid,
            r#"{"from":"ACTIVE","to":"INACTIVE","sessions_revoked":0,"scim_id":"mem_01JBENCH"}"#,
            "req_01JBENCH",
            "success",
            now,
            "127.0.0.1"
        ])
        .unwrap();
    clock.tick("insert audit");
    c.execute_batch(bounds.1).unwrap();
    clock.tick("COMMIT");
}

/// Time spent in each statement of a transaction, summed over the run, in order.
#[derive(Default)]
struct Clock {
    spent: Vec<(&'static str, f64)>,
    mark: Option<Instant>,
    k: usize,
}

impl Clock {
    fn start(&mut self) {
        self.mark = Some(Instant::now());
        self.k = 0;
    }

    /// The statement `name` just ended.
    fn tick(&mut self, name: &'static str) {
        let elapsed = self.mark.map_or(0.0, |m| m.elapsed().as_secs_f64());
        if self.spent.len() <= self.k {
            self.spent.push((name, 0.0));
        }
        self.spent[self.k].1 += elapsed;
        self.k += 1;
        self.mark = Some(Instant::now());
    }

    fn print(&self, transactions: usize) {
        let n = transactions.max(1) as f64;
        for (name, s) in &self.spent {
            println!("    {name:<20} {:>7.1} µs per transaction", s * 1e6 / n);
        }
    }
}

type Conn = sqlx::SqliteConnection;

/// What every deprovisioning starts with: the write lock, the membership, the guard's
/// window, the user's sessions in the organization.
#[allow(clippy::too_many_arguments)]
async fn guarded_start(
    c: &mut Conn,
    clock: &mut Clock,
    org: &str,
    scim_id: &str,
    uid: &str,
    reason: &str,
    now: chrono::DateTime<chrono::Utc>,
    open: &'static str,
) {
    sqlx::query(open).execute(&mut *c).await.unwrap();
    clock.tick("BEGIN IMMEDIATE");
    sqlx::query(SELECT_MEMBERSHIP)
        .bind(org)
        .bind(scim_id)
        .bind(1i64)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    clock.tick("select membership");
    let since = now - chrono::Duration::days(7);
    sqlx::query(COUNT_GUARD)
        .bind(1i64)
        .bind(now)
        .bind(org)
        .bind("off")
        .bind(since)
        .fetch_optional(&mut *c)
        .await
        .unwrap();
    clock.tick("count in guard");
    sqlx::query(REVOKE_SESSIONS)
        .bind(now)
        .bind(reason)
        .bind(org)
        .bind(uid)
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("revoke sessions");
}

/// What every change ends with: the events' sequence numbers, the events, the audit row,
/// the commit.
#[allow(clippy::too_many_arguments)]
async fn finish(
    c: &mut Conn,
    clock: &mut Clock,
    org: &str,
    uid: &str,
    mid: &str,
    events: &[(&str, String, String)],
    now: chrono::DateTime<chrono::Utc>,
    close: &'static str,
) {
    let last: i64 = sqlx::query(RESERVE_SEQUENCE)
        .bind(events.len() as i64)
        .bind(org)
        .fetch_one(&mut *c)
        .await
        .unwrap()
        .get(0);
    clock.tick("reserve sequence");
    let first = last - events.len() as i64 + 1;
    for (n, (kind, id, payload)) in events.iter().enumerate() {
        sqlx::query(INSERT_EVENT)
            .bind(id)
            .bind(org)
            .bind(first + n as i64)
            .bind(*kind)
            .bind(uid)
            .bind(payload)
            .bind(now)
            .bind(false)
            .execute(&mut *c)
            .await
            .unwrap();
    }
    clock.tick("insert events");
    sqlx::query(INSERT_AUDIT)
        .bind(ids::new_id(ids::AUDIT))
        .bind(org)
        .bind("scim_token")
        .bind("tok_01JBENCH")
        .bind("membership.change")
        .bind("membership")
        .bind(mid)
        .bind(r#"{"from":"ACTIVE","to":"INACTIVE","sessions_revoked":0,"scim_id":"mem_01JBENCH"}"#)
        .bind("req_01JBENCH")
        .bind("success")
        .bind(now)
        .bind("127.0.0.1")
        .execute(&mut *c)
        .await
        .unwrap();
    clock.tick("insert audit");
    sqlx::query(close).execute(&mut *c).await.unwrap();
    clock.tick("COMMIT");
}

fn report(name: &str, latencies: &mut [f64], elapsed: Duration) {
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} {:>6.0} tx/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} transactions)",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies.len()
    );
}
