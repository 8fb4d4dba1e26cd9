//! HTTP handlers: thin. They parse and authenticate at the edge, call one `service`
//! function, and render its answer. Errors are mapped to responses once per surface:
//! SCIM errors in `scim`, the admin envelope in `admin`.

pub mod admin;
pub mod application;
pub mod body;
pub mod console;
pub mod extract;
pub mod feed;
pub mod health;
pub mod scim;
pub mod setup;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request's id: the client's `X-Request-Id` when it is a sane token, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

tokio::task_local! {
    /// The id of the request being handled, for error bodies (`trace_id`): set once here
    /// for everything the request runs.
    static REQUEST_ID: String;
}

/// The id of the request this task is handling, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub async fn request_id_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| ids::new_id(ids::REQUEST));
    req.extensions_mut().insert(RequestId(id.clone()));
    let origin = origin_of(&req);
    let client = origin.as_ref().map(|o| o.client.to_string());
    if let Some(origin) = origin {
        req.extensions_mut().insert(origin);
    }
    // `organization_id` is filled in by the SCIM token extractor once it knows the tenant.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
        client = client.as_deref().unwrap_or("-"),
        organization_id = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let call = tracing::Instrument::instrument(next.call(req), span.clone());
    let mut res = REQUEST_ID.scope(id.clone(), call).await?;
    // One access line per request, inside its span so it carries the request id.
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

/// Where a request came from: its peer, or what the trusted proxies say (`forwarded`).
fn origin_of(req: &ServiceRequest) -> Option<crate::forwarded::Origin> {
    let peer = req.peer_addr()?.ip();
    let nobody = crate::forwarded::TrustedProxies::default();
    let state = req.app_data::<actix_web::web::Data<crate::state::AppState>>();
    let trusted = state.map_or(&nobody, |s| &s.settings.trusted_proxies);
    if trusted.is_empty() {
        // No proxy is believed: the headers are not even read.
        return Some(crate::forwarded::origin(
            peer,
            &crate::forwarded::Headers::default(),
            trusted,
        ));
    }
    let all = |name: &str| -> Vec<&str> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let headers = crate::forwarded::Headers {
        forwarded: all("forwarded"),
        x_forwarded_for: all("x-forwarded-for"),
        x_forwarded_proto: all("x-forwarded-proto"),
        x_forwarded_host: all("x-forwarded-host"),
    };
    Some(crate::forwarded::origin(peer, &headers, trusted))
}

/// The client's address as far as it can be believed, for the audit log and the
/// inspector.
pub fn client_address(req: &actix_web::HttpRequest) -> Option<String> {
    req.extensions()
        .get::<crate::forwarded::Origin>()
        .map(|o| o.client.to_string())
}

/// After a successful write, wakes this process's webhook dispatcher so the events it
/// wrote leave at once (other processes find them at their next poll).
pub async fn wake_dispatcher_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let writes = !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let wake = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.wake.clone());
    let res = next.call(req).await?;
    if writes
        && res.status().is_success()
        && let Some(w) = wake
    {
        w.notify_one();
    }
    Ok(res)
}

/// Caps the requests one bearer token, and one client address, may have in flight:
/// past the cap the request is refused at once with 429 and `Retry-After`, in the error
/// shape of the surface it called.
pub async fn admission_middleware<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, Error> {
    use actix_web::ResponseError;
    let Some(state) = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned()
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let address = req
        .extensions()
        .get::<crate::forwarded::Origin>()
        .map(|o| o.client);
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let by_address = match address {
        Some(ip) => state.admission.per_address.try_acquire(&ip),
        None => state.admission.per_address.try_acquire(&"unknown"),
    };
    let by_token = match &token {
        Some(t) => state.admission.per_token.try_acquire(t),
        None => state.admission.per_token.try_acquire(&"anonymous"),
    };
    if by_address.is_none() || by_token.is_none() {
        let detail = "too many requests in flight from this client; retry shortly";
        let res = if req.path().starts_with(crate::routes::admin::BASE_PATH) {
            crate::routes::admin::AdminApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                detail,
            )
            .error_response()
        } else {
            crate::scim::error::ScimError::too_many_requests(1, detail).error_response()
        };
        let mut res = res;
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    let res = next.call(req).await;
    // The slots are given back once the response is ready (dropped here).
    drop((by_address, by_token));
    res.map(ServiceResponse::map_into_left_body)
}

/// Counts every request and its latency by method, route pattern and status.
pub async fn metrics_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = std::time::Instant::now();
    let method = crate::metrics::method_label(req.method()).to_string();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    // The matched pattern (`/scim/v2/Users/{id}`), never the raw path: ids stay out of labels.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(seen) = res
        .request()
        .extensions()
        .get::<crate::connection::Seen>()
        .cloned()
        && let Some(state) = res
            .request()
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
    {
        let user_agent = res
            .request()
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(200).collect());
        let at = chrono::Utc::now();
        state.inspector.record(crate::inspector::Entry {
            id: ids::new_id(ids::INSPECTED_REQUEST),
            organization_id: seen.organization_id.clone(),
            token_id: seen.token_id.clone(),
            at,
            method: method.clone(),
            route: route.clone(),
            path: res.request().path().to_string(),
            query: Some(res.request().query_string().to_string()),
            status: res.status().as_u16(),
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            request_id: res
                .request()
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone()),
            client_address: client_address(res.request()),
            error: res
                .response()
                .extensions()
                .get::<crate::inspector::Answered>()
                .cloned(),
            body: res
                .request()
                .extensions()
                .get::<crate::inspector::Captured>()
                .map(|c| c.0.clone()),
        });
        state.connections.record(
            &seen,
            crate::store::connections::LastRequest {
                at,
                method: method.clone(),
                route: route.clone(),
                status: res.status().as_u16(),
                user_agent,
            },
        );
    }
    let Some(m) = metrics else {
        return Ok(res);
    };
    m.http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            method: method.clone(),
            route: route.clone(),
            status: res.status().as_u16(),
        })
        .inc();
    m.http_duration
        .get_or_create(&crate::metrics::RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    if res
        .response()
        .extensions()
        .get::<crate::routes::scim::RefusedUnavailable>()
        .is_some()
    {
        m.refused_unavailable.inc();
    }
    Ok(res)
}
