//! Webhooks: the events written to the outbox (`event`), and their delivery, which reads
//! only the outbox: fan-out, leases and sending (`dispatcher`), signatures (`signer`),
//! the retry policy (`retry`) and the refusal of internal targets (`ssrf`).

pub mod breaker;
pub mod dispatcher;
pub mod event;
pub mod retry;
pub mod signer;
pub mod ssrf;
