//! Forgiving paths: IdPs vary the case of the resource type (`/scim/v2/users`) and add a
//! trailing slash (`/scim/v2/Users/?filter=…`). Both answer as the canonical path does,
//! rewritten before routing so every handler, metric label and log sees one form.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;

use super::BASE_PATH;

/// The endpoints under `/scim/v2`, as routed.
const ENDPOINTS: [&str; 6] = [
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    "Bulk",
];

/// The canonical form of a SCIM path, or `None` when it already is one (or is not a SCIM
/// path). Only the endpoint's case and one trailing slash change; ids never do.
pub fn canonical(path: &str) -> Option<String> {
    let rest = path.strip_prefix(BASE_PATH)?.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (endpoint, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let endpoint = ENDPOINTS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(endpoint))
        .copied()
        .unwrap_or(endpoint);
    let fixed = format!("{BASE_PATH}/{endpoint}{tail}");
    (fixed != path && !rest.is_empty()).then_some(fixed)
}

pub async fn canonical_path_middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(path) = canonical(req.path()) {
        let target = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(uri) = target.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_case_and_a_trailing_slash_are_forgiven() {
        for (sent, routed) in [
            ("/scim/v2/users", "/scim/v2/Users"),
            ("/scim/v2/USERS/", "/scim/v2/Users"),
            ("/scim/v2/Users/", "/scim/v2/Users"),
            ("/scim/v2/groups/grp_1", "/scim/v2/Groups/grp_1"),
            ("/scim/v2/users/.search", "/scim/v2/Users/.search"),
            (
                "/scim/v2/serviceproviderconfig",
                "/scim/v2/ServiceProviderConfig",
            ),
            ("/scim/v2/Schemas/", "/scim/v2/Schemas"),
        ] {
            assert_eq!(canonical(sent).as_deref(), Some(routed), "{sent}");
        }
    }

    #[test]
    fn canonical_paths_ids_and_other_surfaces_are_left_alone() {
        for path in [
            "/scim/v2/Users",
            "/scim/v2/Users/mem_ABC",
            // An id keeps its case.
            "/scim/v2/Users/AbC",
            "/scim/v2/",
            "/scim/v2",
            "/admin/v1/users/",
            "/scim/v2/Unknown",
        ] {
            assert_eq!(canonical(path), None, "{path}");
        }
        assert_eq!(
            canonical("/scim/v2/users/AbC/").as_deref(),
            Some("/scim/v2/Users/AbC")
        );
    }
}
