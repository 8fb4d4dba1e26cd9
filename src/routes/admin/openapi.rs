//! The OpenAPI 3.1 description of `/admin/v1` and `/v1` (the applications' routes), served at
//! `GET /admin/v1/openapi.json` and committed as `docs/openapi.json`. Request bodies and
//! query parameters are generated from the types the handlers parse (`JsonSchema` on
//! each), responses from the shapes below; the error envelope, the page envelope
//! (`next_after`) and the bearer schemes are described once and referenced. A test fails
//! when a route is not described here, or when the committed file is stale.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use super::webhooks as hooks;
use super::{
    api_keys, audit, domains, organizations as orgs, paging, roles, scim_tokens, sessions,
    setup_links, users,
};
use crate::views::{
    ApiKey, AuditEntry, Connection, Delivery, Domain, Endpoint, EndpointWithSecret, Event,
    EventType, FeedPage, HeldPage, InspectedRequest, Job, Member, Organization, Replayed,
    Resolution, RoleMappingView, ScimToken, ScimTokenCreated, ScimTokenRotated, Session, SetupLink,
    SetupLinkCreated, TestSend, User, UserExport,
};

/// The body of `PUT …/role-mappings`, for the document (the route reads it with
/// `domain::roles::RoleMapping::parse`).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct RoleMappingInput {
    /// Given to members no group grants a role to.
    default_role: Option<String>,
    /// At most 1,000; no group named twice.
    rules: Vec<RoleRuleInput>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct RoleRuleInput {
    /// `{"id": "grp_…"}` (a group of this organization), `{"external_id": "…"}` or
    /// `{"display_name": "…"}` (matched case-insensitively).
    group: serde_json::Map<String, Value>,
    role: String,
}

/// How a route authenticates.
#[derive(Clone, Copy)]
enum Auth {
    Admin,
    ApiKey,
    /// Public: the description itself.
    None,
}

/// One operation: its route, the types it parses, and what it answers.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: Option<Schema>,
    body: Option<Schema>,
    ok: u16,
    response: Option<Value>,
    errors: &'static [u16],
    auth: Auth,
    /// Also answered 202 (queued as a job) with the same body.
    or_accepted: bool,
}

#[allow(clippy::too_many_arguments)]
fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    ok: u16,
    response: Option<Value>,
    errors: &'static [u16],
) -> Op {
    Op {
        method,
        path,
        tag,
        summary,
        query: None,
        body: None,
        ok,
        response,
        errors,
        auth: Auth::Admin,
        or_accepted: false,
    }
}

impl Op {
    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schemars::schema_for!(T));
        self
    }

    fn body<T: JsonSchema>(mut self, g: &mut SchemaGenerator) -> Self {
        self.body = Some(g.subschema_for::<T>());
        self
    }

    fn or_accepted(mut self) -> Self {
        self.or_accepted = true;
        self
    }

    fn api_key(mut self) -> Self {
        self.auth = Auth::ApiKey;
        self
    }

    fn public(mut self) -> Self {
        self.auth = Auth::None;
        self
    }
}

fn reference<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// `{"data": [T], "next_after": …}`.
fn page<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    json!({"allOf": [
        {"$ref": "#/components/schemas/Page"},
        {"type": "object", "properties": {"data": {"type": "array", "items": reference::<T>(g)}}}
    ]})
}

/// `{"data": [T]}` without paging.
fn list<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    json!({"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": reference::<T>(g)}
    }})
}

// ---- bodies the handlers read as JSON values --------------------------------------------

/// A destructive request's confirmation (`422 CONFIRMATION_REQUIRED` without it), with
/// what the application does with the content the user owned (each directive also in
/// camelCase: `deleteAll`, `markMessageDeleted`, `hardDeletePost`, `hardDeleteComment`).
#[allow(dead_code)]
#[derive(JsonSchema)]
struct Confirmation {
    confirm: bool,
    delete_all: Option<bool>,
    mark_messages_deleted: Option<bool>,
    hard_delete_posts: Option<bool>,
    hard_delete_comments: Option<bool>,
}

/// `{}` (the oldest held actions, up to 1,000) or `{"ids": [...]}` (1 to 1,000).
#[allow(dead_code)]
#[derive(JsonSchema)]
struct Selection {
    ids: Option<Vec<String>>,
}

