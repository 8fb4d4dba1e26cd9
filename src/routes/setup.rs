//! `/setup/{secret}`: the page an organization's IT admin opens from a setup link to
//! connect their IdP alone. Server-rendered like the console (askama, no third-party
//! request, the console's Content-Security-Policy), and never cached or sent on as a
//! referrer, since its address is the secret. A link that does not open (unknown, expired,
//! revoked, or its organization deleted) gets one plain page that says which of these it
//! is to nobody.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde::Deserialize;

use crate::configuration::Settings;
use crate::domain::connection::{ConnectionState, client_of};
use crate::domain::setup::Idp;
use crate::domain::token::Lifetime;
use crate::routes::console::{asset, page_headers};
use crate::service::setup_links::{self, Opened};
use crate::state::AppState;

pub const BASE_PATH: &str = "/setup";

const SCRIPT: &[u8] = include_bytes!("setup_static/setup.js");
const STYLE: &[u8] = include_bytes!("setup_static/setup.css");

/// The link's address: `OFFBOARD_PUBLIC_URL` (else the served address) and the secret.
pub fn url(settings: &Settings, secret: &str) -> String {
    format!("{}{BASE_PATH}/{secret}", settings.public_base())
}

/// Each IdP's steps: the files under `docs/setup/`, which the README links, so the page
/// and the documentation are one text.
fn guide_source(idp: Idp) -> &'static str {
    match idp {
        Idp::Okta => include_str!("../../docs/setup/okta.md"),
        Idp::Entra => include_str!("../../docs/setup/entra.md"),
        Idp::JumpCloud => include_str!("../../docs/setup/jumpcloud.md"),
        Idp::OneLogin => include_str!("../../docs/setup/onelogin.md"),
        Idp::Google => include_str!("../../docs/setup/google.md"),
        Idp::Other => include_str!("../../docs/setup/other.md"),
    }
}

