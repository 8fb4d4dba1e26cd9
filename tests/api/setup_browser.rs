//! A customer's IT admin connects their IdP through a setup link, in a real headless
//! Chromium: opens the link, picks the IdP, makes the token, and watches the checklist
//! turn green while the IdP's literal calls (from `scim-fixtures/`) arrive with that
//! token; after a reload the token is gone. Once with Okta, once with Entra.
//!
//! `OFFBOARD_WRITE_SCREENSHOT=1` writes what the admin sees into `docs/` (the README
//! shows them). Needs Chromium and ChromeDriver as the console's browser test does.

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};

use crate::console::{WAIT, browser, click, text, wait_text};
use crate::helpers::{Backend, Org, TestApp, expect_json, fixture, fixture_with, spawn_app_with};

/// The steps the page shows done.
async fn done(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(items) = c.find_all(Locator::Css("#checklist li.done")).await {
        for li in items {
            out.push(li.text().await.unwrap_or_default());
        }
    }
    out
}

/// Waits until every checklist step is green (the page refreshes it every 5 s).
async fn wait_all_done(c: &Client) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let done = done(c).await;
        let all = c
            .find_all(Locator::Css("#checklist li"))
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        if all == 5 && done.len() == all {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "checklist: {done:?} of {all} done"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Opens a fresh setup link for a new organization, picks `idp` on the page and makes the
/// token there; returns the app, the organization (with the page's token), the page's
/// URL and the browser.
async fn connect(
    name: &str,
    idp_label: &str,
) -> Option<(TestApp, Org, String, crate::console::Browser)> {
    let browser = browser().await?;
    // The address an operator would give (the page shows it as the base URL); the test
    // itself talks to the app where it listens.
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("OFFBOARD_PUBLIC_URL", "https://offboard.example.com")],
    )
    .await;
    let res = app
        .admin_send(Method::POST, "/organizations", Some(&json!({"name": name})))
        .await;
    let org_id = expect_json(res, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .admin_send(
            Method::POST,
            &format!("/organizations/{org_id}/setup-links"),
            Some(&json!({})),
        )
        .await;
    let link = expect_json(res, 201).await;
    let url = link["url"].as_str().unwrap();
    let path = &url[url.find("/setup/").unwrap()..];
    let page = format!("{}{path}", app.address);

    let c = &browser.client;
    c.goto(&page).await.unwrap();
    wait_text(c, "h1", &format!("Connect {name}")).await;
    wait_text(c, "#status", "Waiting for the first request").await;
    // Pick the IdP (unless the page opened on it): its steps replace the others.
    if text(c, "nav.idps strong").await != idp_label {
        c.find(Locator::LinkText(idp_label))
            .await
            .unwrap_or_else(|e| panic!("the {idp_label} choice: {e}"))
            .click()
            .await
            .unwrap();
    }
    wait_text(c, "nav.idps strong", idp_label).await;
    wait_text(c, "#guide h2", &format!("Steps in {idp_label}")).await;
    assert_eq!(
        text(c, "#base-url").await,
        "https://offboard.example.com/scim/v2"
    );
    click(c, "#make-token button").await;
    let token = text(c, "#token").await;
    assert!(token.starts_with("scim_"), "{token}");
    let org = Org { id: org_id, token };
    Some((app, org, page, browser))
}

/// After a reload the token is gone from the page, and the connection stays shown.
async fn reload_shows_no_token(c: &Client, page: &str, token: &str, connected: &str) {
    c.goto(page).await.unwrap();
    wait_text(c, "#status h2", connected).await;
    assert!(c.find(Locator::Css("#token")).await.is_err(), "no token");
    let source = c.source().await.unwrap();
    assert!(!source.contains(token), "the token is never shown again");
    assert!(source.contains("it was shown once"));
}

fn screenshot(png: Vec<u8>, name: &str) {
    if std::env::var_os("OFFBOARD_WRITE_SCREENSHOT").is_some() {
        std::fs::write(format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR")), png).unwrap();
    }
}

async fn status(res: reqwest::Response) -> (u16, Value) {
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_it_admin_connects_okta_through_a_setup_link_in_a_real_browser() {
    let Some((app, okta, page, browser)) = connect("Acme Corp", "Okta").await else {
        return;
    };
    let c = &browser.client;
    // Okta's calls, as Okta sends them: the lookup before a push, the push, a profile
    // change with a deactivation (PUT), the group push.
    let (s, _) = status(
        app.get(
            &okta,
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    wait_text(c, "#status h2", "Okta connected").await;
    let (s, user) = status(
        app.post(&okta, "/Users", &fixture("okta/create_user.json"))
            .await,
    )
    .await;
    assert_eq!(s, 201);
    let id = user["id"].as_str().unwrap();
    let (s, _) = status(
        app.put(
            &okta,
            &format!("/Users/{id}"),
            &fixture("okta/replace_user_inactive.json"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = status(
        app.post(&okta, "/Groups", &fixture("okta/create_group.json"))
            .await,
    )
    .await;
    assert_eq!(s, 201);
    wait_all_done(c).await;
    screenshot(c.screenshot().await.unwrap(), "setup-okta.png");
    reload_shows_no_token(c, &page, &okta.token, "Okta connected").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_it_admin_connects_entra_through_a_setup_link_in_a_real_browser() {
    let Some((app, entra, page, browser)) = connect("Contoso", "Microsoft Entra ID").await else {
        return;
    };
    let c = &browser.client;
    // Entra's calls, as Entra sends them: its test connection's query, a user, an
    // attribute update, a group with the user added, the user disabled ("False").
    let (s, _) = status(
        app.get(
            &entra,
            "/Users?filter=userName+eq+%22non-existent-user%40example.com%22",
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    wait_text(c, "#status h2", "Microsoft Entra ID connected").await;
    let (s, user) = status(
        app.post(&entra, "/Users", &fixture("entra/create_user.json"))
            .await,
    )
    .await;
    assert_eq!(s, 201);
    let id = user["id"].as_str().unwrap();
    let (s, _) = status(
        app.patch(
            &entra,
            &format!("/Users/{id}"),
            &fixture("entra/update_user_attributes.json"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, group) = status(
        app.post(&entra, "/Groups", &fixture("entra/create_group.json"))
            .await,
    )
    .await;
    assert_eq!(s, 201);
    let gid = group["id"].as_str().unwrap();
    let (s, _) = status(
        app.patch(
            &entra,
            &format!("/Groups/{gid}"),
            &fixture_with("entra/add_group_member.json", &[("USER_ID", id)]),
        )
        .await,
    )
    .await;
    assert!(s == 200 || s == 204, "{s}");
    let (s, _) = status(
        app.patch(
            &entra,
            &format!("/Users/{id}"),
            &fixture("entra/disable_user.json"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    wait_all_done(c).await;
    screenshot(c.screenshot().await.unwrap(), "setup-entra.png");
    reload_shows_no_token(c, &page, &entra.token, "Microsoft Entra ID connected").await;
    browser.close().await;
}
