//! Reading request bodies and the answers shared by every surface: the content type
//! checked, the size bounded while reading, a deadline for bodies that trickle in, JSON
//! parsed off the async workers when large. Errors are SCIM's (`ScimError`); the admin
//! API renders them in its own envelope. Below `scim`, `admin` and `extract`, which all
//! use it.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde_json::Value;

use crate::scim::SCIM_CONTENT_TYPE;
use crate::scim::error::ScimError;
use crate::state::AppState;

/// Seconds an IdP is asked to wait when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// Marks a response refused because the database was unavailable (counted in metrics).
#[derive(Debug, Clone, Copy)]
pub struct RefusedUnavailable;

/// Reads a JSON body: the content type must be `application/scim+json` or
/// `application/json`, the size at most the configured limit (413 past it, checked while
/// reading), and the text valid JSON (serde_json also bounds nesting depth).
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Value, ScimError> {
    read_as(req, payload, limit, |v, _| Ok(v)).await
}

/// Reads a JSON body as `read_json` does and turns it into `T` with `convert` (which
/// also gets the body's size): parsing and validation run off the async workers when
/// the body is large (see `cpu`), so no request's CPU work stalls another's.
pub async fn read_as<T, F>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    convert: F,
) -> Result<T, ScimError>
where
    T: Send + 'static,
    F: FnOnce(Value, usize) -> Result<T, ScimError> + Send + 'static,
{
    let bytes = read_bytes(req, payload, limit).await?;
    // Shared, not copied: the request inspector redacts it after the answer.
    req.extensions_mut()
        .insert(crate::inspector::Captured(bytes.clone()));
    let len = bytes.len();
    crate::cpu::run(len, move || convert(parse_json(&bytes)?, len))
        .await
        .map_err(|_| ScimError::new(500, None, "internal error"))?
}

/// Reads a JSON body that may be absent: `None` when it has no bytes but whitespace (a
/// DELETE sent with a content type and nothing after it), else as `read_json` does.
pub async fn read_optional_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Option<Value>, ScimError> {
    let bytes = read_bytes(req, payload, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::cpu::run(bytes.len(), move || parse_json(&bytes).map(Some))
        .await
        .map_err(|_| ScimError::new(500, None, "internal error"))?
}

fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

async fn read_bytes(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ScimError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct != SCIM_CONTENT_TYPE && ct != ContentType::json().0.essence_str() {
        return Err(ScimError::new(
            415,
            None,
            "the body must be application/scim+json or application/json",
        ));
    }
    let too_large =
        || ScimError::payload_too_large(format!("the body is larger than {limit} bytes"));
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    // A body that trickles in is cut off at the deadline, so slow clients cannot hold
    // the server's connections for ever.
    let deadline = req
        .app_data::<web::Data<AppState>>()
        .map_or(std::time::Duration::from_secs(10), |s| {
            s.settings.limits.request_timeout
        });
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ScimError::invalid_syntax("the body could not be read"))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| ScimError::new(408, None, "the request body did not arrive in time"))?
}
