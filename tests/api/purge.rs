//! The grace period, restore, the purge and the retention policy. Tests run the purge
//! "in the future" instead of waiting for it.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, expect_json, fixture, membership_in, user_body};

db_test!(
    a_deleted_account_is_invisible_but_restorable_within_the_grace_period,
    [("OFFBOARD_DELETION_GRACE", "7d")]
);
async fn a_deleted_account_is_invisible_but_restorable_within_the_grace_period(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("ana@example.com")).await;
    let id_b = app.create_user(&b, &user_body("ana@example.com")).await;
    let id = app.account_of(&a, &id_a).await;
    let session = app.create_session(&b, &id).await;
    // A's IdP removed her earlier; that removal is not undone by a restore.
    assert_eq!(
        app.delete(&a, &format!("/Users/{id_a}"))
            .await
            .status()
            .as_u16(),
        204
    );

    app.admin_delete_confirmed(&format!("/users/{id}"), json!({}))
        .await;
    let view = app.admin_user(&id).await;
    assert_eq!(view["status"], json!("DELETED"));
    assert_eq!(
        view["email"],
        json!("ana@example.com"),
        "kept until the purge"
    );
    assert!(view["purge_after"].is_string());
    assert_eq!(
        app.get(&b, &format!("/Users/{id_b}"))
            .await
            .status()
            .as_u16(),
        404
    );
    let list = app
        .get_json(&b, "/Users?filter=userName%20eq%20%22ana@example.com%22")
        .await;
    assert_eq!(list["totalResults"], json!(0), "invisible to SCIM");
    assert!(!app.session_active(&session).await, "unusable at once");

    let res = app
        .admin_send(Method::POST, &format!("/users/{id}/restore"), None)
        .await;
    let view = expect_json(res, 200).await;
    assert_eq!(view["status"], json!("ACTIVE"));
    assert_eq!(view["purge_after"], Value::Null);
    let user = app.get_json(&b, &format!("/Users/{id_b}")).await;
    assert_eq!(user["active"], json!(false), "restored INACTIVE");
    assert_eq!(user["userName"], json!("ana@example.com"));
    assert_eq!(
        app.get(&a, &format!("/Users/{id_a}"))
            .await
            .status()
            .as_u16(),
        404
    );
    let restored = app.event_payloads(&b).await.pop().unwrap();
    assert_eq!(restored["type"], json!("membership.created"));
    assert_eq!(restored["data"]["restored"], json!(true));
    // The IdP reactivates as usual.
    let res = app
        .patch(
            &b,
            &format!("/Users/{id_b}"),
            &fixture("okta/reactivate_user.json"),
        )
        .await;
    assert_eq!(expect_json(res, 200).await["active"], json!(true));

    assert_eq!(restore_refused(&app, &id).await, "NOT_DELETED");

    // Deleted again, and purged once the grace period is over: no way back.
    app.admin_delete_confirmed(&format!("/users/{id}"), json!({}))
        .await;
    let early = app.purge_at(Utc::now() + Duration::days(6)).await;
    assert_eq!(early.accounts_erased, 0);
    assert_eq!(app.admin_user(&id).await["email"], json!("ana@example.com"));
    let report = app.purge_at(Utc::now() + Duration::days(8)).await;
    assert_eq!(report.accounts_erased, 1);
    let view = app.admin_user(&id).await;
    assert_eq!(view["email"], Value::Null);
    assert_eq!(view["display_name"], json!("Deleted User"));
    assert_eq!(view["memberships"].as_array().unwrap().len(), 2);
    assert!(
        view["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["user_name"].is_null())
    );
    assert_eq!(restore_refused(&app, &id).await, "NOT_RESTORABLE");
    let again = app.purge_at(Utc::now() + Duration::days(8)).await;
    assert_eq!(again, Default::default(), "the purge is idempotent");
}

