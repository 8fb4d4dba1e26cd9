//! Webhook events. This slice writes them to the outbox; delivery is a separate worker
//! that reads only the outbox.

pub mod event;
pub mod retry;
pub mod signer;
