//! CPU-bound request work (JSON parsing, validation, PATCH application) kept off the
//! async workers that serve every other request. Small inputs run inline (a thread hop
//! costs more than the work); larger ones run on the blocking pool, at most one per core
//! at a time, so a flood of large bodies queues here instead of starving `/healthz` or
//! another organization's requests.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

/// Inputs up to this many bytes are handled inline.
pub const INLINE_BYTES: usize = 16 * 1024;

static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Semaphore::new(cores)
});

#[derive(Debug, thiserror::Error)]
#[error("CPU-bound work failed to complete")]
pub struct Aborted;

/// Runs `work`, whose input is `weight` bytes large, inline or on the blocking pool.
pub async fn run<T, F>(weight: usize, work: F) -> Result<T, Aborted>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if weight <= INLINE_BYTES {
        return Ok(work());
    }
    let _slot = SLOTS.acquire().await.map_err(|_| Aborted)?;
    tokio::task::spawn_blocking(work).await.map_err(|_| Aborted)
}
