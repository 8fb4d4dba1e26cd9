//! Concurrent calls for one user end in one of the serial orders, with no lost event.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, fixture, user_body};

db_test!(concurrent_deactivations_and_a_delete_serialize);
async fn concurrent_deactivations_and_a_delete_serialize(app: TestApp) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("race@example.com")).await;
    let user = app.account_of(&org, &id).await;
    let path = format!("/Users/{id}");
    let deactivate = fixture("entra/disable_user.json");
    let mut handles = Vec::new();
    for i in 0..8 {
        let (app_ref, org_ref, path, body) = (&app, &org, path.clone(), deactivate.clone());
        handles.push(async move {
            if i == 4 {
                app_ref.delete(org_ref, &path).await.status().as_u16()
            } else {
                app_ref.patch(org_ref, &path, &body).await.status().as_u16()
            }
        });
    }
    let statuses = futures_util::future::join_all(handles).await;
    for s in &statuses {
        assert!([200, 204, 404].contains(s), "{statuses:?}");
    }
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1);

    let types = app.event_types(&org).await;
    assert_eq!(
        types.iter().filter(|t| *t == "membership.deleted").count(),
        1,
        "{types:?}"
    );
    assert!(
        types
            .iter()
            .filter(|t| *t == "membership.deactivated")
            .count()
            <= 1,
        "{types:?}"
    );
    assert_eq!(types.last().map(String::as_str), Some("user.deleted"));
    assert_eq!(app.get(&org, &path).await.status(), 404);
    let account: Value = app.admin_user(&user).await;
    assert_eq!(account["status"], json!("DELETED"));
}

db_test!(two_organizations_deleting_a_shared_user_at_once_delete_the_account_once);
async fn two_organizations_deleting_a_shared_user_at_once_delete_the_account_once(app: TestApp) {
    let (a, b) = app.orgs_sharing_a_domain("A", "B").await;
    let id_a = app.create_user(&a, &user_body("both@example.com")).await;
    let id_b = app.create_user(&b, &user_body("both@example.com")).await;
    let user = app.account_of(&a, &id_a).await;
    assert_eq!(app.account_of(&b, &id_b).await, user);
    let (path_a, path_b) = (format!("/Users/{id_a}"), format!("/Users/{id_b}"));
    let (ra, rb) = tokio::join!(app.delete(&a, &path_a), app.delete(&b, &path_b));
    assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (204, 204));
    let mut all = app.event_types(&a).await;
    all.extend(app.event_types(&b).await);
    assert_eq!(
        all.iter().filter(|t| *t == "user.deleted").count(),
        1,
        "{all:?}"
    );
    assert_eq!(app.admin_user(&user).await["status"], json!("DELETED"));
}
