//! The deprovisioning guard: a storm of SCIM deprovisionings past an organization's
//! threshold is held for an operator (nothing applied, 429 with `Retry-After`), reviewed,
//! approved in arrival order or rejected; other organizations and other SCIM traffic go
//! on; operators' own deletions are not guarded.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{
    Org, TestApp, assert_scim_error, expect_json, fixture, fixture_with, user_body,
};

/// An organization created with these guard settings (and a SCIM token).
async fn org_with_guard(app: &TestApp, name: &str, guard: Value) -> Org {
    app.create_org_with(name, json!({"deprovision_guard": guard}))
        .await
}

async fn members(app: &TestApp, org: &Org, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_user(org, &user_body(&format!("user{i:03}@example.com")))
                .await,
        );
    }
    ids
}

async fn active(app: &TestApp, org: &Org, id: &str) -> bool {
    app.get_json(org, &format!("/Users/{id}")).await["active"]
        .as_bool()
        .unwrap()
}

async fn held(app: &TestApp, org: &Org) -> Value {
    let res = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/held-actions", org.id),
            None,
        )
        .await;
    expect_json(res, 200).await
}

fn held_ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

async fn resolve(app: &TestApp, org: &Org, verb: &str, body: Option<&Value>) -> Value {
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/deprovision-guard/{verb}", org.id),
            body,
        )
        .await;
    expect_json(res, 200).await
}

/// A held request: 429, `Retry-After`, the SCIM error saying it is held for review.
async fn assert_held(res: Response) {
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let body = assert_scim_error(res, 429, None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("held for review"),
        "{body}"
    );
}

fn count(types: &[String], t: &str) -> usize {
    types.iter().filter(|x| x.as_str() == t).count()
}

