//! Webhook endpoints and the operator's view of deliveries: add, list, delete, rotate a
//! secret, replay an event, recover an endpoint.

use chrono::{DateTime, Utc};
use entity::{deliveries as delivery_model, webhook_endpoints as endpoints};
use ids::OrganizationId;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::work::{Audit, Work};
use super::{Error, Result};
use crate::domain::events::EventType;
use crate::scim::user::format_time;
use crate::store::audit::{self, Actor};
use crate::store::deliveries;
use crate::store::endpoints::{self as store, NewEndpoint};
use crate::store::organizations as orgs;
use crate::webhook::{signer, ssrf};

/// How long a rotated-out secret keeps signing, so receivers can switch without a gap.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

pub struct EndpointInput {
    pub url: String,
    pub event_types: Vec<String>,
    pub organization_id: Option<OrganizationId>,
    /// Deliveries in flight at once; `None`: the server's default.
    pub max_in_flight: Option<i32>,
}

/// The most deliveries one endpoint may be allowed in flight.
pub const MAX_IN_FLIGHT: i32 = 64;

fn check_max_in_flight(v: Option<i32>) -> Result<()> {
    match v {
        Some(n) if !(1..=MAX_IN_FLIGHT).contains(&n) => Err(Error::invalid(format!(
            "max_in_flight must be between 1 and {MAX_IN_FLIGHT}"
        ))),
        _ => Ok(()),
    }
}

