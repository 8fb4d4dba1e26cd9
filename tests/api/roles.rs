//! Roles from groups: an organization maps its groups to the application's roles, and
//! each change that can move a member's roles (a group push, a removal from a group, a
//! deactivation, a mapping change, the IdP's own `roles`) recomputes them in its
//! transaction, with `membership.roles_changed`. Written from the IdPs' literal calls.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture, fixture_with};

async fn set_mapping(app: &TestApp, org: &Org, mapping: Value) -> Value {
    let res = app
        .admin_send(
            Method::PUT,
            &format!("/organizations/{}/role-mappings", org.id),
            Some(&mapping),
        )
        .await;
    expect_json(res, 200).await
}

/// The member's roles, as the admin API shows them for this organization.
async fn roles_of(app: &TestApp, org: &Org, scim_id: &str) -> Vec<String> {
    let account = app.account_of(org, scim_id).await;
    let view = app.admin_user(&account).await;
    let m = crate::helpers::membership_in(&view, &org.id);
    serde_json::from_value(m["granted_roles"].clone()).expect("granted_roles")
}

/// The organization's `membership.roles_changed` events' data, in order.
async fn role_changes(app: &TestApp, org: &Org) -> Vec<Value> {
    app.event_payloads(org)
        .await
        .into_iter()
        .filter(|p| p["type"] == "membership.roles_changed")
        .map(|p| p["data"].clone())
        .collect()
}

/// Session introspection.
async fn session(app: &TestApp, sid: &str) -> Value {
    let res = app
        .admin_send(Method::GET, &format!("/sessions/{sid}"), None)
        .await;
    expect_json(res, 200).await
}

async fn create(app: &TestApp, org: &Org, body: &Value) -> String {
    let v = expect_json(app.post(org, "/Users", body).await, 201).await;
    v["id"].as_str().unwrap().to_string()
}

async fn create_group(app: &TestApp, org: &Org, body: &Value) -> String {
    let v = expect_json(app.post(org, "/Groups", body).await, 201).await;
    v["id"].as_str().unwrap().to_string()
}

async fn patch_ok(app: &TestApp, org: &Org, path: &str, body: &Value) {
    let res = app.patch(org, path, body).await;
    let s = res.status().as_u16();
    assert!(
        s == 200 || s == 204,
        "PATCH {path}: {s} {}",
        res.text().await.unwrap_or_default()
    );
}

