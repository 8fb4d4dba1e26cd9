//! `offboard doctor`: reads the configuration, the database and every enabled webhook
//! endpoint, and reports one verdict per check (the rules are `domain::doctor`). It
//! changes nothing, except that `send_test` sends each enabled endpoint the signed test
//! event (recorded like any test send).

use chrono::Utc;
use entity::{deliveries, held_actions, scim_tokens, webhook_endpoints};
use migration::MigratorTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, Statement,
};

use crate::configuration::Settings;
use crate::domain::doctor::{self as rules, Check};
use crate::store::audit::Actor;

/// How long the doctor waits for the database before it says it is unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn run(settings: &Settings, send_test: bool) -> Vec<Check> {
    let mut checks = vec![
        rules::admin_credentials(
            settings.admin_jwt_secret.as_deref(),
            settings.admin_jwt_public_keys.is_some(),
        ),
        rules::listen(&settings.listen),
        rules::deletion_grace(settings.deletion_grace, settings.purge_interval),
        rules::event_retention(settings.webhook.event_retention),
    ];
    if let Some(files) = &settings.tls {
        checks.push(match crate::tls::read(files) {
            Ok(pair) => rules::tls_certificate(pair.not_after, Utc::now()),
            Err(e) => Check::fail("config.tls", e.to_string()),
        });
    }
    // A database that does not exist is reported, never made: the doctor changes nothing.
    if let Err(e) = crate::db::preflight(&settings.database_url, crate::db::Opening::MustExist) {
        checks.push(Check::fail("database.reachable", e.to_string()));
        return checks;
    }
    let db = match crate::db::open(
        &settings.database_url,
        2,
        CONNECT_TIMEOUT,
        crate::db::Opening::MustExist,
    )
    .await
    {
        Ok(db) => {
            checks.push(Check::ok(
                "database.reachable",
                crate::db::redact_url(&settings.database_url),
            ));
            db
        }
        Err(e) => {
            checks.push(Check::fail(
                "database.reachable",
                format!("{}: {e}", crate::db::redact_url(&settings.database_url)),
            ));
            return checks;
        }
    };
    let migrated = migrations(&db).await;
    let current = migrated.status != rules::Level::Fail;
    checks.push(migrated);
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        checks.push(journal_mode(&db).await);
    }
    if !current {
        // The tables below may not be there yet, or be a newer release's.
        return checks;
    }
    checks.extend(database_checks(&db, settings, send_test).await);
    checks
}

async fn migrations(db: &DatabaseConnection) -> Check {
    const NAME: &str = "database.migrations";
    let state = match crate::db::migration_state(db).await {
        Ok(state) => state,
        // A database offboard never started on: every migration is pending.
        Err(_) => crate::db::MigrationState {
            known: migration::Migrator::migrations().len(),
            applied: 0,
            unknown: None,
        },
    };
    if let Some(newer) = state.unknown {
        return Check::fail(
            NAME,
            format!("migration {newer} is from a newer offboard: run that release"),
        );
    }
    let pending = state.pending();
    if pending == 0 {
        Check::ok(NAME, format!("all {} applied", state.known))
    } else {
        Check::fail(
            NAME,
            format!(
                "{pending} of {} pending: `offboard migrate` (or `offboard serve`, which applies them at start)",
                state.known
            ),
        )
    }
}

async fn journal_mode(db: &DatabaseConnection) -> Check {
    const NAME: &str = "database.journal_mode";
    let mode = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    if mode.eq_ignore_ascii_case("wal") {
        Check::ok(NAME, "wal")
    } else {
        Check::warn(
            NAME,
            format!("{mode}: offboard expects WAL (readers never wait for the writer)"),
        )
    }
}

async fn database_checks(
    db: &DatabaseConnection,
    settings: &Settings,
    send_test: bool,
) -> Vec<Check> {
    let mut checks = Vec::new();
    match endpoints(db, settings, send_test).await {
        Ok(mut c) => checks.append(&mut c),
        Err(e) => checks.push(Check::fail("webhooks", format!("could not read: {e}"))),
    }
    match tokens(db).await {
        Ok((mut c, live)) => {
            checks.append(&mut c);
            checks.push(rules::public_url(
                settings.public_url.as_ref().map(|u| u.as_str()),
                &settings.listen,
                settings.tls.is_some(),
                live > 0,
            ));
        }
        Err(e) => checks.push(Check::fail("scim_tokens", format!("could not read: {e}"))),
    }
    checks.push(
        match deliveries::Entity::find()
            .filter(deliveries::Column::Status.eq(crate::store::deliveries::DeliveryStatus::Dead))
            .count(db)
            .await
        {
            Ok(0) => Check::ok("webhooks.dead_deliveries", "none"),
            Ok(n) => Check::warn(
                "webhooks.dead_deliveries",
                format!("{n} dead: replay them (POST /admin/v1/events/{{id}}/replay, or the console) once the receiver is fixed"),
            ),
            Err(e) => Check::fail("webhooks.dead_deliveries", format!("could not read: {e}")),
        },
    );
    checks.push(match held(db).await {
        Ok((0, _)) => Check::ok("guard.held", "nothing held"),
        Ok((n, orgs)) => Check::warn(
            "guard.held",
            format!(
                "{n} deprovisioning(s) held for review in {}: approve or reject them (offboard guard list ORG, or the console)",
                orgs.join(", ")
            ),
        ),
        Err(e) => Check::fail("guard.held", format!("could not read: {e}")),
    });
    checks
}