db_test!(
    a_new_account_may_take_the_identity_during_the_grace_period,
    [("OFFBOARD_DELETION_GRACE", "7d")]
);
async fn a_new_account_may_take_the_identity_during_the_grace_period(app: TestApp) {
    let org = app.create_org("Acme").await;
    let scim_id = app.create_user(&org, &user_body("bo@example.com")).await;
    let id = app.account_of(&org, &scim_id).await;
    assert_eq!(
        app.delete(&org, &format!("/Users/{scim_id}"))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(app.admin_user(&id).await["status"], json!("DELETED"));
    let newer = app.create_user(&org, &user_body("bo@example.com")).await;
    assert_ne!(newer, scim_id);
    assert_ne!(
        app.account_of(&org, &newer).await,
        id,
        "a deleted account never comes back through SCIM"
    );
    assert_eq!(restore_refused(&app, &id).await, "IDENTITY_TAKEN");
    assert_eq!(
        app.admin_user(&id).await["status"],
        json!("DELETED"),
        "nothing changed"
    );
}

db_test!(without_a_grace_period_a_deleted_account_cannot_be_restored);
async fn without_a_grace_period_a_deleted_account_cannot_be_restored(app: TestApp) {
    let org = app.create_org("Acme").await;
    let scim_id = app.create_user(&org, &user_body("cy@example.com")).await;
    let id = app.account_of(&org, &scim_id).await;
    app.delete(&org, &format!("/Users/{scim_id}")).await;
    assert_eq!(restore_refused(&app, &id).await, "NOT_RESTORABLE");
    let res = app
        .admin_send(Method::POST, "/users/usr_missing/restore", None)
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

// The purge runs a month ahead here; events are kept longer so the test can read them.
db_test!(
    the_retention_policy_removes_memberships_inactive_for_too_long,
    [("OFFBOARD_EVENT_RETENTION", "3650d")]
);
async fn the_retention_policy_removes_memberships_inactive_for_too_long(app: TestApp) {
    let org = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let res = app
        .admin_send(
            Method::PATCH,
            &format!("/organizations/{}", org.id),
            Some(&json!({"deactivated_retention": "30d"})),
        )
        .await;
    expect_json(res, 200).await;
    app.verify_domain(&org, "example.com").await;
    app.verify_domain(&other, "example.com").await;
    let gone = app.create_user(&org, &user_body("gone@example.com")).await;
    let active = app
        .create_user(&org, &user_body("active@example.com"))
        .await;
    let shared = app
        .create_user(&org, &user_body("shared@example.com"))
        .await;
    let shared_other = app
        .create_user(&other, &user_body("shared@example.com"))
        .await;
    let gone_user = app.account_of(&org, &gone).await;
    let shared_user = app.account_of(&org, &shared).await;
    assert_eq!(app.account_of(&other, &shared_other).await, shared_user);
    let deactivate = fixture("okta/deactivate_user.json");
    for id in [&gone, &shared] {
        let res = app.patch(&org, &format!("/Users/{id}"), &deactivate).await;
        assert_eq!(res.status().as_u16(), 200);
    }
    // The other organization has no policy: its inactive members stay.
    app.patch(&other, &format!("/Users/{shared_other}"), &deactivate)
        .await;

    let report = app.purge_at(Utc::now() + Duration::days(29)).await;
    assert_eq!(report.memberships_expired, 0, "not yet");
    let report = app.purge_at(Utc::now() + Duration::days(31)).await;
    assert_eq!(report.memberships_expired, 2);

    assert_eq!(
        app.get(&org, &format!("/Users/{gone}"))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(app.admin_user(&gone_user).await["status"], json!("DELETED"));
    assert_eq!(
        app.get(&org, &format!("/Users/{shared}"))
            .await
            .status()
            .as_u16(),
        404
    );
    let kept = app
        .get_json(&other, &format!("/Users/{shared_other}"))
        .await;
    assert_eq!(kept["active"], json!(false));
    app.get_json(&org, &format!("/Users/{active}")).await;

    let events = app.events(&org).await;
    let tail: Vec<(&str, &str)> = events[events.len() - 3..]
        .iter()
        .map(|(t, u)| (t.as_str(), u.as_deref().unwrap()))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("membership.deleted", gone_user.as_str()),
            ("user.deleted", gone_user.as_str()),
            ("membership.deleted", shared_user.as_str()),
        ]
    );
    let policy_rows: Vec<_> = offboard::store::audit::list_for_organization(&app.db, &org.org_id())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.actor_type == entity::audit_log::ActorKind::Policy)
        .collect();
    assert_eq!(policy_rows.len(), 2);
    assert!(
        policy_rows
            .iter()
            .all(|r| r.action == "policy.membership.remove")
    );

    let again = app.purge_at(Utc::now() + Duration::days(31)).await;
    assert_eq!(again.memberships_expired, 0, "idempotent");
}