db_test!(an_okta_storm_is_held_past_the_threshold_then_approved_in_order);
async fn an_okta_storm_is_held_past_the_threshold_then_approved_in_order(app: TestApp) {
    // The defaults: more than 20 and more than 10 % of the active members within 1h.
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let ids = members(&app, &org, 100).await;
    let others = members(&app, &other, 10).await;
    let held_user = app.account_of(&org, &ids[25]).await;
    let session = app.create_session(&org, &held_user).await;

    for (i, id) in ids.iter().enumerate().take(30) {
        let res = app.deactivate(&org, id).await;
        if i < 20 {
            assert_eq!(res.status().as_u16(), 200, "deactivation {i} applies");
        } else {
            assert_held(res).await;
        }
    }
    // Held: the memberships as they were, the session alive.
    for id in &ids[20..30] {
        assert!(active(&app, &org, id).await, "held {id} stays ACTIVE");
    }
    assert!(!active(&app, &org, &ids[19]).await);
    assert!(app.session_active(&session).await);
    let list = held(&app, &org).await;
    assert_eq!(list["deprovision_guard"]["mode"], "hold");
    assert!(list["deprovision_guard"]["tripped_at"].is_string());
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for (row, id) in rows.iter().zip(&ids[20..30]) {
        assert_eq!(row["scim_id"], json!(id), "arrival order");
        assert_eq!(row["action"], "deactivate");
        assert_eq!(row["source"], "scim.patch");
        assert_eq!(row["membership_status"], "ACTIVE");
        assert!(row["request_id"].as_str().unwrap().starts_with("req_"));
    }

    // The IdP retries: still held, no new rows. Entra's DELETE is held too.
    assert_held(app.deactivate(&org, &ids[20]).await).await;
    assert_held(app.deactivate(&org, &ids[29]).await).await;
    assert_held(app.delete(&org, &format!("/Users/{}", ids[30])).await).await;
    assert_eq!(held_ids(&held(&app, &org).await).len(), 11);
    let res = app.get(&org, &format!("/Users/{}", ids[30])).await;
    assert_eq!(res.status().as_u16(), 200, "the held DELETE is not applied");

    // Everything else goes on: reads, creates, updates.
    app.create_user(&org, &user_body("newcomer@example.com"))
        .await;
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]});
    let res = app
        .patch(&org, &format!("/Users/{}", ids[40]), &rename)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    // Another organization is not slowed or held.
    for id in &others[..5] {
        assert_eq!(app.deactivate(&other, id).await.status().as_u16(), 200);
    }
    assert!(held_ids(&held(&app, &other).await).is_empty());

    let types = app.event_types(&org).await;
    assert_eq!(count(&types, "deprovision_guard.tripped"), 1);
    assert_eq!(count(&types, "membership.deactivated"), 20);
    let tripped = app
        .event_payloads(&org)
        .await
        .into_iter()
        .find(|e| e["type"] == "deprovision_guard.tripped")
        .unwrap();
    assert_eq!(tripped["data"]["count"], 21);
    assert_eq!(tripped["data"]["active_at_start"], 100);
    assert_eq!(
        tripped["data"]["threshold"],
        json!({"max_count": 20, "max_percent": 10, "window": "1h"})
    );
    if let Some(metrics) = &app.metrics_address {
        let text = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("offboard_deprovision_held_actions 11"),
            "{text}"
        );
        assert!(
            text.contains("offboard_deprovision_guards_tripped 1"),
            "{text}"
        );
    }

    // Approved: applied in arrival order through the usual paths, as the operator's.
    let before = app.event_payloads(&org).await.len();
    let r = resolve(&app, &org, "approve", None).await;
    assert_eq!(
        r,
        json!({"approved": 11, "rejected": 0, "skipped": 0, "remaining": 0})
    );
    for id in &ids[20..30] {
        assert!(!active(&app, &org, id).await);
    }
    let res = app.get(&org, &format!("/Users/{}", ids[30])).await;
    assert_eq!(res.status().as_u16(), 404, "the held DELETE applied");
    assert!(!app.session_active(&session).await, "sessions revoked");
    let after: Vec<Value> = app.event_payloads(&org).await.split_off(before);
    let deactivated: Vec<&Value> = after
        .iter()
        .filter(|e| e["type"] == "membership.deactivated")
        .map(|e| &e["data"]["membership"]["scim_id"])
        .collect();
    let expected: Vec<Value> = ids[20..30].iter().map(|i| json!(i)).collect();
    assert_eq!(
        deactivated,
        expected.iter().collect::<Vec<_>>(),
        "in arrival order"
    );
    assert!(after.iter().any(|e| e["type"] == "membership.deleted"));
    let resolved = after
        .iter()
        .find(|e| e["type"] == "deprovision_guard.resolved")
        .unwrap();
    assert_eq!(resolved["data"]["approved"], 11);
    assert_eq!(resolved["data"]["remaining"], 0);
    let audit = app.audit_actions(&org).await;
    assert_eq!(count(&audit, "deprovision_guard.approve"), 11);
    // Each held action is audited once; the IdP's retries write nothing.
    assert_eq!(count(&audit, "deprovision_guard.hold"), 11);

    // Re-armed: the retry of an approved request is answered as done, and the next
    // deprovisioning applies (a new window).
    let org_view = expect_json(
        app.admin_send(Method::GET, &format!("/organizations/{}", org.id), None)
            .await,
        200,
    )
    .await;
    assert_eq!(org_view["deprovision_guard"]["tripped_at"], Value::Null);
    assert_eq!(app.deactivate(&org, &ids[20]).await.status().as_u16(), 200);
    assert_eq!(app.deactivate(&org, &ids[50]).await.status().as_u16(), 200);
    assert!(held_ids(&held(&app, &org).await).is_empty());
}

