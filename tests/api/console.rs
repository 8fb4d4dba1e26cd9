//! The operator console in a real headless Chromium, driven through ChromeDriver: sign
//! in with `offboard console-link`'s URL, watch an organization's connection turn
//! healthy, find a refused request with its redacted body, replay a dead delivery and
//! approve a held deprovisioning, as an operator would. Also what the console must never
//! do: hold data without a token, leave the token in the address bar, run a script or
//! fetch anything from another origin.
//!
//! Needs `chromedriver` and Chromium (`apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). Without them these tests say so and pass only when
//! `OFFBOARD_REQUIRE_BROWSER` is unset; CI sets it, so there they cannot be skipped.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, expect_json, spawn_app_with, user_body};
use crate::receiver::Mode;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A headless Chromium session. ChromeDriver runs in its own process group with the
/// Chromium it starts; the whole group is killed when this is dropped.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
}

impl Browser {
    /// Ends the WebDriver session once the test has checked everything it checks. Ending it
    /// is teardown, not part of what the console must do: a Chromium that is slow to quit on
    /// a loaded machine (seen once in CI) is reported here and then killed with its group.
    pub(crate) async fn close(self) {
        match tokio::time::timeout(WAIT, self.client.clone().close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("ending the WebDriver session failed: {e}"),
            Err(_) => eprintln!("ending the WebDriver session took over {WAIT:?}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(group) = i32::try_from(self.driver.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group ChromeDriver
            // leads (it was started with process_group(0)); it touches no memory.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Starts ChromeDriver on a free port and a headless Chromium session, or `None` when
/// they are not installed and the browser is not required.
pub(crate) async fn browser() -> Option<Browser> {
    // The WebDriver client speaks HTTP through rustls too; the same provider as the app.
    offboard::install_crypto_provider();
    let driver = std::env::var_os("OFFBOARD_CHROMEDRIVER")
        .map(std::path::PathBuf::from)
        .or_else(|| which("chromedriver"));
    let Some(driver) = driver else {
        assert!(
            std::env::var_os("OFFBOARD_REQUIRE_BROWSER").is_none(),
            "OFFBOARD_REQUIRE_BROWSER is set but chromedriver is not installed \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: the console's browser test needs chromedriver and chromium");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
    ];
    args.push("--no-first-run");
    let mut options = json!({ "args": args });
    if let Some(bin) = std::env::var_os("OFFBOARD_CHROMIUM")
        .map(std::path::PathBuf::from)
        .or_else(|| which("chromium"))
    {
        options["binary"] = json!(bin.display().to_string());
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + WAIT;
    let client = loop {
        let builder = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps.clone())
            .connect(&url)
            .await;
        match builder {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    };
    Some(Browser {
        client,
        driver: child,
    })
}

/// The text of the first element matching `css`, once there is one.
pub(crate) async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

/// Waits until the element matching `css` says `expected`.
pub(crate) async fn wait_text(c: &Client, css: &str, expected: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if found.contains(expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} says {found:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_follows_a_connection_and_acts_on_what_needs_them_in_a_real_browser() {
    let Some(browser) = browser().await else {
        return;
    };
    let c = &browser.client;
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("OFFBOARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("OFFBOARD_WEBHOOK_POLL_INTERVAL", "50ms"),
            ("OFFBOARD_WEBHOOK_RETRY_SCHEDULE", "50ms"),
        ],
    )
    .await;
    // More than one deactivation (and more than 0 %) within the hour is held.
    let org = app
        .create_org_with(
            "Acme",
            json!({"deprovision_guard": {"max_count": 1, "max_percent": 0}}),
        )
        .await;

    // Sign in through the link `offboard console-link` prints: the token rides in the
    // fragment, and leaves the address bar once it is in the tab's session storage.
    c.goto(&format!(
        "{}/console#token={}",
        app.address, app.admin_token
    ))
    .await
    .unwrap();
    wait_text(c, "#organizations", "Acme").await;
    let row = format!("#organizations tr[data-id='{}']", org.id);
    wait_text(c, &row, "never_connected").await;
    let url = c.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("token"),
        "the token left the address bar: {url}"
    );

    // The IdP calls: the organization turns healthy.
    let kim = app.create_user(&org, &user_body("kim@example.com")).await;
    let lee = app.create_user(&org, &user_body("lee@example.com")).await;
    c.refresh().await.unwrap();
    wait_text(c, &row, "healthy").await;

    // A refused request is in the inspector, its body redacted.
    let res = app
        .scim_send(
            Method::POST,
            &org,
            "/Users",
            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 42, "displayName": "Mallory Secret"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    click(c, &format!("{row} a")).await;
    wait_text(c, "#org-name", "Acme").await;
    wait_text(c, "#connection-state", "healthy").await;
    let refused = "#requests tr[data-status='400']";
    let line = text(c, refused).await;
    assert!(line.contains("POST /scim/v2/Users"), "{line}");
    assert!(line.contains("invalidValue"), "{line}");
    click(c, &format!("{refused} summary")).await;
    let body = text(c, &format!("{refused} pre.body")).await;
    assert!(body.contains("\"displayName\": \"…\""), "{body}");
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("Mallory Secret"),
        "a personal value is shown"
    );

    // A dead delivery, replayed from the console, is delivered.
    let (_ep, receiver) = crate::webhooks::endpoint(&app, Mode::Fail(500), json!({})).await;
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Kim K"}]});
    let res = app.patch(&org, &format!("/Users/{kim}"), &rename).await;
    assert!(res.status().is_success());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        c.refresh().await.unwrap();
        // The page's content arrives as a fragment after the load: look once it is there
        // (looking at once, on a slow machine, never saw it).
        wait_text(c, "#org-name", "Acme").await;
        if c.find(Locator::Css("#dead tr[data-id]")).await.is_ok() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no delivery died");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed = receiver.received().len();
    assert!(failed > 0);
    receiver.set_mode(Mode::Accept);
    let before = c
        .find_all(Locator::Css("#dead tr[data-id]"))
        .await
        .unwrap()
        .len();
    click(c, "#dead tr[data-id] button").await;
    receiver.wait_for_events(1, WAIT).await;
    let audit = app.audit_actions(&org).await;
    assert!(
        audit.iter().any(|a| a == "event.replay"),
        "the replay is audited as the operator's: {audit:?}"
    );
    c.refresh().await.unwrap();
    wait_text(c, "#org-name", "Acme").await;
    let after = c
        .find_all(Locator::Css("#dead tr[data-id]"))
        .await
        .unwrap()
        .len();
    assert_eq!(after, before - 1, "the replayed delivery is no longer dead");

    // A held deprovisioning, approved from the console, applies.
    assert_eq!(app.deactivate(&org, &kim).await.status().as_u16(), 200);
    assert_eq!(
        app.deactivate(&org, &lee).await.status().as_u16(),
        429,
        "held by the guard"
    );
    c.refresh().await.unwrap();
    wait_text(c, "#held", "lee@example.com").await;
    // The IdP got a 429 among many successes: the connection is the operator's to look
    // at, not healthy.
    wait_text(c, "#connection-state", "held").await;
    if std::env::var_os("OFFBOARD_WRITE_SCREENSHOT").is_some() {
        let png = c.screenshot().await.unwrap();
        std::fs::write(
            format!("{}/docs/console.png", env!("CARGO_MANIFEST_DIR")),
            png,
        )
        .unwrap();
    }
    click(c, "#held button.primary").await;
    wait_text(c, "#held-empty", "Nothing is held").await;
    wait_text(c, "#connection-state", "healthy").await;
    let user = app.get_json(&org, &format!("/Users/{lee}")).await;
    assert_eq!(
        user["active"], false,
        "the approval applied the deactivation"
    );

    // "All" members means all: a removed member is listed, marked removed.
    assert_eq!(
        app.delete(&org, &format!("/Users/{kim}")).await.status(),
        204
    );
    c.refresh().await.unwrap();
    wait_text(c, "#org-name", "Acme").await;
    let removed = text(c, "#members tr.removed").await;
    assert!(removed.contains("removed"), "{removed}");
    let rows = c
        .find_all(Locator::Css("#members tbody tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(
        rows, 2,
        "All lists the removed member beside the inactive one"
    );

    // Signing out forgets the token: the console asks for one again.
    click(c, "#sign-out").await;
    wait_text(c, "#sign-in", "Sign in").await;
    let stored: Value = c
        .execute(
            "return sessionStorage.getItem('offboard.admin_token');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stored, Value::Null);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_nothing_without_a_valid_token_and_deletes_only_once_confirmed() {
    let Some(browser) = browser().await else {
        return;
    };
    let c = &browser.client;
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let org = app.create_org("Acme").await;
    // What an organization is called is shown as text, never run as markup.
    app.create_org("<b>Bold</b> <img src=x onerror=alert(1)>")
        .await;
    let kim = app.create_user(&org, &user_body("kim@example.com")).await;
    let account = app.account_of(&org, &kim).await;

    // A token that is not the operator's is refused, and the console asks again.
    c.goto(&format!("{}/console#token=not-a-token", app.address))
        .await
        .unwrap();
    wait_text(c, "#sign-in-error", "refused").await;
    let main = c.find(Locator::Css("#main")).await.unwrap();
    assert_eq!(main.text().await.unwrap(), "", "nothing is shown");

    // Pasting the token signs in.
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&app.admin_token)
        .await
        .unwrap();
    click(c, "#sign-in-form button").await;
    wait_text(c, "#organizations", "Acme").await;
    wait_text(
        c,
        "#organizations",
        "<b>Bold</b> <img src=x onerror=alert(1)>",
    )
    .await;
    assert!(c.find(Locator::Css("#organizations b")).await.is_err());

    // Deleting an account asks first; only the confirmation deletes it.
    c.goto(&format!("{}/console/users/{account}", app.address))
        .await
        .unwrap();
    wait_text(c, "#account-state", "live").await;
    click(c, "button.danger").await;
    wait_text(c, "#confirm", "Delete").await;
    let still = expect_json(
        app.admin_send(Method::GET, &format!("/users/{account}"), None)
            .await,
        200,
    )
    .await;
    assert!(still["deleted_at"].is_null(), "asking deletes nothing");
    click(c, "#confirm button.danger").await;
    wait_text(c, "#account-state", "erased").await;
    let gone = app.get(&org, &format!("/Users/{kim}")).await;
    assert_eq!(gone.status(), 404);

    // An action the console does not have is not found, and changes nothing.
    let res = app
        .client
        .post(format!(
            "{}/console/f/organizations/{}/held/hld_x/explode",
            app.address, org.id
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // What the console is served with: no script but its own, no other origin.
    let res = app
        .client
        .get(format!("{}/console", app.address))
        .send()
        .await
        .unwrap();
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(res.headers().get("set-cookie").is_none());
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains("http://") && !html.contains("https://"));
    browser.close().await;
}
