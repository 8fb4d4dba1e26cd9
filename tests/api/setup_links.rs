//! Setup links: an organization's IT admin opens one, follows their IdP's steps, makes the
//! SCIM token on the page and connects; links that do not open reveal nothing.

use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Org, TestApp, expect_json, fixture};

/// Makes a link; returns its answer and the page's path (`/setup/…`).
async fn make_link(app: &TestApp, org: &Org, body: Value) -> (Value, String) {
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{}/setup-links", org.id),
            Some(&body),
        )
        .await;
    let v = expect_json(res, 201).await;
    let url = v["url"].as_str().expect("url").to_string();
    let at = url.find("/setup/").expect("a /setup/ URL");
    (v, url[at..].to_string())
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("GET page");
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["referrer-policy"],
        "no-referrer",
        "the address holds the secret"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.text().await.expect("body"))
}

async fn make_token(app: &TestApp, path: &str, idp: &str) -> (u16, String) {
    let res = app
        .client
        .post(format!("{}{path}/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("idp={idp}"))
        .send()
        .await
        .expect("POST token");
    (res.status().as_u16(), res.text().await.expect("body"))
}

/// The checklist's steps the live fragment shows done.
async fn done_steps(app: &TestApp, path: &str) -> Vec<String> {
    let res = app
        .client
        .get(format!("{}{path}/live", app.address))
        .send()
        .await
        .expect("GET live");
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    html.split("<li class=\"done\">✓ ")
        .skip(1)
        .map(|s| s.split("</li>").next().unwrap_or("").trim().to_string())
        .collect()
}

/// The token shown on the page, if any.
fn shown_token(html: &str) -> Option<String> {
    let start = html.find("<code id=\"token\">")? + "<code id=\"token\">".len();
    let end = html[start..].find("</code>")? + start;
    Some(html[start..end].to_string())
}

db_test!(an_it_admin_connects_okta_through_a_setup_link);
async fn an_it_admin_connects_okta_through_a_setup_link(app: TestApp) {
    let org = app.create_org("Acme Corp").await;
    let (link, path) = make_link(&app, &org, json!({"idp": "okta", "ttl": "2d"})).await;
    assert_eq!(link["idp"], json!("okta"));
    assert_eq!(link["organization_id"], json!(org.id));
    assert!(link["url"].as_str().unwrap().contains("/setup/setup_"));

    // The page: the organization, Okta's steps, the base URL, and no traffic yet.
    let (status, html) = page(&app, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Connect Acme Corp"), "{html}");
    assert!(
        html.contains("In Acme Corp, a deactivated person stays deactivated"),
        "what the organization's retention then does"
    );
    assert!(html.contains("SCIM connector base URL"), "Okta's steps");
    assert!(html.contains("/scim/v2</code>"));
    assert!(html.contains("Waiting for the first request"));
    assert!(html.contains("Create the token"));
    assert_eq!(done_steps(&app, &path).await, Vec::<String>::new());
    // Another IdP's steps, on request.
    let (_, entra) = page(&app, &format!("{path}?idp=entra")).await;
    assert!(entra.contains("Tenant URL") && entra.contains("aadOptscim062020"));

    // The token, made on the page, shown once and named after the IdP.
    let (status, html) = make_token(&app, &path, "okta").await;
    assert_eq!(status, 200);
    let token = shown_token(&html).expect("the token is shown");
    assert!(token.starts_with("scim_"), "{token}");
    let okta = Org {
        id: org.id.clone(),
        token: token.clone(),
    };
    let created = expect_json(
        app.post(&okta, "/Users", &fixture("okta/create_user.json"))
            .await,
        201,
    )
    .await;
    assert_eq!(created["active"], json!(true));
    assert_eq!(
        done_steps(&app, &path).await,
        [
            "The connection test, or a first read",
            "A first user created"
        ]
    );
    // Okta's deactivation and group push turn their steps green too.
    let id = created["id"].as_str().unwrap();
    let res = app
        .patch(
            &okta,
            &format!("/Users/{id}"),
            &fixture("okta/deactivate_user.json"),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    expect_json(
        app.post(&okta, "/Groups", &fixture("okta/create_group.json"))
            .await,
        201,
    )
    .await;
    let done = done_steps(&app, &path).await;
    for step in [
        "A first user created",
        "A deactivation (or a removal)",
        "A group pushed",
    ] {
        assert!(done.iter().any(|d| d == step), "{step} in {done:?}");
    }
    assert!(!done.iter().any(|d| d == "A profile update"), "{done:?}");

    // A reload shows the connection and never the token again; a second click makes none.
    let (_, html) = page(&app, &path).await;
    assert!(shown_token(&html).is_none());
    assert!(!html.contains(&token));
    assert!(html.contains("Okta connected"), "{html}");
    assert!(
        html.contains("POST /scim/v2/Groups"),
        "the last request: {html}"
    );
    let (_, again) = make_token(&app, &path, "okta").await;
    assert!(shown_token(&again).is_none() && !again.contains(&token));
    let tokens = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/organizations/{}/scim-tokens", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    let named: Vec<&Value> = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == json!("Okta (setup link)"))
        .collect();
    assert_eq!(named.len(), 1, "one token per link: {tokens}");

    // The operator sees the openings and the token; the audit log has each step.
    let links = expect_json(
        app.admin_send(
            Method::GET,
            &format!("/organizations/{}/setup-links", org.id),
            None,
        )
        .await,
        200,
    )
    .await;
    let row = &links["data"][0];
    assert_eq!(row["id"], link["id"]);
    assert_eq!(row["opened"], json!(3));
    assert_eq!(row["scim_token_id"], named[0]["id"]);
    assert!(row.get("url").is_none() && !links.to_string().contains("setup_"));
    let actions = app.audit_actions(&org).await;
    for a in ["setup_link.create", "setup_link.open", "scim_token.create"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let opened = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("setup_link.open"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        opened.iter().all(|r| r.client_address.is_some()),
        "each opening has its address"
    );

    // Revoked: the page is the same plain page an unknown link gets.
    let res = app
        .admin_send(
            Method::DELETE,
            &format!(
                "/organizations/{}/setup-links/{}",
                org.id,
                link["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let (status, revoked) = page(&app, &path).await;
    assert_eq!(status, 404);
    let (status, unknown) = page(&app, "/setup/setup_nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(revoked, unknown, "a dead link says nothing of what it was");
    assert!(!revoked.contains("Acme"));
    let (status, _) = make_token(&app, &path, "okta").await;
    assert_eq!(status, 404);
    assert!(
        app.audit_actions(&org)
            .await
            .contains(&"setup_link.revoke".to_string())
    );
}

db_test!(expired_links_and_deleted_organizations_open_nothing);
async fn expired_links_and_deleted_organizations_open_nothing(app: TestApp) {
    let (_, unknown) = page(&app, "/setup/setup_unknown").await;
    let org = app.create_org("Expiring").await;
    let (link, path) = make_link(&app, &org, json!({})).await;
    // Seven days by default.
    let created: chrono::DateTime<chrono::Utc> =
        link["created_at"].as_str().unwrap().parse().unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        link["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created).num_days(), 7);
    entity::setup_links::Entity::update_many()
        .col_expr(
            entity::setup_links::Column::ExpiresAt,
            sea_orm::sea_query::Expr::val(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let (status, expired) = page(&app, &path).await;
    assert_eq!((status, expired.as_str()), (404, unknown.as_str()));
    let (status, _) = make_token(&app, &path, "okta").await;
    assert_eq!(status, 404);

    let gone = app.create_org("Gone Soon").await;
    let (_, path) = make_link(&app, &gone, json!({"idp": "entra"})).await;
    assert_eq!(page(&app, &path).await.0, 200);
    let res = app
        .admin_send(
            Method::DELETE,
            &format!("/organizations/{}", gone.id),
            Some(&json!({"confirm": true})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let (status, body) = page(&app, &path).await;
    assert_eq!((status, body.as_str()), (404, unknown.as_str()));
}

db_test!(a_link_shows_only_its_own_organization);
async fn a_link_shows_only_its_own_organization(app: TestApp) {
    let ours = app.create_org("Ours Inc").await;
    let theirs = app.create_org("Theirs Ltd").await;
    expect_json(
        app.post(&theirs, "/Users", &fixture("okta/create_user.json"))
            .await,
        201,
    )
    .await;
    let (_, path) = make_link(&app, &ours, json!({})).await;
    let (_, html) = page(&app, &path).await;
    assert!(html.contains("Ours Inc") && !html.contains("Theirs"));
    // Their traffic is not ours: still waiting.
    assert!(html.contains("Waiting for the first request"));
    let (_, html) = make_token(&app, &path, "other").await;
    let token = shown_token(&html).unwrap();
    let mine = Org {
        id: ours.id.clone(),
        token,
    };
    let list = expect_json(app.get(&mine, "/Users").await, 200).await;
    assert_eq!(
        list["totalResults"],
        json!(0),
        "the token sees its own organization only"
    );
    // Another organization's link id cannot be revoked through ours.
    let (link, _) = make_link(&app, &theirs, json!({})).await;
    let res = app
        .admin_send(
            Method::DELETE,
            &format!(
                "/organizations/{}/setup-links/{}",
                ours.id,
                link["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
}

db_test!(bad_setup_link_requests_are_refused_and_live_links_are_bounded);
async fn bad_setup_link_requests_are_refused_and_live_links_are_bounded(app: TestApp) {
    let org = app.create_org("Careful").await;
    let path = format!("/organizations/{}/setup-links", org.id);
    for (body, why) in [
        (json!({"ttl": "31d"}), "over the maximum"),
        (json!({"ttl": "30s"}), "under a minute"),
        (json!({"ttl": "soon"}), "not a duration"),
        (json!({"ttl": 7}), "not text"),
        (json!({"idp": "ping"}), "an IdP offboard does not know"),
        (json!({"idp": null, "extra": 1}), "an unknown field"),
    ] {
        let res = app.admin_send(Method::POST, &path, Some(&body)).await;
        let v = expect_json(res, 422).await;
        assert_eq!(v["error"]["code"], json!("VALIDATION_ERROR"), "{why}");
    }
    let res = app
        .admin_send(
            Method::POST,
            "/organizations/org_01JDQ8X2M4N6P8R0T2V4X6Z8A0/setup-links",
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(
        expect_json(app.admin_send(Method::GET, &path, None).await, 200).await["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was made"
    );
    // A loop creating links stops at the cap of live links, with a clear answer; revoking
    // one makes room.
    let mut first = None;
    for i in 0..offboard::domain::setup::MAX_LIVE_LINKS {
        let (v, _) = make_link(&app, &org, json!({})).await;
        if i == 0 {
            first = v["id"].as_str().map(str::to_string);
        }
    }
    let over = app.admin_send(Method::POST, &path, Some(&json!({}))).await;
    let v = expect_json(over, 409).await;
    assert_eq!(v["error"]["code"], json!("TOO_MANY_SETUP_LINKS"));
    let res = app
        .admin_send(Method::DELETE, &format!("{path}/{}", first.unwrap()), None)
        .await;
    assert_eq!(res.status().as_u16(), 204);
    make_link(&app, &org, json!({})).await;
}

/// The live fragment's text.
async fn live_html(app: &TestApp, path: &str) -> String {
    let res = app
        .client
        .get(format!("{}{path}/live", app.address))
        .send()
        .await
        .expect("GET live");
    assert_eq!(res.status().as_u16(), 200);
    res.text().await.unwrap()
}

db_test!(the_page_explains_refused_requests_and_warns_before_the_token_expires);
async fn the_page_explains_refused_requests_and_warns_before_the_token_expires(app: TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let org = app.create_org("Acme Corp").await;
    let other = app.create_org("Other").await;
    let (_, path) = make_link(&app, &org, json!({"idp": "entra"})).await;
    let (_, html) = make_token(&app, &path, "entra").await;
    let entra = Org {
        id: org.id.clone(),
        token: shown_token(&html).expect("token"),
    };
    assert!(!live_html(&app, &path).await.contains("Refused requests"));
    // The organization's retention, as the page states it.
    let kept = app
        .create_org_with("Kept", json!({"deactivated_retention": "30d"}))
        .await;
    let (_, kept_path) = make_link(&app, &kept, json!({"idp": "okta"})).await;
    let (_, html) = page(&app, &kept_path).await;
    assert!(
        html.contains("In Kept, a person who stays deactivated for 30 days is then removed"),
        "{html}"
    );

    // Entra creates a user it already created: 409, explained.
    let body = fixture("entra/create_user.json");
    expect_json(app.post(&entra, "/Users", &body).await, 201).await;
    assert_eq!(
        app.post(&entra, "/Users", &body).await.status().as_u16(),
        409
    );
    // Another organization's refusals are never shown here.
    app.get(&other, "/Users/nobody").await;
    let live = live_html(&app, &path).await;
    assert!(live.contains("Refused requests"), "{live}");
    // What was received, answered or not, newest first.
    let received = live
        .split("<details id=\"received\" open>")
        .nth(1)
        .and_then(|r| r.split("</details>").next())
        .expect("the received requests")
        .to_string();
    let first_409 = received.find("POST /scim/v2/Users</code> → 409");
    let then_201 = received.find("POST /scim/v2/Users</code> → 201");
    assert!(
        first_409.is_some() && then_201.is_some() && first_409 < then_201,
        "{received}"
    );
    assert!(live.contains("POST /scim/v2/Users</code> → 409"), "{live}");
    assert!(
        live.contains("already has"),
        "what to change in the IdP: {live}"
    );
    assert!(!live.contains("/scim/v2/Users/{id}"), "{live}");

    // Its token expires in three days: warned; once expired, Entra's requests are
    // refused and the page says why and what to do.
    let row = offboard::store::tokens::find_unrevoked(&app.db, &entra.token)
        .await
        .unwrap()
        .expect("token row");
    let id = row.id.clone();
    let mut row: entity::scim_tokens::ActiveModel = row.into();
    row.expires_at = Set(Some(chrono::Utc::now() + chrono::Duration::days(3)));
    row.update(&app.db).await.unwrap();
    let live = live_html(&app, &path).await;
    assert!(
        live.contains("Microsoft Entra ID (setup link) expires at"),
        "{live}"
    );
    let row = entity::scim_tokens::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: entity::scim_tokens::ActiveModel = row.into();
    row.expires_at = Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1)));
    row.update(&app.db).await.unwrap();
    assert_eq!(
        app.get(&entra, "/Users?count=1").await.status().as_u16(),
        401
    );
    let live = live_html(&app, &path).await;
    assert!(live.contains("expired at"), "{live}");
    assert!(live.contains("GET /scim/v2/Users</code> → 401"), "{live}");
    assert!(live.contains("has expired. Ask"), "{live}");
}

db_test!(
    the_live_page_lists_what_is_not_written_yet_and_never_writes,
    [("OFFBOARD_CONNECTION_FLUSH_INTERVAL", "1h")]
);
async fn the_live_page_lists_what_is_not_written_yet_and_never_writes(app: TestApp) {
    let org = app.create_org("Acme Corp").await;
    let (_, path) = make_link(&app, &org, json!({"idp": "okta"})).await;
    let (_, html) = make_token(&app, &path, "okta").await;
    let okta = Org {
        id: org.id.clone(),
        token: shown_token(&html).expect("token"),
    };
    let body = fixture("okta/create_user.json");
    expect_json(app.post(&okta, "/Users", &body).await, 201).await;
    assert_eq!(
        app.post(&okta, "/Users", &body).await.status().as_u16(),
        409
    );
    let written = || async {
        entity::scim_requests::Entity::find()
            .filter(entity::scim_requests::Column::OrganizationId.eq(org.id.as_str()))
            .all(&app.db)
            .await
            .unwrap()
            .len()
    };
    // Polled by anyone holding the link: it shows the requests held in memory, and
    // writes nothing.
    for _ in 0..3 {
        let live = live_html(&app, &path).await;
        assert_eq!(
            live.matches("POST /scim/v2/Users</code> → 201").count(),
            1,
            "{live}"
        );
        assert!(live.contains("Refused requests"), "{live}");
    }
    assert_eq!(written().await, 0, "the live page wrote the inspector");
    // Once written (an operator's listing flushes), each is listed once still.
    let listed = app
        .admin_send(
            Method::GET,
            &format!("/organizations/{}/requests", org.id),
            None,
        )
        .await;
    expect_json(listed, 200).await;
    assert_eq!(written().await, 2);
    let live = live_html(&app, &path).await;
    assert_eq!(
        live.matches("POST /scim/v2/Users</code> → 201").count(),
        1,
        "{live}"
    );
    assert_eq!(
        live.matches("POST /scim/v2/Users</code> → 409").count(),
        2,
        "{live}"
    );
}