/// A guide as HTML: the page has its own title, so the file's is left out, and links
/// into the repository are kept as their text (they do not resolve on the page). The
/// files are ours; raw HTML in them is escaped all the same.
fn guide_html(idp: Idp) -> String {
    let mut in_title = false;
    let events = Parser::new(guide_source(idp)).filter_map(|e| match e {
        Event::Start(Tag::Heading {
            level: pulldown_cmark::HeadingLevel::H1,
            ..
        }) => {
            in_title = true;
            None
        }
        Event::End(TagEnd::Heading(pulldown_cmark::HeadingLevel::H1)) => {
            in_title = false;
            None
        }
        _ if in_title => None,
        Event::Start(Tag::Link { .. }) | Event::End(TagEnd::Link) => None,
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        other => Some(other),
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

struct Choice {
    name: &'static str,
    label: &'static str,
    chosen: bool,
}

/// One step of the checklist, done once offboard has seen it happen.
struct Step {
    label: &'static str,
    done: bool,
}

/// How many of the organization's newest events the checklist reads (however long its
/// history, the page costs the same).
const CHECKLIST_EVENTS: u64 = 5_000;

/// What the page says of the connection so far: the state, the last request, and the
/// checklist of what the IdP has done since the link was made. Reloaded every few
/// seconds by `setup.js` from `/setup/{secret}/live`.
/// A request offboard received (method, route pattern, answer, time).
struct ReceivedRow {
    at: String,
    request: String,
    status: i32,
}

/// A request offboard refused, with what to change in the IdP.
struct RefusedRow {
    at: String,
    request: String,
    status: i32,
    error: String,
    advice: String,
}

/// How many received, and how many refused, requests the page lists.
const REQUESTS_SHOWN: u64 = 5;

#[derive(Template)]
#[template(path = "setup/live.html")]
struct Live {
    /// The IdP as its requests announce it (its User-Agent), else the one picked.
    idp_label: &'static str,
    connected: bool,
    last: String,
    totals: String,
    steps: Vec<Step>,
    /// The newest requests since the link was made, as the request inspector has them.
    received: Vec<ReceivedRow>,
    refused: Vec<RefusedRow>,
    /// The organization's tokens that expire within 14 days or have expired.
    expiry_warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "setup/page.html")]
struct Page {
    /// The link's own secret, for the form's address (the page's address holds it too).
    secret: String,
    organization: String,
    expires_at: String,
    choices: Vec<Choice>,
    idp_label: &'static str,
    idp_name: &'static str,
    guide: String,
    base_url: String,
    /// The token, on the one answer that made it.
    token: Option<String>,
    /// The id of the token this link made before (never the token).
    token_made: Option<String>,
    /// The rendered [`Live`] fragment.
    live: String,
    /// What this organization does with a deactivated person (its retention setting).
    retention: String,
}

#[derive(Template)]
#[template(path = "setup/gone.html")]
struct Gone;

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn gone() -> HttpResponse {
    match Gone.render() {
        Ok(body) => html(StatusCode::NOT_FOUND, body),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

fn failed(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "setup page failed");
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body("The page could not be shown; try again in a moment.")
}

fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Deserialize)]
struct PageQuery {
    idp: Option<String>,
}

/// The IdP the page guides through: the one asked for, else the operator's choice, else
/// Okta (a choice the admin changes with one click).
fn chosen(asked: Option<&str>, link_idp: Option<&str>) -> Idp {
    asked
        .or(link_idp)
        .and_then(|n| Idp::parse(n).ok())
        .unwrap_or(Idp::Okta)
}

/// The connection and the checklist, as the page shows them now.
async fn live(state: &AppState, opened: &Opened, idp: Idp) -> Result<String, String> {
    let org = &opened.organization.id;
    let c = crate::service::connections::connection(
        &state.db,
        &state.connections,
        org,
        state.settings.connection_quiet_after,
        Utc::now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let last = c
        .tokens
        .iter()
        .filter_map(|t| t.last.as_ref())
        .max_by_key(|l| l.at);
    let seen = crate::store::outbox::recent_types(
        &state.db,
        org,
        opened.link.created_at,
        CHECKLIST_EVENTS,
    )
    .await
    .map_err(|e| e.to_string())?;
    let any = |types: &[&str]| types.iter().any(|t| seen.contains(*t));
    let read_since_link = last.is_some_and(|l| l.at >= opened.link.created_at);
    let steps = vec![
        Step {
            label: "The connection test, or a first read",
            done: read_since_link,
        },
        Step {
            label: "A first user created",
            done: any(&["membership.created"]),
        },
        Step {
            label: "A profile update",
            done: any(&["membership.updated"]),
        },
        Step {
            label: "A deactivation (or a removal)",
            done: any(&["membership.deactivated", "membership.deleted"]),
        },
        Step {
            label: "A group pushed",
            done: any(&["group.created", "group.member_added"]),
        },
    ];
    let (recent, refused) = crate::service::inspector::recent_and_refused(
        &state.db,
        &state.inspector,
        org,
        opened.link.created_at,
        REQUESTS_SHOWN,
    )
    .await
    .map_err(|e| e.to_string())?;
    let received = recent
        .into_iter()
        .map(|r| ReceivedRow {
            at: format_time(r.at),
            request: format!("{} {}", r.method, r.route),
            status: r.status,
        })
        .collect();
    let refused = refused
        .into_iter()
        .map(|r| RefusedRow {
            at: format_time(r.at),
            request: format!("{} {}", r.method, r.route),
            status: r.status,
            error: match (&r.scim_type, &r.error_detail) {
                (Some(t), Some(d)) => format!("{t}: {d}"),
                (None, Some(d)) => d.clone(),
                _ => String::new(),
            },
            advice: crate::domain::setup::advice(
                idp,
                u16::try_from(r.status).unwrap_or(0),
                r.scim_type.as_deref(),
                r.error_detail.as_deref().unwrap_or(""),
            ),
        })
        .collect();
    let now = Utc::now();
    let expiry_warnings = c
        .tokens
        .iter()
        .filter(|t| t.token.replaced_by.is_none())
        .filter_map(|t| {
            let at = t.token.expires_at?;
            let name = t.token.name.as_deref().unwrap_or("The SCIM token");
            match Lifetime::of(Some(at), now) {
                Lifetime::Live => None,
                Lifetime::ExpiresSoon => Some(format!(
                    "{name} expires at {}: ask the application's operator for a new one before then.",
                    format_time(at)
                )),
                Lifetime::Expired => Some(format!(
                    "{name} expired at {}: requests with it are refused. Ask the application's operator for a new one.",
                    format_time(at)
                )),
            }
        })
        .collect();
    let mut day = crate::domain::connection::Counts::default();
    for t in &c.tokens {
        day.add(t.last_24h);
    }
    // The IdP as it announces itself, when it does; else the one the admin picked.
    let announced = last
        .and_then(|l| Idp::parse(client_of(l.user_agent.as_deref())).ok())
        .filter(|i| *i != Idp::Other);
    Live {
        idp_label: announced.unwrap_or(idp).label(),
        connected: c.state != ConnectionState::NeverConnected,
        totals: format!(
            "{} requests in the last 24 hours: {} answered, {} refused",
            day.succeeded + day.errors(),
            day.succeeded,
            day.errors()
        ),
        received,
        refused,
        expiry_warnings,
        last: last
            .map(|l| {
                format!(
                    "{} {} answered {} at {}",
                    l.method,
                    l.route,
                    l.status,
                    format_time(l.at)
                )
            })
            .unwrap_or_default(),
        steps,
    }
    .render()
    .map_err(|e| e.to_string())
}

/// `30 days`, `12 hours`, `90 minutes`: a retention as a person reads it.
fn spoken_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s > 0 && s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s > 0 && s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s if s > 0 && s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s.max(0), "second"),
    }
}

