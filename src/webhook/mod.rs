//! Webhook delivery, which reads only the outbox (events are decided in `domain::events`
//! and written by the use cases' units of work): fan-out, leases and sending
//! (`dispatcher`), signatures (`signer`), the retry policy (`retry`) and the refusal of
//! internal targets (`ssrf`). The circuit breaker is a pure policy in `domain::breaker`,
//! shared with the store that counts failures and the metrics that report it.

pub mod dispatcher;
pub mod retry;
pub mod signer;
pub mod ssrf;