db_test!(a_revoked_session_introspects_as_inactive_right_after_a_scim_deactivation);
async fn a_revoked_session_introspects_as_inactive_right_after_a_scim_deactivation(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app
        .create_user(&org, &fixture("entra/create_user.json"))
        .await;
    let session = app
        .create_session(&org, &app.account_of(&org, &id).await)
        .await;
    let res = app
        .admin_send(Method::GET, &format!("/sessions/{session}"), None)
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(
        (body["active"].clone(), body["revoked_reason"].clone()),
        (json!(true), Value::Null)
    );
    let res = app
        .patch(
            &org,
            &format!("/Users/{id}"),
            &fixture("entra/disable_user.json"),
        )
        .await;
    assert!(res.status().is_success());
    let res = app
        .admin_send(Method::GET, &format!("/sessions/{session}"), None)
        .await;
    let body = expect_json(res, 200).await;
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["revoked_reason"], json!("membership.deactivated"));
}

db_test!(
    a_removed_membership_keeps_its_record_until_the_purge,
    [("OFFBOARD_DELETION_GRACE", "1h")]
);
async fn a_removed_membership_keeps_its_record_until_the_purge(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("dee@example.com")).await;
    let id_b = app.create_user(&b, &user_body("dee@example.com")).await;
    let id = app.account_of(&a, &id_a).await;
    assert_eq!(
        app.delete(&a, &format!("/Users/{id_a}"))
            .await
            .status()
            .as_u16(),
        204
    );
    let in_a = |v: &Value| membership_in(v, &a.id);
    let view = app.admin_user(&id).await;
    assert_eq!(in_a(&view)["user_name"], json!("dee@example.com"));
    assert_eq!(
        app.get(&a, &format!("/Users/{id_a}"))
            .await
            .status()
            .as_u16(),
        404
    );
    let report = app.purge_at(Utc::now() + Duration::hours(2)).await;
    assert_eq!(report.records_erased, 1);
    assert_eq!(report.accounts_erased, 0);
    let view = app.admin_user(&id).await;
    assert_eq!(in_a(&view)["user_name"], Value::Null);
    assert_eq!(view["status"], json!("ACTIVE"));
    app.get_json(&b, &format!("/Users/{id_b}")).await;
}

/// Whether `needle` occurs anywhere in the SQLite database's files (database, WAL).
fn in_database_files(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

db_test!(an_erased_account_leaves_no_personal_data_in_the_database_files);
async fn an_erased_account_leaves_no_personal_data_in_the_database_files(app: TestApp) {
    let org = app.create_org("Acme").await;
    let unique = ulid::Ulid::new().to_string().to_lowercase();
    let email = format!("erase-me-{unique}@example.com");
    let name = format!("Family{unique}");
    let mut body = user_body(&email);
    body["name"]["familyName"] = json!(name);
    body["externalId"] = json!(format!("ext-{unique}"));
    let id = app.create_user(&org, &body).await;
    // Several versions of the row, as an IdP's updates make them.
    app.patch(
        &org,
        &format!("/Users/{id}"),
        &fixture("okta/deactivate_user.json"),
    )
    .await;
    app.patch(
        &org,
        &format!("/Users/{id}"),
        &fixture("okta/reactivate_user.json"),
    )
    .await;
    // Entra renames the family: the event's previous_attributes hold the old name.
    app.patch(
        &org,
        &format!("/Users/{id}"),
        &fixture("entra/update_user_attributes.json"),
    )
    .await;
    if let Some(dir) = &app.dir {
        assert!(
            !in_database_files(dir.path(), email.as_bytes()).is_empty(),
            "the scan sees the data while it exists"
        );
    }
    assert_eq!(
        app.delete(&org, &format!("/Users/{id}")).await.status(),
        204
    );
    app.purge_at(Utc::now()).await;

    let view = app.admin_user(&app.account_of(&org, &id).await).await;
    assert_eq!(view["email"], Value::Null);
    match &app.dir {
        Some(dir) => {
            for needle in [&email, &name, &format!("ext-{unique}")] {
                let found = in_database_files(dir.path(), needle.as_bytes());
                assert!(found.is_empty(), "{needle} is still in {found:?}");
            }
        }
        None => {
            // PostgreSQL: the purge vacuumed the tables that held the data.
            use sea_orm::ConnectionTrait;
            let row = app
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*)::bigint AS n FROM pg_stat_user_tables WHERE relname IN ('users', 'memberships') AND last_vacuum IS NOT NULL",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get::<i64>("", "n").unwrap(), 2);
        }
    }
}

