//! One origin fetch for concurrent misses of one key. (First cut: no
//! coalescing; the real one keeps this signature.)

use std::future::Future;

/// In-flight work by key; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Flights {}

impl Flights {
    /// Runs `work` for `key` unless a run for `key` is in flight, in which
    /// case waits for that run and returns its result.
    pub async fn run<T, F>(&self, _key: &str, work: F) -> T
    where
        T: Clone + Send + 'static,
        F: Future<Output = T> + Send,
    {
        work.await
    }
}
