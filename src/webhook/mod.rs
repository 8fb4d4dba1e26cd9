//! Webhook delivery, which reads only the outbox (events are decided in `domain::events`
//! and written by the use cases' units of work): fan-out, leases and sending
//! (`dispatcher`), the circuit breaker (`breaker`), signatures (`signer`), the retry
//! policy (`retry`) and the refusal of internal targets (`ssrf`).

pub mod breaker;
pub mod dispatcher;
pub mod retry;
pub mod signer;
pub mod ssrf;
