//! The console's fragments and actions: each authenticates the operator's admin token,
//! reads or changes through the same use cases as the admin API, and renders a template.

use std::collections::HashMap;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::{ConsoleError, html};
use crate::domain::connection::client_of;
use crate::routes::admin::AdminApiError;
use crate::routes::extract::authenticate_operator;
use crate::scim::user::format_time;
use crate::service::{self, admin, connections, deletion, guard, webhooks};
use crate::state::AppState;
use crate::store::memberships::MemberFilter;
use crate::store::requests::StatusFilter;

/// Rows a console table shows.
const ROWS: u64 = 50;

/// The operator behind a fragment request (the admin token htmx sends).
struct Operator(crate::routes::extract::Operator);

impl FromRequest for Operator {
    type Error = ConsoleError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            authenticate_operator(req)
                .map(Operator)
                .map_err(ConsoleError::from),
        )
    }
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map(format_time).unwrap_or_else(|| "never".into())
}

// ---- organizations -------------------------------------------------------------------

struct OrgRow {
    id: String,
    name: String,
    state: &'static str,
    last_contact: String,
}

#[derive(Template)]
#[template(path = "console/organizations.html")]
struct Organizations {
    orgs: Vec<OrgRow>,
    q: String,
    next_after: Option<String>,
}

#[derive(Deserialize)]
struct OrganizationsQuery {
    q: Option<String>,
    after: Option<String>,
}

async fn organizations(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q: OrganizationsQuery = crate::routes::admin::paging::query(&req)?;
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let rows = admin::organizations(&state.db, search, q.after.as_deref(), ROWS).await?;
    let next_after = (rows.len() as u64 == ROWS)
        .then(|| rows.last().map(|o| o.id.to_string()))
        .flatten();
    let mut orgs = Vec::with_capacity(rows.len());
    for o in rows {
        let c = connections::connection(
            &state.db,
            &state.connections,
            &o.id,
            state.settings.connection_quiet_after,
            Utc::now(),
        )
        .await?;
        orgs.push(OrgRow {
            id: o.id.to_string(),
            name: o.name,
            state: c.state.as_str(),
            last_contact: time(c.last_used_at),
        });
    }
    let page = Organizations {
        orgs,
        q: search.unwrap_or_default().to_string(),
        next_after,
    };
    Ok(html(page.render()?))
}

// ---- one organization ----------------------------------------------------------------

struct TokenRow {
    id: String,
    created_at: String,
    /// `never`, the instant, or the instant with a warning.
    expiry: String,
    /// Expired or expiring within 14 days, and no rotation replaced it.
    expiry_warned: bool,
    last_request: String,
    client: &'static str,
    counts: String,
}