db_test!(rejected_holds_are_discarded_and_an_okta_put_or_reactivation_counts_right);
async fn rejected_holds_are_discarded_and_an_okta_put_or_reactivation_counts_right(app: TestApp) {
    let org = org_with_guard(&app, "Small", json!({"max_count": 2, "max_percent": 0})).await;
    let ids = members(&app, &org, 6).await;
    for id in &ids[..2] {
        assert_eq!(app.deactivate(&org, id).await.status().as_u16(), 200);
    }
    // Okta's integration-wizard apps send a whole PUT with `active: false`.
    let put = fixture("okta/replace_user_inactive.json");
    let mut put = put.clone();
    put["userName"] = json!("user002@example.com");
    assert_held(app.put(&org, &format!("/Users/{}", ids[2]), &put).await).await;
    assert_held(app.deactivate(&org, &ids[3]).await).await;
    assert_held(app.deactivate(&org, &ids[4]).await).await;
    let list = held(&app, &org).await;
    assert_eq!(list["data"][0]["source"], "scim.put");
    let all = held_ids(&list);
    assert_eq!(all.len(), 3);

    // The IdP changes its mind: reactivating withdraws the held deactivation.
    let reactivate = fixture("okta/reactivate_user.json");
    let res = app
        .patch(&org, &format!("/Users/{}", ids[4]), &reactivate)
        .await;
    assert!(res.status().is_success());
    assert_eq!(held_ids(&held(&app, &org).await).len(), 2);

    // Rejected by id: that one is gone, the other still held, the guard still tripped.
    let r = resolve(&app, &org, "reject", Some(&json!({"ids": [all[0]]}))).await;
    assert_eq!(
        r,
        json!({"approved": 0, "rejected": 1, "skipped": 0, "remaining": 1})
    );
    assert_held(app.deactivate(&org, &ids[5]).await).await;
    // The rest rejected: memberships untouched, the guard re-armed.
    let r = resolve(&app, &org, "reject", Some(&json!({}))).await;
    assert_eq!(r["rejected"], 2);
    assert_eq!(r["remaining"], 0);
    for id in &ids[2..] {
        assert!(active(&app, &org, id).await, "{id} kept");
    }
    let types = app.event_types(&org).await;
    assert_eq!(count(&types, "membership.deactivated"), 2);
    assert_eq!(count(&types, "deprovision_guard.resolved"), 2);
    // A new window: the next deprovisioning applies.
    assert_eq!(app.deactivate(&org, &ids[5]).await.status().as_u16(), 200);
    let audit = app.audit_actions(&org).await;
    assert_eq!(count(&audit, "deprovision_guard.reject"), 3);
    assert_eq!(count(&audit, "deprovision_guard.withdraw"), 1);
}

db_test!(dry_run_holds_nothing_and_reports_once_a_window);
async fn dry_run_holds_nothing_and_reports_once_a_window(app: TestApp) {
    let org = org_with_guard(
        &app,
        "Dry",
        json!({"mode": "dry_run", "max_count": 2, "max_percent": 0}),
    )
    .await;
    let ids = members(&app, &org, 6).await;
    for id in &ids[..5] {
        assert_eq!(app.deactivate(&org, id).await.status().as_u16(), 200);
    }
    assert_eq!(
        app.delete(&org, &format!("/Users/{}", ids[5]))
            .await
            .status()
            .as_u16(),
        204
    );
    assert!(held_ids(&held(&app, &org).await).is_empty());
    let payloads = app.event_payloads(&org).await;
    let reports: Vec<&Value> = payloads
        .iter()
        .filter(|e| e["type"] == "deprovision_guard.would_trip")
        .collect();
    assert_eq!(reports.len(), 1, "once a window");
    assert_eq!(reports[0]["data"]["count"], 3);
    assert_eq!(reports[0]["data"]["active_at_start"], 6);
    // Reported ahead of the deactivation that crossed the threshold, in the same unit.
    let at = payloads
        .iter()
        .position(|e| e["type"] == "deprovision_guard.would_trip")
        .unwrap();
    let deactivated = |e: &&Value| e["type"] == "membership.deactivated";
    assert_eq!(payloads[..at].iter().filter(deactivated).count(), 2);
    assert_eq!(payloads[at + 1]["type"], "membership.deactivated");
}