/// Users deleted as one job.
#[allow(dead_code)]
#[derive(JsonSchema)]
struct BatchDelete {
    confirm: bool,
    user_ids: Vec<String>,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
struct ReplayTarget {
    /// Only to this endpoint; absent: every endpoint it went to.
    endpoint_id: Option<String>,
}

fn operations(g: &mut SchemaGenerator) -> Vec<Op> {
    const READ: &[u16] = &[401, 403, 404, 422, 503];
    const WRITE: &[u16] = &[401, 403, 404, 409, 422, 503];
    const LIST: &[u16] = &[401, 403, 422, 503];
    vec![
        // Organizations.
        op("post", "/admin/v1/organizations", "organizations", "Create an organization", 201, Some(reference::<Organization>(g)), WRITE).body::<orgs::CreateOrganization>(g),
        op("get", "/admin/v1/organizations", "organizations", "Organizations, paged by id, searched by name", 200, Some(page::<Organization>(g)), LIST).query::<orgs::ListQuery>(),
        op("get", "/admin/v1/organizations/{id}", "organizations", "An organization with its deprovisioning guard", 200, Some(reference::<Organization>(g)), READ),
        op("patch", "/admin/v1/organizations/{id}", "organizations", "Change an organization's settings", 200, Some(reference::<Organization>(g)), WRITE).body::<orgs::UpdateOrganization>(g),
        op("delete", "/admin/v1/organizations/{id}", "organizations", "Delete an organization (members removed, accounts left without a membership deleted); `?async=true` runs it as a job (202)", 204, None, WRITE).query::<orgs::DeleteQuery>().body::<Confirmation>(g),
        op("get", "/admin/v1/organizations/{id}/users", "organizations", "The organization's members by status, searched", 200, Some(page::<Member>(g)), READ).query::<orgs::MembersQuery>(),
        op("delete", "/admin/v1/organizations/{org}/users/{user}", "organizations", "Remove a user from the organization", 204, None, WRITE).body::<Confirmation>(g),
        op("get", "/admin/v1/organizations/{id}/scim-tokens", "organizations", "The organization's unrevoked SCIM tokens, expired ones included (never the token)", 200, Some(list::<ScimToken>(g)), READ),
        op("post", "/admin/v1/organizations/{id}/scim-tokens", "organizations", "Make a SCIM token (shown once), with an optional expiry and allowed networks", 201, Some(reference::<ScimTokenCreated>(g)), WRITE).body::<scim_tokens::CreateScimToken>(g),
        op("post", "/admin/v1/organizations/{id}/scim-tokens/{token_id}/rotate", "organizations", "Replace a SCIM token (the new one shown once); the old one works until the overlap ends", 201, Some(reference::<ScimTokenRotated>(g)), WRITE).body::<scim_tokens::RotateScimToken>(g),
        op("delete", "/admin/v1/organizations/{id}/scim-tokens/{token_id}", "organizations", "Revoke a SCIM token", 204, None, WRITE),
        op("get", "/admin/v1/organizations/{id}/role-mappings", "organizations", "The organization's groups mapped to the application's roles", 200, Some(reference::<RoleMappingView>(g)), READ),
        op("put", "/admin/v1/organizations/{id}/role-mappings", "organizations", "Replace the role mapping; members are re-roled in the same transaction (200), or by a job it queues (202) for over 1,000 live members or with `?async=true` (422 for another organization's group, a group named twice, over 1,000 rules)", 200, Some(reference::<RoleMappingView>(g)), WRITE).query::<roles::PutQuery>().body::<RoleMappingInput>(g).or_accepted(),
        op("get", "/admin/v1/organizations/{id}/setup-links", "organizations", "The organization's setup links, newest first (never their secrets)", 200, Some(list::<SetupLink>(g)), READ),
        op("post", "/admin/v1/organizations/{id}/setup-links", "organizations", "Make a setup link for the organization's IT admin (its URL is shown once)", 201, Some(reference::<SetupLinkCreated>(g)), WRITE).body::<setup_links::CreateSetupLink>(g),
        op("delete", "/admin/v1/organizations/{id}/setup-links/{link_id}", "organizations", "Revoke a setup link at once", 204, None, WRITE),
        op("get", "/admin/v1/organizations/{id}/connection", "organizations", "The SCIM connection's health", 200, Some(reference::<Connection>(g)), READ),
        op("get", "/admin/v1/organizations/{id}/requests", "organizations", "Recent SCIM requests, newest first, bodies redacted", 200, Some(page::<InspectedRequest>(g)), READ).query::<orgs::RequestsQuery>(),
        op("get", "/admin/v1/organizations/{id}/domains", "organizations", "Verified email domains", 200, Some(list::<Domain>(g)), READ),
        op("post", "/admin/v1/organizations/{id}/domains", "organizations", "Verify an email domain (201 when new, 200 when it already was)", 201, Some(reference::<Domain>(g)), WRITE).body::<domains::AddDomain>(g),
        op("delete", "/admin/v1/organizations/{id}/domains/{domain}", "organizations", "Remove a verified domain", 204, None, WRITE),
        // The deprovisioning guard.
        op("get", "/admin/v1/organizations/{id}/held-actions", "guard", "Deprovisionings held for review, in arrival order", 200, Some(reference::<HeldPage>(g)), READ).query::<paging::PageQuery>(),
        op("post", "/admin/v1/organizations/{id}/deprovision-guard/approve", "guard", "Apply held deprovisionings", 200, Some(reference::<Resolution>(g)), WRITE).body::<Selection>(g),
        op("post", "/admin/v1/organizations/{id}/deprovision-guard/reject", "guard", "Discard held deprovisionings", 200, Some(reference::<Resolution>(g)), WRITE).body::<Selection>(g),
        // Users.
        op("get", "/admin/v1/users/{id}", "users", "An account and its memberships", 200, Some(reference::<User>(g)), READ),
        op("delete", "/admin/v1/users/{id}", "users", "Delete a user everywhere", 204, None, WRITE).body::<Confirmation>(g),
        op("post", "/admin/v1/users/{id}/restore", "users", "Restore a deleted user within the grace period", 200, Some(reference::<User>(g)), WRITE),
        op("get", "/admin/v1/users/{id}/export", "users", "Everything offboard holds about the person", 200, Some(reference::<UserExport>(g)), READ),
        op("post", "/admin/v1/users/{id}/suspend", "users", "Suspend the account in every organization", 200, Some(reference::<User>(g)), WRITE).body::<users::SuspendInput>(g),
        op("post", "/admin/v1/users/{id}/unsuspend", "users", "Lift a suspension", 200, Some(reference::<User>(g)), WRITE),
        op("post", "/admin/v1/users/batch-delete", "users", "Delete many users as one job", 202, Some(reference::<Job>(g)), WRITE).body::<BatchDelete>(g),
        // Sessions.
        op("post", "/admin/v1/sessions", "sessions", "Register a session of an active member", 201, Some(reference::<Session>(g)), WRITE).body::<sessions::CreateSession>(g),
        op("get", "/admin/v1/sessions/{id}", "sessions", "A session", 200, Some(reference::<Session>(g)), READ),
        op("delete", "/admin/v1/sessions/{id}", "sessions", "Revoke a session (answers it, revoked)", 200, Some(reference::<Session>(g)), WRITE),
        // Jobs.
        op("get", "/admin/v1/jobs", "jobs", "Jobs, oldest first", 200, Some(page::<Job>(g)), LIST).query::<paging::PageQuery>(),
        op("get", "/admin/v1/jobs/{id}", "jobs", "A job and its progress", 200, Some(reference::<Job>(g)), READ),
        // Audit and events.
        op("get", "/admin/v1/audit-log", "audit", "The audit log, paged by id", 200, Some(page::<AuditEntry>(g)), LIST).query::<audit::AuditQuery>(),
        op("get", "/admin/v1/events", "events", "The outbox's events, oldest first", 200, Some(page::<Event>(g)), LIST).query::<audit::EventQuery>(),
        op("post", "/admin/v1/events/{id}/replay", "events", "Deliver an event again", 202, Some(reference::<Replayed>(g)), WRITE).body::<ReplayTarget>(g),
        op("get", "/admin/v1/event-types", "events", "Every event type with its JSON Schema", 200, Some(list::<EventType>(g)), LIST),
        // Webhooks.
        op("post", "/admin/v1/webhook-endpoints", "webhooks", "Add an endpoint (its signing secret is shown once)", 201, Some(reference::<EndpointWithSecret>(g)), WRITE).body::<hooks::CreateEndpoint>(g),
        op("get", "/admin/v1/webhook-endpoints", "webhooks", "Endpoints", 200, Some(list::<Endpoint>(g)), LIST),
        op("get", "/admin/v1/webhook-endpoints/{id}", "webhooks", "An endpoint", 200, Some(reference::<Endpoint>(g)), READ),
        op("patch", "/admin/v1/webhook-endpoints/{id}", "webhooks", "Change how many deliveries the endpoint may have in flight", 200, Some(reference::<Endpoint>(g)), WRITE).body::<hooks::UpdateEndpoint>(g),
        op("delete", "/admin/v1/webhook-endpoints/{id}", "webhooks", "Delete an endpoint (its pending deliveries are cancelled)", 204, None, WRITE),
        op("post", "/admin/v1/webhook-endpoints/{id}/rotate-secret", "webhooks", "Rotate the signing secret (the previous one stays valid for 24 h)", 200, Some(reference::<EndpointWithSecret>(g)), WRITE),
        op("post", "/admin/v1/webhook-endpoints/{id}/recover", "webhooks", "Re-enable an endpoint and replay what died since `since`", 202, Some(reference::<Replayed>(g)), WRITE).query::<hooks::RecoverQuery>(),
        op("post", "/admin/v1/webhook-endpoints/{id}/test", "webhooks", "Send the signed `webhook.test` event now", 200, Some(reference::<TestSend>(g)), WRITE),
        op("get", "/admin/v1/deliveries", "webhooks", "Deliveries, by status, endpoint and event", 200, Some(page::<Delivery>(g)), LIST).query::<hooks::DeliveryQuery>(),
        // API keys and the pull feed.
        op("post", "/admin/v1/api-keys", "api-keys", "Make an API key for an application (shown once)", 201, Some(reference::<ApiKey>(g)), WRITE).body::<api_keys::CreateKey>(g),
        op("get", "/admin/v1/api-keys", "api-keys", "API keys (never the key)", 200, Some(list::<ApiKey>(g)), LIST),
        op("delete", "/admin/v1/api-keys/{id}", "api-keys", "Delete an API key", 204, None, WRITE),
        op("get", "/v1/events", "feed", "Events in commit order for one organization, long-polling up to `wait`", 200, Some(reference::<FeedPage>(g)), &[401, 403, 404, 422, 503]).query::<crate::routes::feed::FeedQuery>().api_key(),
        op("post", "/v1/sessions", "application", "Register a session of an active member (`sessions:write`); 404 for another organization's with a key limited to one", 201, Some(reference::<Session>(g)), WRITE).body::<sessions::CreateSession>(g).api_key(),
        op("get", "/v1/sessions/{id}", "application", "Introspect a session: `active` and the member's roles now (`sessions:read`)", 200, Some(reference::<Session>(g)), READ).api_key(),
        op("delete", "/v1/sessions/{id}", "application", "Revoke a session (`sessions:write`)", 200, Some(reference::<Session>(g)), WRITE).api_key(),
        op("get", "/v1/users/{id}", "application", "A user and their memberships (`users:read`); with a key limited to one organization, only that membership and no account email or name", 200, Some(reference::<User>(g)), READ).api_key(),
        op("get", "/admin/v1/openapi.json", "meta", "This document (public: it holds nothing of any deployment)", 200, Some(json!({"type": "object"})), &[]).public(),
    ]
}

/// The query parameters a query type declares.
fn parameters(query: &Schema) -> Vec<Value> {
    let v = query.as_value();
    let required: Vec<&str> = v["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = v["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if !description.is_null() {
                p["description"] = description;
            }
            p
        })
        .collect()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn error_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "ValidationError",
        429 => "TooManyRequests",
        503 => "Unavailable",
        _ => "Error",
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed.",
        401 => {
            "No valid token: the admin JWT (or API key) is missing, expired or not signed by a trusted key."
        }
        403 => "The token is valid but lacks the scope.",
        404 => "Not found (another organization's objects are not found either).",
        409 => "The change conflicts with the current state.",
        422 => {
            "The body or query is not valid; `CONFIRMATION_REQUIRED` when a destructive request lacks `{\"confirm\": true}`."
        }
        429 => "Too many requests in flight; retry after `Retry-After` seconds.",
        503 => "The database is unavailable; retry after `Retry-After` seconds.",
        _ => "An error.",
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();
    let ops = operations(&mut g);
    let mut paths: Map<String, Value> = Map::new();
    let mut statuses: Vec<u16> = Vec::new();
    for o in &ops {
        let mut parameters = path_parameters(o.path);
        if let Some(q) = &o.query {
            parameters.extend(self::parameters(q));
        }
        let mut responses = Map::new();
        let description = match o.ok {
            201 => "Created.",
            202 => "Accepted: it runs, or was queued.",
            204 => "Done; no body.",
            _ => "OK.",
        };
        let mut ok = json!({"description": description});
        if let Some(schema) = &o.response {
            ok["content"] = json!({"application/json": {"schema": schema}});
        }
        if o.or_accepted {
            let mut accepted = ok.clone();
            accepted["description"] = json!("Accepted: queued as a job.");
            responses.insert("202".into(), accepted);
        }
        responses.insert(o.ok.to_string(), ok);
        for &status in o.errors {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{}", error_name(status))}),
            );
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let mut operation = json!({
            "tags": [o.tag],
            "summary": o.summary,
            "operationId": format!("{}_{}", o.method, o.path.trim_start_matches('/').replace(['/', '-', '.'], "_").replace(['{', '}'], "")),
            "security": match o.auth {
                Auth::Admin => json!([{"adminJwt": []}]),
                Auth::ApiKey => json!([{"apiKey": []}]),
                Auth::None => json!([]),
            },
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = &o.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": body.as_value()}}
            });
        }
        let item = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        item[o.method] = operation;
    }
    let mut schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Every admin API error has this envelope.",
            "required": ["success", "error"],
            "properties": {
                "success": {"const": false},
                "error": {
                    "type": "object",
                    "required": ["code", "message", "status", "type", "trace_id", "timestamp"],
                    "properties": {
                        "code": {"type": "string", "description": "e.g. NOT_FOUND, VALIDATION_ERROR, CONFIRMATION_REQUIRED, DEPROVISIONING_HELD"},
                        "message": {"type": "string"},
                        "system_message": {"type": "string"},
                        "type": {"enum": ["client_error", "server_error"]},
                        "status": {"type": "integer"},
                        "details": {"type": "object"},
                        "trace_id": {"type": "string", "description": "The request's id (`X-Request-Id`)."},
                        "timestamp": {"type": "string", "format": "date-time"}
                    }
                }
            }
        }),
    );
    schemas.insert(
        "Page".into(),
        json!({
            "type": "object",
            "description": "A page of a list: pass `next_after` as `after` for the next page; `null` at the end.",
            "required": ["data", "next_after"],
            "properties": {
                "data": {"type": "array"},
                "next_after": {"type": ["string", "null"]}
            }
        }),
    );
    statuses.sort_unstable();
    let responses: Map<String, Value> = statuses
        .iter()
        .map(|&s| {
            let mut r = json!({
                "description": error_description(s),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            });
            if s == 429 || s == 503 {
                r["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}});
            }
            (error_name(s).to_string(), r)
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "offboard admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The operator's API of offboard, a SCIM 2.0 deprovisioning service, and the applications' pull feed of events. The SCIM endpoint itself (`/scim/v2`) is described by RFC 7644 and its discovery endpoints.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "organizations"}, {"name": "guard"}, {"name": "users"}, {"name": "sessions"},
            {"name": "jobs"}, {"name": "audit"}, {"name": "events"}, {"name": "webhooks"},
            {"name": "api-keys"}, {"name": "feed"}, {"name": "application"}, {"name": "meta"}
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "adminJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An admin JWT (`offboard admin-token`): HS256 with OFFBOARD_ADMIN_JWT_SECRET, or RS256/ES256/EdDSA with OFFBOARD_ADMIN_JWT_PUBLIC_KEYS."},
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An application's API key (`obk_…`, `offboard api-key create`) with the `events:read` scope."}
            }
        }
    })
}

/// The routes this document describes, as `METHOD /path`.
pub fn described() -> Vec<String> {
    let doc = document();
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            if let Some(item) = item.as_object() {
                for method in item.keys() {
                    out.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    out.sort();
    out
}