/// The refusals among the client errors, when there were any.
fn refused_note(c: crate::domain::connection::Counts) -> Option<String> {
    let mut parts = Vec::new();
    if c.refused_expired > 0 {
        parts.push(format!("{} refused: expired", c.refused_expired));
    }
    if c.refused_network > 0 {
        parts.push(format!("{} refused: network", c.refused_network));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A token's expiry as the console shows it, and whether it is warned.
fn expiry_cell(
    t: &entity::scim_tokens::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> (String, bool) {
    use crate::domain::token::Lifetime;
    let Some(at) = t.expires_at else {
        return ("never".into(), false);
    };
    let replaced = t.replaced_by.as_ref().map(|r| format!(" (rotated to {r})"));
    let shown = format_time(at);
    match Lifetime::of(Some(at), now) {
        Lifetime::Expired => (
            format!("expired {shown}{}", replaced.clone().unwrap_or_default()),
            replaced.is_none(),
        ),
        Lifetime::ExpiresSoon => (
            format!(
                "{shown}: in {} days{}",
                (at - now).num_days(),
                replaced.clone().unwrap_or_else(|| ", rotate it".into())
            ),
            replaced.is_none(),
        ),
        Lifetime::Live => (shown, false),
    }
}

struct HeldRow {
    id: String,
    member: String,
    action: &'static str,
    since: String,
}

struct MemberRow {
    user_id: String,
    user_name: String,
    status: &'static str,
    /// Its roles in the application, comma-separated.
    roles: String,
    external_id: String,
    updated_at: String,
}

struct RequestRow {
    at: String,
    method: String,
    path: String,
    query: String,
    status: i32,
    latency_ms: i64,
    request_id: String,
    error: String,
    body: String,
    full_body: String,
}

struct EventRow {
    id: String,
    sequence: i64,
    event_type: String,
    user_id: String,
    at: String,
}

struct EndpointRow {
    id: String,
    url: String,
    scope: &'static str,
    state: &'static str,
    pending: i64,
    succeeded: i64,
    dead: i64,
}

struct DeadRow {
    id: String,
    event_id: String,
    event_type: String,
    endpoint_id: String,
    attempts: i32,
    last_answer: String,
    died: String,
}

#[derive(Template)]
#[template(path = "console/organization.html")]
struct Organization {
    org: entity::organizations::Model,
    /// Where this organization's fragments and actions are.
    base: String,
    state: &'static str,
    last_contact: String,
    tokens: Vec<TokenRow>,
    guard_tripped: Option<String>,
    held: Vec<HeldRow>,
    member_filters: Vec<(&'static str, &'static str)>,
    members: Vec<MemberRow>,
    request_filters: Vec<(&'static str, &'static str)>,
    full_bodies_until: Option<String>,
    requests: Vec<RequestRow>,
    events: Vec<EventRow>,
    endpoints: Vec<EndpointRow>,
    dead: Vec<DeadRow>,
}

#[derive(Deserialize)]
struct OrganizationQuery {
    /// `ACTIVE`, `INACTIVE`, `removed`, or absent for every live member.
    members: Option<String>,
    /// A status class or status, as the admin API's inspector takes it.
    requests: Option<String>,
}

async fn organization(
    req: HttpRequest,
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let q: OrganizationQuery = crate::routes::admin::paging::query(&req)?;
    render_organization(&state, &id, q).await
}

async fn render_organization(
    state: &AppState,
    id: &str,
    q: OrganizationQuery,
) -> Result<HttpResponse, ConsoleError> {
    let id = &crate::routes::admin::organization_id(id)?;
    let db = &state.db;
    let now = Utc::now();
    let org = admin::organization(db, id).await?;
    let c = connections::connection(
        db,
        &state.connections,
        id,
        state.settings.connection_quiet_after,
        now,
    )
    .await?;
    let tokens = c
        .tokens
        .iter()
        .map(|t| (t, expiry_cell(&t.token, now)))
        .map(|(t, (expiry, expiry_warned))| TokenRow {
            id: t.token.id.clone(),
            created_at: format_time(t.token.created_at),
            expiry,
            expiry_warned,
            last_request: t.last.as_ref().map_or_else(
                || "never".into(),
                |l| {
                    format!(
                        "{} {} → {} at {}",
                        l.method,
                        l.route,
                        l.status,
                        format_time(l.at)
                    )
                },
            ),
            client: client_of(t.last.as_ref().and_then(|l| l.user_agent.as_deref())),
            counts: refused_note(t.last_24h).map_or_else(
                || {
                    format!(
                        "{} / {} / {}",
                        t.last_24h.succeeded, t.last_24h.client_errors, t.last_24h.server_errors
                    )
                },
                |refused| {
                    format!(
                        "{} / {} / {} ({refused})",
                        t.last_24h.succeeded, t.last_24h.client_errors, t.last_24h.server_errors
                    )
                },
            ),
        })
        .collect();

    let (_, tripped_at) = guard::status(db, id).await?;
    let held = guard::held(db, id, None, ROWS)
        .await?
        .into_iter()
        .map(|(h, m)| HeldRow {
            id: h.id,
            member: m.map_or_else(
                || "(no longer a member)".into(),
                |m| m.user_name.unwrap_or(m.scim_id),
            ),
            action: h.action.as_str(),
            since: format_time(h.requested_at),
        })
        .collect();

    // "All" is all: removed members too, marked as such.
    let filter = match q.members.as_deref().filter(|s| !s.is_empty()) {
        None => MemberFilter::All,
        Some(s) => MemberFilter::parse(s).ok_or_else(|| {
            AdminApiError::validation(&format!("members must be {}", MemberFilter::EXPECTED))
        })?,
    };
    let members = admin::members(db, id, Some(filter), None, None, ROWS)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            status: crate::store::memberships::shown_status(&m),
            roles: crate::domain::roles::stored_roles(m.granted_roles.as_ref()).join(", "),
            user_id: m.user_id.into(),
            user_name: m.user_name.unwrap_or_default(),
            external_id: m.external_id.unwrap_or_default(),
            updated_at: format_time(m.updated_at),
        })
        .collect();

    let status = match q.requests.as_deref() {
        None | Some("") => None,
        Some(s) => Some(StatusFilter::parse(s).ok_or_else(|| {
            AdminApiError::validation("requests must be a status class (4xx) or a status")
        })?),
    };
    let requests = service::inspector::requests(db, &state.inspector, id, status, None, ROWS, now)
        .await?
        .into_iter()
        .map(|r| RequestRow {
            at: format_time(r.at),
            method: r.method,
            path: r.path,
            query: r.query.unwrap_or_default(),
            status: r.status,
            latency_ms: r.latency_ms,
            request_id: r.request_id.unwrap_or_default(),
            error: match (r.scim_type, r.error_detail) {
                (Some(t), Some(d)) => format!("{t}: {d}"),
                (None, Some(d)) => d,
                _ => String::new(),
            },
            body: r.body.as_deref().map(pretty).unwrap_or_default(),
            full_body: r.full_body.as_deref().map(pretty).unwrap_or_default(),
        })
        .collect();

    let events = crate::store::outbox::newest_for_organization(db, id, 20)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|e| EventRow {
            id: e.id,
            sequence: e.sequence,
            event_type: e.event_type,
            user_id: e.user_id.map(String::from).unwrap_or_default(),
            at: format_time(e.created_at),
        })
        .collect();

    let (eps, dead) = webhooks::organization_deliveries(db, id, 20).await?;
    let endpoints = eps
        .into_iter()
        .map(|e| {
            let n = |s: &str| e.counts.get(s).copied().unwrap_or(0);
            EndpointRow {
                pending: n(crate::store::deliveries::DeliveryStatus::Pending.as_str()),
                succeeded: n(crate::store::deliveries::DeliveryStatus::Succeeded.as_str()),
                dead: n(crate::store::deliveries::DeliveryStatus::Dead.as_str()),
                scope: if e.endpoint.organization_id.is_some() {
                    "this organization"
                } else {
                    "every organization"
                },
                state: if e.endpoint.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                id: e.endpoint.id,
                url: e.endpoint.url,
            }
        })
        .collect();
    let mut event_types: HashMap<String, String> = HashMap::new();
    for d in &dead {
        if !event_types.contains_key(&d.event_id)
            && let Some(e) = crate::store::deliveries::find_event(db, &d.event_id)
                .await
                .map_err(service::Error::from)?
        {
            event_types.insert(e.id, e.event_type);
        }
    }
    let dead = dead
        .into_iter()
        .map(|d| DeadRow {
            event_type: event_types.get(&d.event_id).cloned().unwrap_or_default(),
            last_answer: match (d.last_status_code, d.last_error) {
                (Some(code), _) => format!("HTTP {code}"),
                (None, Some(e)) => e,
                _ => String::new(),
            },
            died: time(d.completed_at),
            id: d.id,
            event_id: d.event_id,
            endpoint_id: d.endpoint_id,
            attempts: d.attempts,
        })
        .collect();

    let page = Organization {
        base: format!("/console/f/organizations/{}", org.id),
        state: c.state.as_str(),
        last_contact: time(c.last_used_at),
        full_bodies_until: org.inspect_full_bodies_until.map(format_time),
        org,
        tokens,
        guard_tripped: tripped_at.map(format_time),
        held,
        member_filters: vec![
            ("All", "all"),
            ("Active", "ACTIVE"),
            ("Inactive", "INACTIVE"),
            ("Removed", "removed"),
        ],
        members,
        request_filters: vec![
            ("All", ""),
            ("Refused (4xx)", "4xx"),
            ("Failed (5xx)", "5xx"),
        ],
        requests,
        events,
        endpoints,
        dead,
    };
    Ok(html(page.render()?))
}