db_test!(a_window_that_ended_counts_again_from_one);
async fn a_window_that_ended_counts_again_from_one(app: TestApp) {
    use entity::deprovision_guards as guards;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let org = org_with_guard(
        &app,
        "Minute",
        json!({"max_count": 2, "max_percent": 0, "window": "1m"}),
    )
    .await;
    let ids = members(&app, &org, 6).await;
    for id in &ids[..2] {
        assert_eq!(app.deactivate(&org, id).await.status().as_u16(), 200);
    }
    // The window began two minutes ago: it ended, though a longer one would not have.
    let row = |app: &TestApp| {
        let db = app.db.clone();
        let org = org.org_id();
        async move {
            guards::Entity::find_by_id(org)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let before = row(&app).await;
    assert_eq!(before.window_count, 2);
    let started = before.window_started_at.unwrap() - chrono::Duration::minutes(2);
    guards::Entity::update_many()
        .col_expr(guards::Column::WindowStartedAt, Expr::value(started))
        .filter(guards::Column::OrganizationId.eq(org.org_id()))
        .exec(&app.db)
        .await
        .unwrap();
    for id in &ids[2..4] {
        assert_eq!(app.deactivate(&org, id).await.status().as_u16(), 200);
    }
    let after = row(&app).await;
    assert_eq!(after.window_count, 2, "a new window counted these two");
    assert!(after.window_started_at.unwrap() > before.window_started_at.unwrap());
    assert_eq!(after.active_at_start, 4, "the members active when it began");
    // Within the new window, the third is past the threshold.
    assert_held(app.deactivate(&org, &ids[4]).await).await;
    assert!(active(&app, &org, &ids[4]).await);
}

db_test!(concurrent_deprovisionings_at_the_threshold_cannot_slip_past_together);
async fn concurrent_deprovisionings_at_the_threshold_cannot_slip_past_together(app: TestApp) {
    let org = org_with_guard(&app, "Race", json!({"max_count": 5, "max_percent": 0})).await;
    let ids = members(&app, &org, 16).await;
    let mut set = tokio::task::JoinSet::new();
    let app = std::sync::Arc::new(app);
    let org = std::sync::Arc::new(org);
    for id in ids.clone() {
        let (app, org) = (app.clone(), org.clone());
        set.spawn(async move {
            // Half DELETE (Entra, JumpCloud), half PATCH (Okta), all at once.
            let res = if id.as_bytes()[id.len() - 1] % 2 == 0 {
                app.delete(&org, &format!("/Users/{id}")).await
            } else {
                app.deactivate(&org, &id).await
            };
            res.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = set.join_next().await {
        statuses.push(s.unwrap());
    }
    // PATCH answers 200 with the user, DELETE 204.
    let applied = statuses.iter().filter(|s| **s == 200 || **s == 204).count();
    let held_n = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(applied, 5, "exactly max_count applied: {statuses:?}");
    assert_eq!(held_n, 11, "{statuses:?}");
    assert_eq!(held_ids(&held(&app, &org).await).len(), 11);
}

db_test!(operators_are_not_guarded_and_settings_are_validated);
async fn operators_are_not_guarded_and_settings_are_validated(app: TestApp) {
    let org = org_with_guard(&app, "Ops", json!({"max_count": 1, "max_percent": 0})).await;
    let ids = members(&app, &org, 4).await;
    assert_eq!(app.deactivate(&org, &ids[0]).await.status().as_u16(), 200);
    assert_held(app.deactivate(&org, &ids[1]).await).await;
    // The operator's removal is a decision, not an IdP's storm.
    let user = app.account_of(&org, &ids[2]).await;
    app.admin_delete_confirmed(
        &format!("/organizations/{}/users/{user}", org.id),
        json!({}),
    )
    .await;
    let user = app.account_of(&org, &ids[3]).await;
    app.admin_delete_confirmed(&format!("/users/{user}"), json!({}))
        .await;
    assert_eq!(held_ids(&held(&app, &org).await).len(), 1);

    // Invalid settings: 422, nothing changed.
    let path = format!("/organizations/{}", org.id);
    for bad in [
        json!({"mode": "sometimes"}),
        json!({"max_percent": 101}),
        json!({"max_count": -1}),
        json!({"window": "10s"}),
        json!({"window": "30d"}),
        json!({"threshold": 5}),
        json!("off"),
    ] {
        let res = app
            .admin_send(
                Method::PATCH,
                &path,
                Some(&json!({"deprovision_guard": bad, "name": "Changed"})),
            )
            .await;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
        let res = app
            .admin_send(
                Method::POST,
                "/organizations",
                Some(&json!({"name": "X", "deprovision_guard": bad})),
            )
            .await;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
    }
    let view = expect_json(app.admin_send(Method::GET, &path, None).await, 200).await;
    assert_eq!(view["name"], "Ops");
    assert_eq!(
        view["deprovision_guard"]["max_count"], 1,
        "unchanged: {view}"
    );
    // A partial change keeps the rest; `off` lets everything through (held stays held).
    let res = app
        .admin_send(
            Method::PATCH,
            &path,
            Some(&json!({"deprovision_guard": {"mode": "off", "window": "2h"}})),
        )
        .await;
    let view = expect_json(res, 200).await;
    assert_eq!(
        view["deprovision_guard"],
        json!({"mode": "off", "max_count": 1, "max_percent": 0, "window": "2h",
               "tripped_at": view["deprovision_guard"]["tripped_at"]})
    );
    let mut more = Vec::new();
    for name in ["more1@example.com", "more2@example.com"] {
        more.push(app.create_user(&org, &user_body(name)).await);
    }
    for id in &more {
        assert_eq!(app.deactivate(&org, id).await.status().as_u16(), 200);
    }
    assert_eq!(held_ids(&held(&app, &org).await).len(), 1);

    // Bad approval bodies are refused; nothing is resolved.
    for bad in [
        json!({"ids": []}),
        json!({"ids": "all"}),
        json!({"ids": [1]}),
        json!({"all": true}),
    ] {
        let res = app
            .admin_send(
                Method::POST,
                &format!("/organizations/{}/deprovision-guard/approve", org.id),
                Some(&bad),
            )
            .await;
        assert_eq!(res.status().as_u16(), 422, "{bad}");
    }
    assert_eq!(held_ids(&held(&app, &org).await).len(), 1);
}

db_test!(another_organization_cannot_see_or_resolve_what_is_held);
async fn another_organization_cannot_see_or_resolve_what_is_held(app: TestApp) {
    let a = org_with_guard(&app, "A", json!({"max_count": 0, "max_percent": 0})).await;
    let b = org_with_guard(&app, "B", json!({"max_count": 0, "max_percent": 0})).await;
    let id = members(&app, &a, 1).await.remove(0);
    assert_held(app.deactivate(&a, &id).await).await;
    let a_held = held_ids(&held(&app, &a).await);
    assert_eq!(a_held.len(), 1);
    // B's token cannot deprovision A's user at all, and B's guard knows nothing of A's.
    let res = app.deactivate(&b, &id).await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(held_ids(&held(&app, &b).await).is_empty());
    let r = resolve(&app, &b, "approve", Some(&json!({"ids": a_held}))).await;
    assert_eq!(r["approved"], 0);
    assert!(active(&app, &a, &id).await);
    assert_eq!(held_ids(&held(&app, &a).await).len(), 1);
    // Unknown organization: 404.
    let res = app
        .admin_send(
            Method::POST,
            "/organizations/org_01JZZZZZZZZZZZZZZZZZZZZZZZ/deprovision-guard/approve",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
    // Entra's dialect is held as Okta's is.
    let id2 = app.create_user(&a, &user_body("entra@example.com")).await;
    let disable = fixture_with("entra/disable_user.json", &[("USER_ID", &id2)]);
    assert_held(app.patch(&a, &format!("/Users/{id2}"), &disable).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_approves_and_rejects() {
    let (url, dir) = crate::helpers::database_url(crate::helpers::Backend::Sqlite).await;
    let app = crate::helpers::spawn_app_at(url.clone(), dir, &[]).await;
    let org = org_with_guard(&app, "Cli", json!({"max_count": 1, "max_percent": 0})).await;
    let ids = members(&app, &org, 4).await;
    assert_eq!(app.deactivate(&org, &ids[0]).await.status().as_u16(), 200);
    for id in &ids[1..] {
        assert_held(app.deactivate(&org, id).await).await;
    }
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("OFFBOARD_ADMIN_JWT_SECRET", crate::helpers::ADMIN_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = cli(&["guard", "list", &org.id]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[0].contains("deactivate") && lines[0].contains("user001@example.com"));
    let first = lines[0].split('\t').next().unwrap();
    let out: Value =
        serde_json::from_str(&cli(&["guard", "reject", &org.id, "--id", first])).unwrap();
    assert_eq!(out["rejected"], 1);
    let out: Value = serde_json::from_str(&cli(&["guard", "approve", &org.id])).unwrap();
    assert_eq!(
        out,
        json!({"approved": 2, "rejected": 0, "skipped": 0, "remaining": 0})
    );
    assert!(active(&app, &org, &ids[1]).await);
    assert!(!active(&app, &org, &ids[2]).await);
    assert!(!active(&app, &org, &ids[3]).await);
    // Created with the guard's settings from the command line.
    let created: Value = serde_json::from_str(&cli(&[
        "org",
        "create",
        "Flags",
        "--guard-max-count",
        "50",
        "--guard-max-percent",
        "5",
        "--guard-window",
        "30m",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        created["deprovision_guard"],
        json!({"mode": "hold", "max_count": 50, "max_percent": 5, "window": "30m", "tripped_at": null})
    );
}