db_test!(okta_pushing_a_group_grants_its_role);
async fn okta_pushing_a_group_grants_its_role(app: TestApp) {
    let org = app.create_org("Acme").await;
    let v = set_mapping(
        &app,
        &org,
        json!({"default_role": "member",
               "rules": [{"group": {"display_name": "test scimv2"}, "role": "admin"}]}),
    )
    .await;
    assert_eq!(v["members_changed"], 0);
    let id = create(&app, &org, &fixture("okta/create_user.json")).await;
    assert_eq!(
        roles_of(&app, &org, &id).await,
        ["member"],
        "the default role"
    );
    let gid = create_group(&app, &org, &fixture("okta/create_group.json")).await;
    assert_eq!(roles_of(&app, &org, &id).await, ["member"]);
    patch_ok(
        &app,
        &org,
        &format!("/Groups/{gid}"),
        &fixture_with(
            "okta/add_group_members.json",
            &[("USER_ID", &id), ("USER_NAME", "test.user@okta.local")],
        ),
    )
    .await;
    assert_eq!(roles_of(&app, &org, &id).await, ["admin"]);
    let changes = role_changes(&app, &org).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["roles"], json!(["member"]));
    assert_eq!(changes[0]["previous_roles"], json!([]));
    assert_eq!(changes[1]["roles"], json!(["admin"]));
    assert_eq!(changes[1]["previous_roles"], json!(["member"]));
    assert_eq!(changes[1]["cause"], "group.member_added");
    assert_eq!(changes[1]["group"]["id"], gid.as_str());
    assert_eq!(changes[1]["membership"]["scim_id"], id.as_str());
    // The same push again moves nothing.
    patch_ok(
        &app,
        &org,
        &format!("/Groups/{gid}"),
        &fixture_with(
            "okta/add_group_members.json",
            &[("USER_ID", &id), ("USER_NAME", "test.user@okta.local")],
        ),
    )
    .await;
    assert_eq!(role_changes(&app, &org).await.len(), 2);
    // Session introspection says what the person may do now.
    let account = app.account_of(&org, &id).await;
    let sid = app.create_session(&org, &account).await;
    assert_eq!(session(&app, &sid).await["roles"], json!(["admin"]));

    // Deactivated: no roles (access to the organization ended); reactivated: back.
    patch_ok(
        &app,
        &org,
        &format!("/Users/{id}"),
        &fixture("okta/deactivate_user.json"),
    )
    .await;
    assert!(roles_of(&app, &org, &id).await.is_empty());
    let s = session(&app, &sid).await;
    assert_eq!(
        (s["active"].clone(), s["roles"].clone()),
        (json!(false), json!([]))
    );
    patch_ok(
        &app,
        &org,
        &format!("/Users/{id}"),
        &fixture("okta/reactivate_user.json"),
    )
    .await;
    assert_eq!(roles_of(&app, &org, &id).await, ["admin"]);
    let changes = role_changes(&app, &org).await;
    assert_eq!(changes[2]["roles"], json!([]));
    assert_eq!(changes[2]["cause"], "membership");
    assert_eq!(changes[3]["roles"], json!(["admin"]));
}