/// Stored JSON text, indented for reading (as it is when it is not JSON).
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

fn no_filters() -> OrganizationQuery {
    OrganizationQuery {
        members: None,
        requests: None,
    }
}

/// Approves or rejects one held deprovisioning, as the admin API's guard endpoints do.
async fn resolve_held(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (org, held, decision) = path.into_inner();
    let selection = guard::Selection::Ids(vec![held]);
    match decision.as_str() {
        "approve" => {
            let grace = state.settings.deletion_grace;
            guard::approve(
                &state.db,
                &op.0.actor,
                &crate::routes::admin::organization_id(&org)?,
                selection,
                grace,
            )
            .await?
        }
        "reject" => {
            guard::reject(
                &state.db,
                &op.0.actor,
                &crate::routes::admin::organization_id(&org)?,
                selection,
            )
            .await?
        }
        _ => return Err(AdminApiError::not_found("page").into()),
    };
    render_organization(&state, &org, no_filters()).await
}

async fn replay_delivery(
    op: Operator,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (org, delivery) = path.into_inner();
    webhooks::replay_delivery(
        &state.db,
        &op.0.actor,
        &crate::routes::admin::organization_id(&org)?,
        &delivery,
    )
    .await?;
    state.wake.notify_one();
    render_organization(&state, &org, no_filters()).await
}

// ---- one account ---------------------------------------------------------------------

struct Account {
    id: String,
    state: &'static str,
    email: String,
    display_name: String,
    created_at: String,
    deleted_at: String,
    purge_after: String,
    deletable: bool,
    restorable: bool,
}