/// How many actions are held, and in which organizations.
async fn held(db: &DatabaseConnection) -> Result<(u64, Vec<String>), sea_orm::DbErr> {
    use sea_orm::QuerySelect;
    let n = held_actions::Entity::find().count(db).await?;
    let orgs = held_actions::Entity::find()
        .select_only()
        .column(held_actions::Column::OrganizationId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    Ok((n, orgs))
}

/// Every live endpoint: enabled ones must resolve to an address the dispatcher may
/// connect to (and, with `send_test`, accept the signed test event); disabled ones are
/// reported.
async fn endpoints(
    db: &DatabaseConnection,
    settings: &Settings,
    send_test: bool,
) -> Result<Vec<Check>, sea_orm::DbErr> {
    let eps: Vec<webhook_endpoints::Model> = crate::store::endpoints::list_endpoints(db).await?;
    if eps.is_empty() {
        return Ok(vec![Check::warn(
            "webhooks",
            "no endpoint: events are kept but nobody receives them",
        )]);
    }
    let actor = Actor {
        kind: crate::store::audit::ActorKind::Admin,
        id: "doctor".into(),
        request_id: None,
        client_address: None,
    };
    let mut checks = Vec::new();
    for ep in eps {
        let name = format!("webhooks.endpoint.{}", ep.id);
        if !ep.enabled {
            checks.push(Check::warn(
                name,
                format!(
                    "{} is disabled ({}): fix the receiver, then POST /admin/v1/webhook-endpoints/{}/recover",
                    ep.url,
                    ep.disabled_reason.as_deref().unwrap_or("by an operator"),
                    ep.id
                ),
            ));
            continue;
        }
        let reachable = match crate::webhook::ssrf::parse(&ep.url) {
            Ok(url) => crate::webhook::ssrf::check(&url, settings.webhook.allow_private).await,
            Err(e) => Err(e),
        };
        if let Err(e) = reachable {
            checks.push(Check::fail(name, format!("{}: {e}", ep.url)));
            continue;
        }
        if !send_test {
            checks.push(Check::ok(
                name,
                format!("{} resolves to an allowed address", ep.url),
            ));
            continue;
        }
        checks.push(
            match super::webhooks::send_test(db, &actor, &settings.webhook, &ep.id).await {
                Ok(t) if t.succeeded => Check::ok(
                    name,
                    format!(
                        "{} accepted the signed test event ({} in {} ms)",
                        ep.url,
                        t.status_code.map_or("2xx".into(), |s| s.to_string()),
                        t.duration_ms
                    ),
                ),
                Ok(t) => Check::fail(
                    name,
                    format!(
                        "{} did not accept the test event: {}",
                        ep.url,
                        match (t.status_code, t.error) {
                            (Some(s), _) => format!("HTTP {s}"),
                            (None, Some(e)) => e,
                            (None, None) => "no answer".into(),
                        }
                    ),
                ),
                Err(e) => Check::fail(name, format!("{}: {e}", ep.url)),
            },
        );
    }
    Ok(checks)
}

/// The tokens' checks, and how many live tokens there are (IdPs are expected to call
/// once there is one).
async fn tokens(db: &DatabaseConnection) -> Result<(Vec<Check>, usize), sea_orm::DbErr> {
    let now = Utc::now();
    let live = scim_tokens::Entity::find()
        .filter(scim_tokens::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    let mut checks: Vec<Check> = live
        .iter()
        // A rotated token's end is planned: neither its quiet nor its expiry is news.
        .filter(|t| t.replaced_by.is_none())
        .flat_map(|t| {
            let org = t.organization_id.as_str();
            [
                rules::token_use(&t.id, org, t.created_at, t.last_used_at, now),
                rules::token_expiry(&t.id, org, t.expires_at, now),
            ]
        })
        .flatten()
        .collect();
    let live: Vec<_> = live
        .into_iter()
        .filter(|t| t.expires_at.is_none_or(|at| at > now))
        .collect();
    if checks.is_empty() {
        checks.push(Check::ok(
            "scim_tokens",
            format!("{} live, each used within 30 days", live.len()),
        ));
    }
    Ok((checks, live.len()))
}
