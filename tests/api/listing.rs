//! Listing: filters, paging in a stable order, sorting and attribute projection.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, user_body};

db_test!(okta_style_paging_walks_every_user_once_in_a_stable_order);
async fn okta_style_paging_walks_every_user_once_in_a_stable_order(app: TestApp) {
    let org = app.create_org("Acme").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            app.create_user(&org, &user_body(&format!("user{i:02}@example.com")))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page: Value = app
            .get_json(&org, &format!("/Users?startIndex={start}&count=10"))
            .await;
        assert_eq!(page["totalResults"], json!(25));
        assert_eq!(page["startIndex"], json!(start));
        let items = page["Resources"].as_array().unwrap();
        assert_eq!(page["itemsPerPage"], json!(items.len()));
        seen.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        start += 10;
        if start > 25 {
            break;
        }
    }
    assert_eq!(seen, ids);
}

db_test!(filters_sorting_and_projection_work_together);
async fn filters_sorting_and_projection_work_together(app: TestApp) {
    let org = app.create_org("Acme").await;
    for (name, title) in [
        ("carol@example.com", "CTO"),
        ("alice@example.com", "Eng"),
        ("bob@other.org", "Eng"),
    ] {
        let mut body = user_body(name);
        body["title"] = json!(title);
        app.create_user(&org, &body).await;
    }
    let list: Value = app
        .get_json(&org, "/Users?filter=title%20eq%20%22eng%22%20and%20emails%5Btype%20eq%20%22work%22%5D.value%20ew%20%22example.com%22")
        .await;
    assert_eq!(list["totalResults"], json!(1));
    assert_eq!(list["Resources"][0]["userName"], json!("alice@example.com"));

    let list: Value = app
        .get_json(
            &org,
            "/Users?sortBy=userName&sortOrder=descending&attributes=userName",
        )
        .await;
    let names: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["carol@example.com", "bob@other.org", "alice@example.com"]
    );
    let first = list["Resources"][0].as_object().unwrap();
    let mut keys: Vec<&String> = first.keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"]);

    let list: Value = app
        .get_json(
            &org,
            "/Users?filter=not%20(title%20eq%20%22Eng%22)&excludedAttributes=emails,name",
        )
        .await;
    assert_eq!(list["totalResults"], json!(1));
    assert!(list["Resources"][0].get("emails").is_none());
    assert!(list["Resources"][0].get("name").is_none());
    assert_eq!(list["Resources"][0]["title"], json!("CTO"));
}

db_test!(any_case_of_the_resource_type_and_a_trailing_slash_answer_as_the_canonical_path);
async fn any_case_of_the_resource_type_and_a_trailing_slash_answer_as_the_canonical_path(
    app: TestApp,
) {
    let org = app.create_org("Acme").await;
    let id = app.create_user(&org, &user_body("ann@example.com")).await;
    let canonical = app
        .get_json(
            &org,
            "/Users?filter=userName%20eq%20%22ann%40example.com%22",
        )
        .await;
    assert_eq!(canonical["totalResults"], json!(1));
    for path in [
        "/users?filter=userName%20eq%20%22ann%40example.com%22",
        "/USERS?filter=userName%20eq%20%22ann%40example.com%22",
        "/Users/?filter=userName%20eq%20%22ann%40example.com%22",
        "/users/?filter=userName%20eq%20%22ann%40example.com%22",
    ] {
        let res = app.get(&org, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap(), canonical, "{path}");
    }
    let one = app.get_json(&org, &format!("/users/{id}/")).await;
    assert_eq!(one["id"], json!(id));
    // Writes too: a PATCH to a lower-case path deactivates.
    let res = app
        .patch(
            &org,
            &format!("/users/{id}"),
            &crate::helpers::fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_json(&org, &format!("/Users/{id}")).await["active"],
        json!(false)
    );
    // The id keeps its case: another case is another (unknown) id.
    let res = app
        .get(&org, &format!("/Users/{}", id.to_lowercase()))
        .await;
    assert_eq!(res.status(), 404);
    let groups = app.get(&org, "/groups/").await;
    assert_eq!(groups.status(), 200);
}