struct MembershipRow {
    organization_id: String,
    user_name: String,
    status: &'static str,
    scim_id: String,
    removed_at: String,
}

/// The step an operator confirms before a deletion or a restore.
struct Confirm {
    action: &'static str,
    question: String,
    consequence: String,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct User {
    user: Account,
    memberships: Vec<MembershipRow>,
    confirm: Option<Confirm>,
}

async fn user(
    _op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    render_user(&state, &id, None).await
}

async fn render_user(
    state: &AppState,
    id: &str,
    confirm: Option<Confirm>,
) -> Result<HttpResponse, ConsoleError> {
    let view = admin::user_view(&state.db, &crate::routes::admin::user_id(id)?).await?;
    let a = &view.account;
    let now = Utc::now();
    let restorable = a.deleted_at.is_some() && a.purge_after.is_some_and(|p| p > now);
    let user = Account {
        id: a.id.to_string(),
        state: match (a.deleted_at, restorable) {
            (None, _) => "live",
            (Some(_), true) => "deleted (restorable)",
            (Some(_), false) => "erased",
        },
        email: a.email.clone().unwrap_or_default(),
        display_name: a.display_name.clone().unwrap_or_default(),
        created_at: format_time(a.created_at),
        deleted_at: a.deleted_at.map(format_time).unwrap_or_default(),
        purge_after: a.purge_after.map(format_time).unwrap_or_default(),
        deletable: a.deleted_at.is_none(),
        restorable,
    };
    let memberships = view
        .memberships
        .iter()
        .map(|m| MembershipRow {
            organization_id: m.organization_id.to_string(),
            user_name: m.user_name.clone().unwrap_or_default(),
            status: crate::store::memberships::shown_status(m),
            scim_id: m.scim_id.clone(),
            removed_at: m.removed_at.map(format_time).unwrap_or_default(),
        })
        .collect();
    let page = User {
        user,
        memberships,
        confirm,
    };
    Ok(html(page.render()?))
}

#[derive(Deserialize)]
struct Confirmed {
    #[serde(default)]
    confirm: bool,
}

/// Without `confirm=true` this shows what the deletion will do and asks; with it, the
/// account is deleted everywhere as `DELETE /admin/v1/users/{id}` does.
async fn delete_user(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let q: Confirmed = crate::routes::admin::paging::query(&req)?;
    if !q.confirm {
        let view = admin::user_view(&state.db, &crate::routes::admin::user_id(&id)?).await?;
        let live = view
            .memberships
            .iter()
            .filter(|m| m.removed_at.is_none())
            .count();
        let grace = state.settings.deletion_grace;
        let consequence = if grace.is_zero() {
            format!(
                "Its {live} membership(s) are removed, every session ends, and its personal data is erased now. This cannot be undone."
            )
        } else {
            format!(
                "Its {live} membership(s) are removed and every session ends; it can be restored for {} before its personal data is erased.",
                crate::domain::text::human_duration(grace)
            )
        };
        let confirm = Confirm {
            action: "delete",
            question: format!("Delete {} in every organization?", id.as_str()),
            consequence,
            button: "Delete everywhere",
        };
        return render_user(&state, &id, Some(confirm)).await;
    }
    let grace = state.settings.deletion_grace;
    deletion::delete_user(
        &state.db,
        &op.0.actor,
        &crate::routes::admin::user_id(&id)?,
        None,
        grace,
    )
    .await?;
    state.wake.notify_one();
    render_user(&state, &id, None).await
}

async fn restore_user(
    req: HttpRequest,
    op: Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let q: Confirmed = crate::routes::admin::paging::query(&req)?;
    if !q.confirm {
        let confirm = Confirm {
            action: "restore",
            question: format!("Restore {}?", id.as_str()),
            consequence: "The account takes its identity back; the memberships its deletion removed come back INACTIVE until each IdP reactivates them.".into(),
            button: "Restore",
        };
        return render_user(&state, &id, Some(confirm)).await;
    }
    deletion::restore_user(&state.db, &op.0.actor, &crate::routes::admin::user_id(&id)?).await?;
    state.wake.notify_one();
    render_user(&state, &id, None).await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/f/organizations", web::get().to(organizations))
        .route("/f/organizations/{id}", web::get().to(organization))
        .route(
            "/f/organizations/{id}/held/{held}/{decision}",
            web::post().to(resolve_held),
        )
        .route(
            "/f/organizations/{id}/deliveries/{delivery}/replay",
            web::post().to(replay_delivery),
        )
        .route("/f/users/{id}", web::get().to(user))
        .route("/f/users/{id}/delete", web::post().to(delete_user))
        .route("/f/users/{id}/restore", web::post().to(restore_user));
}
