//! Filters and sorting run in SQL; they must answer exactly as the SCIM evaluator does.
//! A varied organization is listed through every supported operator and attribute kind,
//! and each answer is compared with `Filter::matches` over the whole organization.

use offboard::scim::filter::Filter;
use offboard::scim::schema::{GROUP, USER};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, patch_body};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn users() -> Vec<Value> {
    let mut out = Vec::new();
    let people = [
        (
            "ana@acme.com",
            "Ana",
            "Álvarez",
            "Engineering",
            true,
            "+1 555 0100",
        ),
        (
            "Bo@Acme.com",
            "Bo",
            "Berg",
            "engineering",
            false,
            "+46 70 111",
        ),
        ("cy@other.org", "Cy", "Xu", "Sales", true, ""),
        ("dee@acme.com", "Dee", "de la Cruz", "", true, "+1 555 0199"),
        ("eve", "Eve", "Éclair", "Sales", false, ""),
        ("fox@acme.com", "Fox", "Fox", "Legal", true, "+33 1 23"),
    ];
    for (i, (user_name, given, family, dept, work_primary, phone)) in people.iter().enumerate() {
        let mut u = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": user_name,
            "externalId": format!("EXT-{i}"),
            "displayName": format!("{given} {family}"),
            "title": if i % 2 == 0 { "Engineer" } else { "Manager" },
            "name": {"givenName": given, "familyName": family},
            "emails": [
                {"value": format!("{}@work.example", given.to_lowercase()), "type": "work", "primary": work_primary},
                {"value": format!("{}@home.example", given.to_lowercase()), "type": "home"}
            ],
            "roles": [{"value": if i < 3 { "admin" } else { "viewer" }}],
            "active": i != 4,
        });
        if !phone.is_empty() {
            u["phoneNumbers"] = json!([{"value": phone, "type": "work"}]);
        }
        if !dept.is_empty() {
            u[ENTERPRISE] =
                json!({"department": dept, "manager": {"value": format!("mgr-{}", i % 3)}});
        }
        out.push(u);
    }
    out
}

const FILTERS: &[&str] = &[
    r#"userName eq "bo@acme.com""#,
    r#"userName eq "BO@ACME.COM""#,
    r#"userName ne "ana@acme.com""#,
    r#"userName co "ACME""#,
    r#"userName sw "d""#,
    r#"userName ew ".org""#,
    r#"userName gt "cy@other.org""#,
    r#"userName ge "cy@other.org""#,
    r#"userName lt "cy@other.org""#,
    r#"userName le "cy@other.org""#,
    r#"userName pr"#,
    r#"name.familyName co "x""#,
    r#"name.familyName eq "berg""#,
    r#"name.familyName sw "DE ""#,
    r#"name.familyName eq "álvarez""#,
    r#"name.familyName co "clair""#,
    r#"name.givenName ew "e""#,
    r#"name pr"#,
    r#"displayName co "fox""#,
    r#"title eq "engineer""#,
    r#"title ne "Engineer""#,
    r#"externalId eq "EXT-3""#,
    r#"externalId eq "ext-3""#,
    r#"externalId sw "EXT""#,
    r#"emails eq "ana@work.example""#,
    r#"emails.value co "HOME""#,
    r#"emails.type eq "work""#,
    r#"emails[type eq "work" and value sw "b"]"#,
    r#"emails[type eq "work"].value eq "cy@work.example""#,
    r#"emails[primary eq true]"#,
    r#"emails.primary eq true"#,
    r#"emails.primary eq false"#,
    r#"emails.primary ne true"#,
    r#"emails pr"#,
    r#"phoneNumbers pr"#,
    r#"not (phoneNumbers pr)"#,
    r#"phoneNumbers.value sw "+1""#,
    r#"roles.value eq "admin""#,
    r#"roles eq "viewer" and title eq "manager""#,
    r#"active eq true"#,
    r#"active eq false"#,
    r#"active ne true"#,
    r#"active pr"#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "engineering""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr"#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "mgr-1""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "mgr-2""#,
    r#"not (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales")"#,
    r#"title eq "Engineer" or userName sw "e""#,
    r#"(title eq "Engineer" or userName sw "e") and not (active eq false)"#,
    r#"not (userName co "acme" and (emails.type eq "home" or name.givenName eq "cy"))"#,
    r#"meta.created pr"#,
    r#"meta.created gt "2000-01-01T00:00:00Z""#,
    r#"meta.lastModified lt "2000-01-01T00:00:00Z""#,
    r#"meta.created ge "2000-01-01T00:00:00.000000001Z""#,
    r#"meta.resourceType eq "User""#,
    r#"userName eq null"#,
    r#"userName ne null"#,
    r#"id pr"#,
];

async fn all(app: &TestApp, org: &Org, path: &str) -> Vec<Value> {
    let list = app.get_json(org, path).await;
    list["Resources"].as_array().cloned().unwrap_or_default()
}

fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

db_test!(every_supported_user_filter_answers_as_the_evaluator_does);
async fn every_supported_user_filter_answers_as_the_evaluator_does(app: TestApp) {
    let org = app.create_org("Acme").await;
    for u in users() {
        app.create_user(&org, &u).await;
    }
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"});
    let g = expect_json(app.post(&org, "/Groups", &group).await, 201).await;
    let everyone = all(&app, &org, "/Users?count=1000").await;
    assert_eq!(everyone.len(), 6);
    let first = everyone[0]["id"].as_str().unwrap().to_string();
    app.patch(
        &org,
        &format!("/Groups/{}", g["id"].as_str().unwrap()),
        &patch_body(json!([{"op": "add", "path": "members", "value": [{"value": first}]}])),
    )
    .await;
    let everyone = all(&app, &org, "/Users?count=1000").await;
    let gid = g["id"].as_str().unwrap();
    let mut filters: Vec<String> = FILTERS.iter().map(|f| f.to_string()).collect();
    filters.push(format!(r#"id eq "{first}""#));
    filters.push(format!(r#"groups.value eq "{gid}""#));
    filters.push(format!(r#"groups eq "{gid}" or userName eq "eve""#));
    filters.push(r#"groups pr"#.into());
    filters.push(r#"not (groups pr)"#.into());
    for f in &filters {
        let parsed = Filter::parse(f, &USER).unwrap_or_else(|e| panic!("{f}: {e}"));
        let expected: Vec<String> = ids(&everyone
            .iter()
            .filter(|u| parsed.matches(u))
            .cloned()
            .collect::<Vec<_>>());
        let list = app
            .get_json(&org, &format!("/Users?count=1000&filter={}", encode(f)))
            .await;
        let got = ids(list["Resources"].as_array().unwrap());
        assert_eq!(got, expected, "{f}");
        assert_eq!(list["totalResults"], json!(expected.len()), "{f}");
        // The same filter, paged two at a time, gives the same users in the same order.
        let mut paged = Vec::new();
        let mut start = 1;
        while start <= expected.len() {
            let page = app
                .get_json(
                    &org,
                    &format!("/Users?startIndex={start}&count=2&filter={}", encode(f)),
                )
                .await;
            assert_eq!(page["totalResults"], json!(expected.len()), "{f}");
            paged.extend(ids(page["Resources"].as_array().unwrap()));
            start += 2;
        }
        assert_eq!(paged, expected, "{f} paged");
    }
    for bad in [r#"groups.display eq "G""#, r#"members pr"#] {
        let res = app
            .get(&org, &format!("/Users?filter={}", encode(bad)))
            .await;
        assert_eq!(res.status().as_u16(), 400, "{bad}");
    }
}

/// The sort order the SCIM list always had: case-insensitive on the first value,
/// missing values last (first when descending), ties in creation order.
fn expected_order(
    everyone: &[Value],
    key: impl Fn(&Value) -> Option<String>,
    desc: bool,
) -> Vec<String> {
    let mut keyed: Vec<(Option<String>, usize, String)> = everyone
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (
                key(u).map(|k| k.to_lowercase()),
                i,
                u["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        let ord = match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Greater,
            (_, None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        };
        let ord = if desc { ord.reverse() } else { ord };
        ord.then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, _, id)| id).collect()
}

db_test!(sorting_runs_in_sql_with_the_order_the_list_always_had);
async fn sorting_runs_in_sql_with_the_order_the_list_always_had(app: TestApp) {
    let org = app.create_org("Acme").await;
    for u in users() {
        app.create_user(&org, &u).await;
    }
    let everyone = all(&app, &org, "/Users?count=1000").await;
    type Key = fn(&Value) -> Option<String>;
    let cases: Vec<(&str, Key)> = vec![
        ("userName", |u| u["userName"].as_str().map(str::to_string)),
        ("name.givenName", |u| {
            u["name"]["givenName"].as_str().map(str::to_string)
        }),
        ("title", |u| u["title"].as_str().map(str::to_string)),
        ("emails", |u| {
            u["emails"][0]["value"].as_str().map(str::to_string)
        }),
        ("externalId", |u| {
            u["externalId"].as_str().map(str::to_string)
        }),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            |u| u[ENTERPRISE]["department"].as_str().map(str::to_string),
        ),
        ("phoneNumbers", |u| {
            u["phoneNumbers"][0]["value"].as_str().map(str::to_string)
        }),
    ];
    for (attr, key) in cases {
        for desc in [false, true] {
            let order = if desc { "descending" } else { "ascending" };
            let got = ids(&all(
                &app,
                &org,
                &format!(
                    "/Users?count=1000&sortBy={}&sortOrder={order}",
                    encode(attr)
                ),
            )
            .await);
            // Non-ASCII letters are compared as stored on SQLite; the fixture keeps them
            // out of the first letter of sorted values.
            assert_eq!(got, expected_order(&everyone, key, desc), "{attr} {order}");
        }
    }
}

db_test!(group_filters_and_the_root_search_page_in_sql);
async fn group_filters_and_the_root_search_page_in_sql(app: TestApp) {
    let org = app.create_org("Acme").await;
    let mut user_ids = Vec::new();
    for u in users().into_iter().take(3) {
        user_ids.push(app.create_user(&org, &u).await);
    }
    let mut groups = Vec::new();
    for (i, name) in ["Engineering", "engineering ops", "Sales", "Straße"]
        .iter()
        .enumerate()
    {
        let members: Vec<Value> = user_ids
            .iter()
            .take(i)
            .map(|id| json!({"value": id}))
            .collect();
        let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "externalId": format!("G-{i}"), "members": members});
        groups.push(expect_json(app.post(&org, "/Groups", &g).await, 201).await);
    }
    let everyone = all(&app, &org, "/Groups?count=1000").await;
    let u0 = &user_ids[0];
    let u2 = &user_ids[2];
    let filters = [
        r#"displayName eq "ENGINEERING""#.to_string(),
        r#"displayName co "ENG""#.to_string(),
        r#"displayName sw "s""#.to_string(),
        r#"displayName eq "STRASSE""#.to_string(),
        r#"displayName eq "straße""#.to_string(),
        r#"externalId eq "G-2""#.to_string(),
        format!(r#"members.value eq "{u0}""#),
        format!(r#"members eq "{u2}""#),
        r#"members pr"#.to_string(),
        r#"not (members pr)"#.to_string(),
        r#"displayName pr and members pr"#.to_string(),
    ];
    for f in &filters {
        let parsed = Filter::parse(f, &GROUP).unwrap();
        let expected = ids(&everyone
            .iter()
            .filter(|g| parsed.matches(g))
            .cloned()
            .collect::<Vec<_>>());
        let list = app
            .get_json(&org, &format!("/Groups?count=1000&filter={}", encode(f)))
            .await;
        assert_eq!(ids(list["Resources"].as_array().unwrap()), expected, "{f}");
    }
    // A page of groups without members never loads them; count=1 loads one group.
    let page = app
        .get_json(&org, "/Groups?count=1&excludedAttributes=members")
        .await;
    assert_eq!(page["totalResults"], json!(4));
    assert_eq!(page["Resources"].as_array().unwrap().len(), 1);
    assert!(page["Resources"][0].get("members").is_none());

    // The root search pages users then groups as one list.
    let search = |start: usize, count: usize| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": start, "count": count});
        let app = &app;
        let org = &org;
        async move {
            let res = app
                .client
                .post(app.scim("/.search"))
                .bearer_auth(&org.token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            expect_json(res, 200).await
        }
    };
    let whole = search(1, 100).await;
    assert_eq!(whole["totalResults"], json!(7));
    let all_ids = ids(whole["Resources"].as_array().unwrap());
    assert_eq!(&all_ids[..3], &user_ids[..]);
    let mut paged = Vec::new();
    for start in (1..=7).step_by(2) {
        let page = search(start, 2).await;
        assert_eq!(page["totalResults"], json!(7));
        assert_eq!(page["startIndex"], json!(start));
        paged.extend(ids(page["Resources"].as_array().unwrap()));
    }
    assert_eq!(paged, all_ids);
}

db_test!(ordering_operators_include_or_exclude_the_boundary_exactly);
async fn ordering_operators_include_or_exclude_the_boundary_exactly(app: TestApp) {
    let org = app.create_org("Acme").await;
    for name in ["a@x.io", "b@x.io", "c@x.io"] {
        app.create_user(&org, &crate::helpers::user_body(name))
            .await;
    }
    let names = |list: Value| -> Vec<String> {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    };
    for (filter, expected) in [
        (r#"userName gt "b@x.io""#, vec!["c@x.io"]),
        (r#"userName ge "b@x.io""#, vec!["b@x.io", "c@x.io"]),
        (r#"userName lt "b@x.io""#, vec!["a@x.io"]),
        (r#"userName le "b@x.io""#, vec!["a@x.io", "b@x.io"]),
        (
            r#"name.familyName ge "family""#,
            vec!["a@x.io", "b@x.io", "c@x.io"],
        ),
        (r#"name.familyName gt "family""#, vec![]),
        (
            r#"name.familyName le "FAMILY""#,
            vec!["a@x.io", "b@x.io", "c@x.io"],
        ),
        (r#"name.familyName lt "FAMILY""#, vec![]),
    ] {
        let got = names(
            app.get_json(&org, &format!("/Users?filter={}", encode(filter)))
                .await,
        );
        assert_eq!(got, expected, "{filter}");
    }
}
