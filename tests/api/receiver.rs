//! A real webhook receiver for tests: an HTTP server on a random loopback port that
//! verifies every Standard Webhooks signature with its own code (not offboard's signer),
//! records what it got, and answers as the test tells it to.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// How far a `webhook-timestamp` may be from now.
const TOLERANCE_SECS: i64 = 5 * 60;

/// Verifies a `webhook-signature` header against one `whsec_` secret: true when any of
/// its space-separated `v1,` signatures matches (constant-time compare via `verify_slice`).
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return false;
    };
    let Ok(key) = STANDARD.decode(encoded) else {
        return false;
    };
    header.split(' ').any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(expected) = STANDARD.decode(b64) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: Value,
    pub user_agent: String,
    pub content_type: String,
    pub signature_count: usize,
    /// Whether the receiver answered 2xx to this attempt.
    pub accepted: bool,
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Mode {
    Accept,
    /// Answer this status.
    Fail(u16),
    /// Fail the first n attempts with 503, then accept.
    FailFirst(usize),
    /// Wait this long, then accept.
    Slow(Duration),
    /// Answer 302 to itself: a redirect is not a success.
    Redirect,
    /// Answer 503 with `Retry-After` in seconds.
    RetryAfter(u64),
    /// Answer 503 to the events of this SCIM id (`data.membership.scim_id`), accept the rest.
    FailFor(String),
}

struct State {
    secrets: Vec<String>,
    mode: Mode,
    got: Vec<Received>,
    attempts: usize,
    rejected_signatures: usize,
    in_flight: HashSet<String>,
    /// The same webhook-id arriving while an earlier request with it is still open.
    overlaps: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start(secret: &str, mode: Mode) -> Receiver {
        let state = Arc::new(Mutex::new(State {
            secrets: vec![secret.to_string()],
            mode,
            got: Vec::new(),
            attempts: 0,
            rejected_signatures: 0,
            in_flight: HashSet::new(),
            overlaps: 0,
        }));
        let shared = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(handle))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            state,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn set_secrets(&self, secrets: &[&str]) {
        self.state.lock().unwrap().secrets = secrets.iter().map(|s| s.to_string()).collect();
    }

    /// Every request so far, accepted or not.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    pub fn rejected_signatures(&self) -> usize {
        self.state.lock().unwrap().rejected_signatures
    }

    /// Requests open right now.
    pub fn in_flight(&self) -> usize {
        self.state.lock().unwrap().in_flight.len()
    }

    pub fn overlaps(&self) -> usize {
        self.state.lock().unwrap().overlaps
    }

    /// Waits until `done` holds for the accepted events (ids de-duplicated), or panics.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let got = self.accepted();
            if done(&got) {
                return;
            }
            if start.elapsed() > timeout {
                let ids: Vec<String> = got.iter().map(|r| r.body["type"].to_string()).collect();
                panic!("timed out waiting for {what}; accepted so far: {ids:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until at least `n` distinct events were accepted.
    pub async fn wait_for_events(&self, n: usize, timeout: Duration) {
        self.wait_for(&format!("{n} events"), timeout, |got| {
            got.iter().map(|r| &r.id).collect::<HashSet<_>>().len() >= n
        })
        .await
    }
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    let signature = header("webhook-signature");
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= TOLERANCE_SECS);
    let (mode, verified) = {
        let mut s = state.lock().unwrap();
        s.attempts += 1;
        let verified = fresh
            && s.secrets
                .iter()
                .any(|secret| verify(secret, &id, &timestamp, &body, &signature));
        if !verified {
            s.rejected_signatures += 1;
        }
        if !s.in_flight.insert(id.clone()) {
            s.overlaps += 1;
        }
        (s.mode.clone(), verified)
    };
    if !verified {
        state.lock().unwrap().in_flight.remove(&id);
        return HttpResponse::Unauthorized().finish();
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut retry_after = None;
    let status = match mode {
        Mode::Accept => 200,
        Mode::Fail(code) => code,
        Mode::Redirect => 302,
        Mode::RetryAfter(secs) => {
            retry_after = Some(secs);
            503
        }
        Mode::FailFor(scim_id) => {
            if parsed["data"]["membership"]["scim_id"] == json!(scim_id) {
                503
            } else {
                200
            }
        }
        Mode::FailFirst(n) => {
            let failed_so_far = state
                .lock()
                .unwrap()
                .got
                .iter()
                .filter(|r| !r.accepted)
                .count();
            if failed_so_far < n { 503 } else { 200 }
        }
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            200
        }
    };
    {
        let mut s = state.lock().unwrap();
        s.in_flight.remove(&id);
        s.got.push(Received {
            id,
            body: parsed,
            user_agent: header("user-agent"),
            content_type: header("content-type"),
            signature_count: signature.split(' ').count(),
            accepted: (200..300).contains(&status),
        });
    }
    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if status == 302 {
        res.insert_header(("location", req.uri().to_string()));
    }
    if let Some(secs) = retry_after {
        res.insert_header(("retry-after", secs.to_string()));
    }
    if status >= 400 {
        // What a receiver says when it refuses: the dispatcher keeps it with the attempt.
        return res.body(format!("receiver refused with {status}"));
    }
    res.finish()
}

#[test]
fn the_receiver_verifies_the_standard_webhooks_test_vector() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let body = br#"{"test": 2432232314}"#;
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(secret, id, "1614265330", body, good));
    assert!(verify(
        secret,
        id,
        "1614265330",
        body,
        &format!("v1,AAAA {good}")
    ));
    assert!(!verify(secret, id, "1614265331", body, good));
    assert!(!verify(secret, "msg_other", "1614265330", body, good));
    assert!(!verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        id,
        "1614265330",
        body,
        good
    ));
}