/// Adds an endpoint; returns it and its secret (shown once).
pub async fn add_endpoint(
    db: &DatabaseConnection,
    actor: &Actor,
    input: EndpointInput,
    allow_private: bool,
) -> Result<(endpoints::Model, String)> {
    let url = match ssrf::parse(&input.url) {
        Ok(u) => u,
        Err(e) => return Err(Error::invalid(format!("url: {e}"))),
    };
    if let Err(e) = ssrf::check(&url, allow_private).await {
        return Err(Error::invalid(format!(
            "url: {e} (set OFFBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
        )));
    }
    check_max_in_flight(input.max_in_flight)?;
    if let Some(bad) = input
        .event_types
        .iter()
        .find(|t| EventType::from_name(t).is_none())
    {
        let shown = crate::service::shown_id(bad);
        return Err(Error::invalid(format!("unknown event type '{shown}'")));
    }
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    if let Some(org) = &input.organization_id
        && orgs::find(work.tx(), org).await?.is_none()
    {
        return Err(Error::not_found("organization", None));
    }
    let secret = signer::generate_secret();
    let mut types = input.event_types;
    types.sort();
    types.dedup();
    let ep = store::create_endpoint(
        work.tx(),
        NewEndpoint {
            url: url.to_string(),
            secret: secret.clone(),
            event_types: types,
            organization_id: input.organization_id,
            max_in_flight: input.max_in_flight,
        },
        now,
    )
    .await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_ENDPOINT_CREATE,
            "webhook_endpoint",
            &ep.id,
            json!({"event_types": ep.event_types}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok((ep, secret))
}

/// Sets how many deliveries the endpoint may have in flight (`None`: the default).
pub async fn set_max_in_flight(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    max_in_flight: Option<i32>,
) -> Result<endpoints::Model> {
    check_max_in_flight(max_in_flight)?;
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    let Some(ep) = store::find_endpoint(work.tx(), id).await? else {
        return Err(Error::not_found("webhook endpoint", None));
    };
    let ep = store::set_max_in_flight(work.tx(), &ep, max_in_flight, now).await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_ENDPOINT_UPDATE,
            "webhook_endpoint",
            &ep.id,
            json!({"max_in_flight": max_in_flight}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok(ep)
}

pub async fn delete_endpoint(db: &DatabaseConnection, actor: &Actor, id: &str) -> Result<()> {
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    let Some(ep) = store::find_endpoint(work.tx(), id).await? else {
        return Err(Error::not_found("webhook endpoint", None));
    };
    store::delete_endpoint(work.tx(), id, now).await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_ENDPOINT_DELETE,
            "webhook_endpoint",
            id,
            json!({}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok(())
}

/// Rotates the secret; the old one keeps signing (both signatures are sent) for 24 h.
pub async fn rotate_secret(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> Result<(endpoints::Model, String)> {
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    let Some(ep) = store::find_endpoint(work.tx(), id).await? else {
        return Err(Error::not_found("webhook endpoint", None));
    };
    let secret = signer::generate_secret();
    let ep =
        store::rotate_secret(work.tx(), &ep, secret.clone(), now + ROTATION_OVERLAP, now).await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_SECRET_ROTATE,
            "webhook_endpoint",
            id,
            json!({"previous_secret_expires_at": ep.previous_secret_expires_at.map(format_time)}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok((ep, secret))
}

/// Replays an event to every endpoint it went to, or one; returns how many deliveries
/// start again.
pub async fn replay_event(
    db: &DatabaseConnection,
    actor: &Actor,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> Result<u64> {
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    let Some(event) = deliveries::find_event(work.tx(), event_id).await? else {
        return Err(Error::not_found("event", None));
    };
    if let Some(ep) = endpoint_id
        && store::find_endpoint(work.tx(), ep).await?.is_none()
    {
        return Err(Error::not_found("webhook endpoint", None));
    }
    let n = deliveries::replay_event(work.tx(), event_id, endpoint_id, now).await?;
    work.audit(
        Audit::new(
            audit::actions::EVENT_REPLAY,
            "event",
            event_id,
            json!({"endpoint_id": endpoint_id, "deliveries": n}),
        )
        .in_organization(&event.organization_id),
    );
    work.commit().await?;
    Ok(n)
}

/// Re-enables an endpoint and replays what died since `since`.
pub async fn recover_endpoint(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    since: DateTime<Utc>,
) -> Result<u64> {
    let mut work = Work::begin(db, actor).await?;
    let now = work.now;
    let Some(ep) = store::find_endpoint(work.tx(), id).await? else {
        return Err(Error::not_found("webhook endpoint", None));
    };
    let n = store::recover_endpoint(work.tx(), &ep, since, now).await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_ENDPOINT_RECOVER,
            "webhook_endpoint",
            id,
            json!({"since": format_time(since), "deliveries": n}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok(n)
}

pub async fn endpoints(db: &DatabaseConnection) -> Result<Vec<endpoints::Model>> {
    Ok(store::list_endpoints(db).await?)
}

pub async fn endpoint(db: &DatabaseConnection, id: &str) -> Result<endpoints::Model> {
    store::find_endpoint(db, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook endpoint", None))
}

/// What a test send did: the event sent, its delivery, and the receiver's answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct TestSend {
    pub event_id: String,
    pub delivery_id: String,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The first bytes of the answer (at most 1 KiB).
    pub response_body: Option<String>,
    pub duration_ms: i64,
}

/// Sends a signed `webhook.test` event to the endpoint now, as every delivery is sent
/// (signature, SSRF filter, timeout), and records the attempt like any other; a
/// disabled endpoint is tested too (that is how an operator checks it before recovering
/// it). Nothing is retried.
pub async fn send_test(
    db: &DatabaseConnection,
    actor: &Actor,
    settings: &crate::configuration::WebhookSettings,
    id: &str,
) -> Result<TestSend> {
    let ep = endpoint(db, id).await?;
    let event_id = ids::new_id(ids::EVENT);
    let started_at = Utc::now();
    let payload = json!({
        "id": event_id,
        "type": "webhook.test",
        "timestamp": started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "organization_id": ep.organization_id,
        "sequence": 0,
        "data": {
            "endpoint": {"id": ep.id},
            "message": "A test event sent by an operator. Verify its signature and answer 2xx.",
            "source": "admin",
            "request_id": actor.request_id,
        },
    });
    let client = crate::webhook::dispatcher::http_client(settings)?;
    let clock = std::time::Instant::now();
    let (result, outcome) = crate::webhook::dispatcher::send_signed(
        &client, settings, &ep, &event_id, &payload, started_at,
    )
    .await;
    let result = deliveries::AttemptResult {
        duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
        ..result
    };
    let succeeded = outcome.succeeded();
    let mut work = Work::begin(db, actor).await?;
    let delivery_id =
        deliveries::record_test(work.tx(), &ep, &event_id, &result, succeeded).await?;
    work.audit(
        Audit::new(
            audit::actions::WEBHOOK_ENDPOINT_TEST,
            "webhook_endpoint",
            &ep.id,
            json!({"event_id": event_id, "delivery_id": delivery_id, "status_code": result.status_code, "succeeded": succeeded}),
        )
        .scoped_to(ep.organization_id.as_ref()),
    );
    work.commit().await?;
    Ok(TestSend {
        event_id,
        delivery_id,
        succeeded,
        status_code: result.status_code,
        error: result.error,
        response_body: result.response_body,
        duration_ms: result.duration_ms,
    })
}

/// Which deliveries the operator lists (oldest first, paged by id).
pub struct DeliveryFilter<'a> {
    pub status: Option<&'a str>,
    pub endpoint_id: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub after: Option<&'a str>,
    pub limit: u64,
}

pub async fn deliveries(
    db: &DatabaseConnection,
    f: DeliveryFilter<'_>,
) -> Result<Vec<delivery_model::Model>> {
    let status = f
        .status
        .map(|s| {
            deliveries::DeliveryStatus::parse(s).ok_or_else(|| {
                Error::invalid("status must be pending, succeeded, dead or cancelled")
            })
        })
        .transpose()?;
    Ok(
        deliveries::list_deliveries(db, status, f.endpoint_id, f.event_id, f.after, f.limit)
            .await?,
    )
}

/// An endpoint that receives an organization's events, with that organization's
/// deliveries to it counted by status.
pub struct EndpointDeliveries {
    pub endpoint: endpoints::Model,
    pub counts: std::collections::BTreeMap<String, i64>,
}

/// The organization's view of delivery: every live endpoint that receives its events
/// (its own and the global ones) with its counts, and its newest dead deliveries.
pub async fn organization_deliveries(
    db: &DatabaseConnection,
    organization_id: &OrganizationId,
    dead_limit: u64,
) -> Result<(Vec<EndpointDeliveries>, Vec<delivery_model::Model>)> {
    if orgs::find(db, organization_id).await?.is_none() {
        return Err(Error::not_found("organization", None));
    }
    let eps: Vec<endpoints::Model> = store::list_endpoints(db)
        .await?
        .into_iter()
        .filter(|e| {
            e.organization_id.is_none() || e.organization_id.as_ref() == Some(organization_id)
        })
        .collect();
    let mut out = Vec::with_capacity(eps.len());
    for ep in eps {
        let counts = deliveries::counts_for(db, &ep.id, organization_id)
            .await?
            .into_iter()
            .collect();
        out.push(EndpointDeliveries {
            endpoint: ep,
            counts,
        });
    }
    let ids: Vec<String> = out.iter().map(|e| e.endpoint.id.clone()).collect();
    let dead = deliveries::dead_for(db, &ids, organization_id, dead_limit).await?;
    Ok((out, dead))
}

/// Replays one of the organization's deliveries (its event to its endpoint); a delivery
/// of another organization is not found.
pub async fn replay_delivery(
    db: &DatabaseConnection,
    actor: &Actor,
    organization_id: &OrganizationId,
    delivery_id: &str,
) -> Result<u64> {
    let Some(d) = deliveries::find(db, delivery_id)
        .await?
        .filter(|d| d.organization_id == organization_id.as_str())
    else {
        return Err(Error::not_found("delivery", None));
    };
    replay_event(db, actor, &d.event_id, Some(&d.endpoint_id)).await
}
