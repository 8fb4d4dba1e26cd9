//! What recording a SCIM request for connection health and the request inspector costs
//! the request (in memory, on its path), and what writing it costs the flush (off it).

use std::sync::Arc;
use std::time::Instant;

use offboard::connection::{Recorder, Seen};
use offboard::inspector::{Entry, Inspector};
use offboard::store::connections::LastRequest;

use crate::{Db, fresh_database};

fn entry(org: &ids::OrganizationId, token: &str, body: &'static [u8]) -> Entry {
    Entry {
        id: ids::new_id(ids::INSPECTED_REQUEST),
        organization_id: org.clone(),
        token_id: token.to_string(),
        at: chrono::Utc::now(),
        method: "PATCH".into(),
        route: "/scim/v2/Users/{id}".into(),
        path: "/scim/v2/Users/mem_01JBENCH".into(),
        query: Some(String::new()),
        status: 200,
        latency_ms: 3,
        request_id: Some("req_01JBENCH".into()),
        client_address: Some("203.0.113.7".into()),
        error: None,
        body: Some(actix_web::web::Bytes::from_static(body)),
    }
}

const ENTRA_DISABLE: &[u8] = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#;

/// `threads` threads record `per_thread` requests each into one recorder and one
/// inspector, as concurrent requests do; then the inspector's batch is flushed to a
/// fresh database.
pub async fn recording(threads: usize, per_thread: usize, db_kind: Db) {
    let target = fresh_database(db_kind).await;
    let db = offboard::db::connect(&target.url, 4).await.unwrap();
    offboard::db::migrate(&db).await.unwrap();
    let org = offboard::store::organizations::create(&db, "Bench", None)
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    // Kept large enough that the flush writes every recorded request.
    let inspector = Arc::new(Inspector::new(
        offboard::inspector::MAX_KEEP,
        std::time::Duration::from_secs(7 * 24 * 3600),
    ));
    let seen = Seen {
        token_id: "tok_01JBENCH".into(),
        organization_id: org.id.clone(),
        refused: None,
    };
    for (label, with_inspector) in [("connection health", false), ("+ inspector", true)] {
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (recorder, inspector, seen) =
                    (recorder.clone(), inspector.clone(), seen.clone());
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        let at = chrono::Utc::now();
                        if with_inspector {
                            inspector.record(entry(
                                &seen.organization_id,
                                &seen.token_id,
                                ENTRA_DISABLE,
                            ));
                        }
                        recorder.record(
                            &seen,
                            LastRequest {
                                at,
                                method: "PATCH".into(),
                                route: "/scim/v2/Users/{id}".into(),
                                status: 200,
                                user_agent: Some("Okta SCIM Client 1.0.0".into()),
                            },
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let n = threads * per_thread;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "record ({label}): {n} requests from {threads} threads in {:.1} ms = {:.2} µs of wall time per request",
            secs * 1e3,
            secs * 1e6 / n as f64
        );
    }
    // The inspector holds at most 10,000 requests between flushes: that is what one
    // flush writes at most.
    let started = Instant::now();
    recorder.flush(&db).await.unwrap();
    println!(
        "flush connection health: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let started = Instant::now();
    inspector.flush(&db).await.unwrap();
    let rows = offboard::store::requests::page(
        &db,
        &org.id,
        None,
        None,
        chrono::Utc::now() - chrono::Duration::hours(1),
        100_000,
    )
    .await
    .unwrap()
    .len();
    println!(
        "flush inspector: {rows} requests redacted and written in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}
