//! Many organizations at once, and a noisy neighbour: PATCH `active` (Entra's dialect)
//! from `--orgs` organizations, each with its own token and users, against the same
//! total connections all on one organization; then one organization flooding at full
//! speed (the bench lifts every rate limit) while another sends 25 PATCH a second, as
//! Entra's gallery asks an app to take per tenant, beside that quiet organization alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Db, Outcome, drive, fresh_database, org_with_token, start_offboard_on};

const SCIM_JSON: &str = "application/scim+json";

/// One organization as the bench's SCIM client sees it.
struct Tenant {
    token: String,
    ids: Vec<String>,
}

/// The `n`th PATCH of a sender to one of the tenant's users: Entra's deactivation, then
/// its reactivation, in turn.
fn patch(
    client: &reqwest::Client,
    scim: &str,
    tenant: &Tenant,
    sender: usize,
    n: usize,
) -> reqwest::RequestBuilder {
    let id = &tenant.ids[(sender * 7919 + n * 104_729) % tenant.ids.len()];
    let value = if n.is_multiple_of(2) { "False" } else { "True" };
    client
        .patch(format!("{scim}/Users/{id}"))
        .bearer_auth(&tenant.token)
        .header("content-type", SCIM_JSON)
        .body(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": value}]})
            .to_string(),
        )
}

pub async fn tenants(orgs: usize, users: usize, connections: usize, duration: Duration, db: Db) {
    offboard::install_crypto_provider();
    let target = fresh_database(db).await;
    let (mut child, scim, first_token, _target) = start_offboard_on(target, None).await;
    let base = scim.trim_end_matches("/scim/v2").to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections * 2)
        .build()
        .unwrap();
    let mut tokens = vec![first_token];
    for n in 1..orgs.max(2) {
        tokens.push(org_with_token(&client, &base, &format!("Tenant {n}")).await);
    }
    // Each organization's users, created over SCIM.
    let mut tenants = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let mut ids = Vec::with_capacity(users);
        for i in 0..users {
            let name = format!("t{n}u{i}@tenant{n}.example");
            let created: serde_json::Value = client
                .post(format!("{scim}/Users"))
                .bearer_auth(&token)
                .header("content-type", SCIM_JSON)
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "active": true,
                    "emails": [{"value": name, "primary": true, "type": "work"}]})
                    .to_string(),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(created["id"].as_str().unwrap().to_string());
        }
        tenants.push(Tenant { token, ids });
    }
    let tenants = Arc::new(tenants);
    println!(
        "== tenants on {db:?}: {} organizations x {users} users, {connections} connections, {duration:?} per run",
        tenants.len()
    );

    // PATCH from every connection to one organization, then spread over them all.
    for spread in [1, orgs.max(1)] {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (client, scim, tenants) = (client.clone(), scim.clone(), tenants.clone());
        let name = if spread == 1 {
            "PATCH, 1 organization".to_string()
        } else {
            format!("PATCH, {spread} organizations")
        };
        let mut run = drive(&name, connections, duration, move |w, i| {
            Some(patch(&client, &scim, &tenants[w % spread], w, i))
        })
        .await;
        run.print();
    }

    // The quiet organization at 25 PATCH/s, alone and then beside a flood (after a pause:
    // the previous run's deferred fan-out and checkpoint are done).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut alone = paced(
        &client,
        &scim,
        &tenants[1],
        25,
        duration,
        "quiet org, 25/s, alone",
    )
    .await;
    alone.print();
    let flood = {
        let (client, scim, tenants) = (client.clone(), scim.clone(), tenants.clone());
        tokio::spawn(async move {
            drive(
                "noisy org, flooding",
                connections.saturating_sub(1).max(1),
                duration,
                move |w, i| Some(patch(&client, &scim, &tenants[0], w, i)),
            )
            .await
        })
    };
    // The flood at full speed before the quiet one starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut beside = paced(
        &client,
        &scim,
        &tenants[1],
        25,
        duration.saturating_sub(Duration::from_secs(1)),
        "quiet org, 25/s, beside it",
    )
    .await;
    let mut flood = flood.await.unwrap();
    flood.print();
    beside.print();
    let p99 = |o: &mut Outcome| {
        o.latencies_ms.sort_by(|a, b| a.total_cmp(b));
        super::percentile(&o.latencies_ms, 0.99)
    };
    let (p99_beside, p99_alone) = (p99(&mut beside), p99(&mut alone));
    println!(
        "quiet org p99 beside the flood / alone: {p99_beside:.1} / {p99_alone:.1} ms = {:.1}x",
        p99_beside / p99_alone.max(0.001)
    );
    let _ = child.kill();
}

/// `per_second` PATCH requests a second to one organization for `duration`, each sent on
/// time whatever the previous one is doing, each timed.
async fn paced(
    client: &reqwest::Client,
    scim: &str,
    tenant: &Tenant,
    per_second: u32,
    duration: Duration,
    name: &str,
) -> Outcome {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = tokio::task::JoinSet::new();
    let mut i = 0usize;
    while started.elapsed() < duration {
        tick.tick().await;
        let request = patch(client, scim, tenant, 0, i);
        i += 1;
        sent.spawn(async move {
            let t = Instant::now();
            let ok = matches!(request.send().await, Ok(r) if r.status().is_success());
            (t.elapsed().as_secs_f64() * 1e3, ok)
        });
    }
    let mut outcome = Outcome {
        name: name.to_string(),
        requests: 0,
        errors: 0,
        seconds: started.elapsed().as_secs_f64(),
        latencies_ms: Vec::new(),
    };
    while let Some(done) = sent.join_next().await {
        let (ms, ok) = done.unwrap();
        outcome.requests += 1;
        if !ok {
            outcome.errors += 1;
        }
        outcome.latencies_ms.push(ms);
    }
    outcome
}
