//! offboard: a SCIM 2.0 deprovisioning service.
//!
//! A request flows one way: `routes` (parse, authenticate, render) -> `service` (one unit
//! of work: `service::work`) -> `domain` (decide: next state, events) and `store`
//! (queries; outbox and audit rows) -> commit. `webhook` reads the outbox afterwards.
//! Imports only point down that line; `scim` (the protocol's parsing and documents),
//! `state`, `configuration` and `ids` sit at the bottom and are used from above.

pub mod admission;
pub mod auth;
pub mod backup;
pub mod configuration;
pub mod connection;
pub mod cpu;
pub mod db;
pub mod domain;
pub mod fair;
pub mod forwarded;
pub mod inspector;
pub mod metrics;
pub mod readiness;
pub mod routes;
pub mod scim;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod views;
pub mod webhook;

/// Installs rustls' ring crypto provider for the process (reqwest's TLS needs one).
/// Idempotent: later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
