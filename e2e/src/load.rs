//! The closed-loop load the benchmarks share: `clients` tasks, each
//! sending its next call only once the last one answered.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// What a closed-loop run saw: the latency of every call that succeeded,
/// sorted, the calls that failed, and how long the run took.
#[derive(Debug, Default)]
pub struct ClosedLoop {
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl ClosedLoop {
    /// Successful calls per second.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `call` from `clients` tasks for `seconds`; `call` answers whether
/// the call succeeded.
pub async fn closed_loop<F, Fut>(clients: usize, seconds: u64, call: F) -> ClosedLoop
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if call().await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut run = ClosedLoop::default();
    for task in tasks {
        let (mut part, failed) = task.await.expect("a load task");
        run.latencies.append(&mut part);
        run.errors += failed;
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    run
}