db_test!(
    serve_runs_the_purge_on_its_own,
    [
        ("OFFBOARD_PURGE_INTERVAL", "200ms"),
        ("OFFBOARD_DELETION_GRACE", "1s"),
    ]
);
async fn serve_runs_the_purge_on_its_own(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("auto@example.com")).await;
    let user = app.account_of(&org, &id).await;
    assert_eq!(
        app.delete(&org, &format!("/Users/{id}")).await.status(),
        204
    );
    assert_eq!(
        app.admin_user(&user).await["email"],
        json!("auto@example.com"),
        "kept during the grace period"
    );
    // Nobody calls the purge here: the task in `serve` must.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if app.admin_user(&user).await["email"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the periodic purge never erased the account"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        app.audit_actions(&org)
            .await
            .contains(&"scim.user.delete".to_string())
    );
}

db_test!(
    once_the_grace_period_is_over_a_deletion_cannot_be_undone_even_before_the_purge,
    [("OFFBOARD_DELETION_GRACE", "1s")]
);
async fn once_the_grace_period_is_over_a_deletion_cannot_be_undone_even_before_the_purge(
    app: TestApp,
) {
    let org = app.create_org("Acme").await;
    let scim_id = app.create_user(&org, &user_body("lee@example.com")).await;
    let id = app.account_of(&org, &scim_id).await;
    app.admin_delete_confirmed(&format!("/users/{id}"), json!({}))
        .await;
    // Not a speed target: the grace period has to pass on the wall clock.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.admin_user(&id).await["email"],
        json!("lee@example.com"),
        "not purged yet"
    );
    assert_eq!(restore_refused(&app, &id).await, "NOT_RESTORABLE");
}

/// A restore of the account that must be refused: the 409's error code.
async fn restore_refused(app: &TestApp, id: &str) -> String {
    let res = app
        .admin_send(Method::POST, &format!("/users/{id}/restore"), None)
        .await;
    expect_json(res, 409).await["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

db_test!(
    an_account_erased_at_once_erases_the_records_an_earlier_grace_period_kept,
    [("OFFBOARD_DELETION_GRACE", "7d")]
);
async fn an_account_erased_at_once_erases_the_records_an_earlier_grace_period_kept(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("ana@example.com")).await;
    let id_b = app.create_user(&b, &user_body("ana@example.com")).await;
    // A's IdP removes her while a grace period applies: A's record is kept.
    let res = app.delete(&a, &format!("/Users/{id_a}")).await;
    assert_eq!(res.status().as_u16(), 204);
    assert!(
        app.membership_row(&a, &id_a).await.scim.is_some(),
        "kept in the grace period"
    );
    // The grace period is dropped; B's IdP removes her last membership, so the account
    // is erased at once: every organization's record with it, A's kept one included.
    let at_once = crate::helpers::spawn_app_at(app.database_url.clone(), None, &[]).await;
    let res = at_once.delete(&b, &format!("/Users/{id_b}")).await;
    assert_eq!(res.status().as_u16(), 204);
    for (org, id) in [(&a, id_a), (&b, id_b)] {
        let m = app.membership_row(org, &id).await;
        assert_eq!(
            (m.scim, m.user_name, m.external_id),
            (None, None, None),
            "{id}: erased"
        );
    }
}