db_test!(entra_removing_the_last_granting_group_takes_the_role);
async fn entra_removing_the_last_granting_group_takes_the_role(app: TestApp) {
    let org = app.create_org("Contoso").await;
    let id = create(&app, &org, &fixture("entra/create_user.json")).await;
    let first = create_group(&app, &org, &fixture("entra/create_group.json")).await;
    let second = create_group(
        &app,
        &org,
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"}),
    )
    .await;
    for g in [&first, &second] {
        patch_ok(
            &app,
            &org,
            &format!("/Groups/{g}"),
            &fixture_with("entra/add_group_member.json", &[("USER_ID", &id)]),
        )
        .await;
    }
    assert!(roles_of(&app, &org, &id).await.is_empty(), "no mapping yet");
    // A mapping made after the fact re-roles the existing member.
    let v = set_mapping(
        &app,
        &org,
        json!({"rules": [
            {"group": {"external_id": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"}, "role": "admin"},
            {"group": {"id": second}, "role": "admin"}
        ]}),
    )
    .await;
    assert_eq!(v["members_changed"], 1);
    assert_eq!(roles_of(&app, &org, &id).await, ["admin"]);
    assert_eq!(role_changes(&app, &org).await[0]["cause"], "role_mapping");
    let remove = fixture_with("entra/remove_group_member.json", &[("USER_ID", &id)]);
    patch_ok(&app, &org, &format!("/Groups/{first}"), &remove).await;
    assert_eq!(
        roles_of(&app, &org, &id).await,
        ["admin"],
        "another group grants it"
    );
    assert_eq!(role_changes(&app, &org).await.len(), 1);
    patch_ok(&app, &org, &format!("/Groups/{second}"), &remove).await;
    assert!(roles_of(&app, &org, &id).await.is_empty());
    let changes = role_changes(&app, &org).await;
    assert_eq!(changes[1]["previous_roles"], json!(["admin"]));
    assert_eq!(changes[1]["cause"], "group.member_removed");
    // Losing every role is not a deprovisioning: the membership stays ACTIVE.
    let user = app.get_json(&org, &format!("/Users/{id}")).await;
    assert_eq!(user["active"], json!(true));

    // A rename that stops a display-name rule matching takes the role too.
    let v = set_mapping(
        &app,
        &org,
        json!({"rules": [{"group": {"display_name": "Admins"}, "role": "admin"}]}),
    )
    .await;
    assert_eq!(
        v["rules"][0]["group"],
        json!({"display_name": "Admins"}),
        "answered as the operator spelled it"
    );
    patch_ok(
        &app,
        &org,
        &format!("/Groups/{second}"),
        &fixture_with("entra/add_group_member.json", &[("USER_ID", &id)]),
    )
    .await;
    assert_eq!(roles_of(&app, &org, &id).await, ["admin"]);
    patch_ok(
        &app,
        &org,
        &format!("/Groups/{second}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "displayName", "value": "Former admins"}]}),
    )
    .await;
    assert!(roles_of(&app, &org, &id).await.is_empty());
    assert_eq!(
        role_changes(&app, &org).await.last().unwrap()["cause"],
        "group.updated"
    );
    // A removed member's roles end with a last event.
    patch_ok(
        &app,
        &org,
        &format!("/Groups/{second}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "displayName", "value": "Admins"}]}),
    )
    .await;
    assert_eq!(roles_of(&app, &org, &id).await, ["admin"]);
    let res = app.delete(&org, &format!("/Users/{id}")).await;
    assert_eq!(res.status().as_u16(), 204);
    let last = role_changes(&app, &org).await.last().unwrap().clone();
    assert_eq!(last["cause"], "membership.deleted");
    assert_eq!(last["roles"], json!([]));
}

db_test!(entra_app_roles_are_roles_too);
async fn entra_app_roles_are_roles_too(app: TestApp) {
    let org = app.create_org("Contoso").await;
    set_mapping(&app, &org, json!({"default_role": "viewer"})).await;
    let id = create(&app, &org, &fixture("entra/create_user_with_app_role.json")).await;
    assert_eq!(
        roles_of(&app, &org, &id).await,
        ["Admin"],
        "the IdP's role, and no default beside it"
    );
    patch_ok(
        &app,
        &org,
        &format!("/Users/{id}"),
        &fixture("entra/assign_app_role.json"),
    )
    .await;
    let roles = roles_of(&app, &org, &id).await;
    assert!(roles.contains(&"Reader".to_string()), "{roles:?}");
    let user = app.get_json(&org, &format!("/Users/{id}")).await;
    assert!(
        user["roles"].to_string().contains("Reader"),
        "stored as sent: {user}"
    );
}

db_test!(a_mapping_is_its_organizations_own_and_bad_ones_change_nothing);
async fn a_mapping_is_its_organizations_own_and_bad_ones_change_nothing(app: TestApp) {
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let b_group = create_group(&app, &b, &fixture("okta/create_group.json")).await;
    let a_user = create(&app, &a, &fixture("okta/create_user.json")).await;
    let b_user = create(&app, &b, &fixture("okta/create_user.json")).await;
    set_mapping(&app, &a, json!({"default_role": "member"})).await;
    assert_eq!(roles_of(&app, &a, &a_user).await, ["member"]);
    assert!(
        roles_of(&app, &b, &b_user).await.is_empty(),
        "B has no mapping"
    );

    let path = format!("/organizations/{}/role-mappings", a.id);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"group": {"external_id": format!("g{i}")}, "role": "r"}))
        .collect();
    for (body, why) in [
        (
            json!({"rules": [{"group": {"id": b_group}, "role": "admin"}]}),
            "another organization's group",
        ),
        (
            json!({"rules": [{"group": {"id": "grp_01JNOSUCHGROUP00000000000"}, "role": "admin"}]}),
            "no such group",
        ),
        (
            json!({"rules": [
            {"group": {"display_name": "Eng"}, "role": "a"},
            {"group": {"display_name": "ENG"}, "role": "b"}]}),
            "a group named twice",
        ),
        (json!({"rules": many}), "over 1,000 rules"),
        (
            json!({"rules": [{"group": {"display_name": "Eng"}, "role": ""}]}),
            "an empty role",
        ),
        (
            json!({"rules": [{"group": {"name": "Eng"}, "role": "a"}]}),
            "no way to name a group",
        ),
        (
            json!({"default_role": null, "colour": "red"}),
            "an unknown field",
        ),
    ] {
        let res = app.admin_send(Method::PUT, &path, Some(&body)).await;
        assert_eq!(res.status().as_u16(), 422, "{why}");
    }
    let now = expect_json(app.admin_send(Method::GET, &path, None).await, 200).await;
    assert_eq!(now["default_role"], "member", "nothing changed");
    assert_eq!(now["rules"], json!([]));
    assert_eq!(roles_of(&app, &a, &a_user).await, ["member"]);
    // Another organization's id in the path: unknown.
    let res = app
        .admin_send(
            Method::GET,
            "/organizations/org_01JNOSUCHORG000000000000000/role-mappings",
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(role_changes(&app, &b).await.is_empty());
}

async fn put_mapping(app: &TestApp, org: &Org, query: &str, mapping: Value) -> reqwest::Response {
    app.admin_send(
        Method::PUT,
        &format!("/organizations/{}/role-mappings{query}", org.id),
        Some(&mapping),
    )
    .await
}

/// The account's granted roles in the organization, as the admin API shows them.
async fn granted(app: &TestApp, org: &Org, account: &str) -> Value {
    let view = app.admin_user(account).await;
    crate::helpers::membership_in(&view, &org.id)["granted_roles"].clone()
}

db_test!(
    a_mapping_change_over_a_large_organization_is_a_job_with_progress,
    [("OFFBOARD_JOB_WORKER", "false")]
);
async fn a_mapping_change_over_a_large_organization_is_a_job_with_progress(app: TestApp) {
    use offboard::service::jobs::Runner;
    use offboard::service::roles::SYNC_MAX;
    use std::time::Duration;
    let org = app.create_org("Big").await;
    let n = SYNC_MAX as usize + 1;
    let accounts = crate::deletion::seed_members(&app, &org, n).await;
    let bad = put_mapping(
        &app,
        &org,
        "?async=maybe",
        json!({"default_role": "member"}),
    )
    .await;
    assert_eq!(bad.status().as_u16(), 422);
    // Over SYNC_MAX members: the mapping is stored at once, a job re-roles them.
    let res = put_mapping(&app, &org, "", json!({"default_role": "member"})).await;
    let first = expect_json(res, 202).await;
    assert_eq!(first["default_role"], "member");
    assert_eq!(first["job"]["kind"], "roles.recompute");
    assert_eq!(first["job"]["total"], json!(n));
    assert!(first.get("members_changed").is_none(), "{first}");
    let first_id = first["job"]["id"].as_str().unwrap().to_string();
    let stored = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/organizations/{}/role-mappings", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(stored["default_role"], "member");
    assert_eq!(
        granted(&app, &org, &accounts[0]).await,
        json!([]),
        "not yet"
    );

    // Changed again before the job ran: the first job gives way to the second.
    let res = put_mapping(&app, &org, "", json!({"default_role": "viewer"})).await;
    let second = expect_json(res, 202).await;
    let second_id = second["job"]["id"].as_str().unwrap().to_string();
    let runner = Runner::new(app.db.clone(), Duration::from_secs(30), Duration::ZERO);
    let gave_way = runner
        .run_steps(&first_id, 1)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(gave_way.status, entity::jobs::JobStatus::Finished);
    assert_eq!(gave_way.done, 0);
    assert_eq!(gave_way.result["superseded_by"], json!(second_id));

    // A page per step, its progress readable between steps.
    runner
        .run_steps(&second_id, 1)
        .await
        .unwrap()
        .expect("claimed");
    let halfway = expect_json(
        app.admin_send(Method::GET, &format!("/jobs/{second_id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(halfway["status"], "queued");
    assert_eq!(halfway["done"], json!(500));
    assert_eq!(granted(&app, &org, &accounts[0]).await, json!(["viewer"]));
    let end = runner
        .run_steps(&second_id, 10)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(end.status, entity::jobs::JobStatus::Finished);
    assert_eq!(end.done, n as i64);
    assert_eq!(end.result["members_changed"], json!(n));
    for account in [&accounts[0], &accounts[n / 2], &accounts[n - 1]] {
        assert_eq!(granted(&app, &org, account).await, json!(["viewer"]));
    }
    let changes = role_changes(&app, &org).await;
    assert_eq!(
        changes.len(),
        n,
        "one event per member, none for the superseded job"
    );
    assert!(
        changes
            .iter()
            .all(|c| c["cause"] == "role_mapping" && c["roles"] == json!(["viewer"]))
    );

    // A small organization's change may ask for a job too.
    let small = app.create_org("Small").await;
    let id = create(&app, &small, &fixture("okta/create_user.json")).await;
    let res = put_mapping(
        &app,
        &small,
        "?async=true",
        json!({"default_role": "member"}),
    )
    .await;
    let queued = expect_json(res, 202).await;
    let job_id = queued["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(roles_of(&app, &small, &id).await, Vec::<String>::new());
    runner
        .run_steps(&job_id, 10)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(roles_of(&app, &small, &id).await, ["member"]);
}

db_test!(a_mapping_change_as_a_job_runs_in_serve);
async fn a_mapping_change_as_a_job_runs_in_serve(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = create(&app, &org, &fixture("okta/create_user.json")).await;
    // serve's worker takes the job as soon as it is queued.
    let res = put_mapping(&app, &org, "?async=true", json!({"default_role": "member"})).await;
    let job_id = expect_json(res, 202).await["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let job = expect_json(
            app.admin_send(Method::GET, &format!("/jobs/{job_id}"), None)
                .await,
            200,
        )
        .await;
        status = job["status"].clone();
        if status == "finished" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "finished");
    assert_eq!(roles_of(&app, &org, &id).await, ["member"]);
}

/// `offboard org roles set|show` on the service's SQLite file (the CLI's own process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_and_sets_the_mapping_in_the_request_or_as_a_job() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Backend::Sqlite,
        &[("OFFBOARD_JOB_WORKER", "false")],
    )
    .await;
    let org = app.create_org("Acme").await;
    let id = create(&app, &org, &fixture("okta/create_user.json")).await;
    let dir = app.dir.as_ref().expect("SQLite folder");
    let url = format!("sqlite://{}/offboard.db?mode=rwc", dir.path().display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args(args)
            .env("OFFBOARD_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run offboard")
    };
    let file = dir.path().join("mapping.json");
    std::fs::write(&file, r#"{"default_role": "member"}"#).unwrap();
    let out = run(&["org", "roles", "set", &org.id, file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "members re-roled: 1"
    );
    assert_eq!(roles_of(&app, &org, &id).await, ["member"]);

    // As a job: the CLI prints the job's id, runs it here and follows it to its end.
    std::fs::write(&file, r#"{"default_role": "viewer"}"#).unwrap();
    let out = run(&[
        "org",
        "roles",
        "set",
        &org.id,
        file.to_str().unwrap(),
        "--job",
    ]);
    assert!(out.status.success(), "{out:?}");
    let job_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(job_id.starts_with("job_"), "{job_id}");
    assert_eq!(roles_of(&app, &org, &id).await, ["viewer"]);
    let shown = run(&["org", "roles", "show", &org.id]);
    assert!(shown.status.success());
    let v: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(v["default_role"], "viewer");

    std::fs::write(
        &file,
        r#"{"rules": [{"group": {"id": "grp_01J9NOSUCHGROUP00000000000"}, "role": "admin"}]}"#,
    )
    .unwrap();
    let out = run(&["org", "roles", "set", &org.id, file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a group of this organization"),
        "{out:?}"
    );
}