async fn render(
    state: &AppState,
    secret: &str,
    opened: &Opened,
    idp: Idp,
    token: Option<String>,
) -> HttpResponse {
    let live = match live(state, opened, idp).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let page = Page {
        secret: secret.to_string(),
        organization: opened.organization.name.clone(),
        expires_at: format_time(opened.link.expires_at),
        choices: Idp::ALL
            .iter()
            .map(|i| Choice {
                name: i.name(),
                label: i.label(),
                chosen: *i == idp,
            })
            .collect(),
        idp_label: idp.label(),
        idp_name: idp.name(),
        guide: guide_html(idp),
        base_url: format!("{}/scim/v2", state.settings.public_base()),
        token_made: if token.is_none() {
            opened.link.token_id.clone()
        } else {
            None
        },
        token,
        live,
        retention: match opened.organization.deactivated_retention_secs {
            Some(secs) => format!(
                "In {}, a person who stays deactivated for {} is then removed (their personal data erased when it was their last organization).",
                opened.organization.name,
                spoken_duration(secs)
            ),
            None => format!(
                "In {}, a deactivated person stays deactivated (no access) until your IdP deletes them or the application's operator removes them.",
                opened.organization.name
            ),
        },
    };
    match page.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(e),
    }
}

async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    secret: web::Path<String>,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    let client = super::client_address(&req);
    match setup_links::open(&state.db, &secret, client).await {
        Ok(Some(opened)) => {
            let idp = chosen(q.idp.as_deref(), opened.link.idp.as_deref());
            render(&state, &secret, &opened, idp, None).await
        }
        Ok(None) => gone(),
        Err(e) => failed(e),
    }
}

/// The live part of the page alone (polled; not counted as an opening).
async fn live_fragment(
    state: web::Data<AppState>,
    secret: web::Path<String>,
    q: web::Query<PageQuery>,
) -> HttpResponse {
    let opened = match setup_links::usable(&state.db, &secret, Utc::now()).await {
        Ok(Some(o)) => o,
        Ok(None) => return gone(),
        Err(e) => return failed(e),
    };
    let idp = chosen(q.idp.as_deref(), opened.link.idp.as_deref());
    match live(&state, &opened, idp).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    idp: String,
}

async fn make_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    secret: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let idp = chosen(Some(&form.idp), None);
    let client = super::client_address(&req);
    match setup_links::create_token(&state.db, &secret, idp, client).await {
        Ok(Some((opened, token))) => render(&state, &secret, &opened, idp, token).await,
        Ok(None) => gone(),
        Err(e) => failed(e),
    }
}

async fn script() -> HttpResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> HttpResponse {
    asset(STYLE, "text/css; charset=utf-8")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .wrap(
                page_headers()
                    // The address is the secret: never kept by a cache or a search engine.
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add((
                        header::HeaderName::from_static("x-robots-tag"),
                        "noindex, nofollow",
                    )),
            )
            .route("/static/setup.js", web::get().to(script))
            .route("/static/setup.css", web::get().to(style))
            .route("/{secret}", web::get().to(page))
            .route("/{secret}/token", web::post().to(make_token))
            .route("/{secret}/live", web::get().to(live_fragment)),
    );
}
