//! The pause between compare-and-set retries. Writers that lost a race and
//! retry at once meet again at once; a jittered, growing pause spreads them
//! out so one of them commits, and its cap keeps a retry from waiting long.

use std::time::Duration;

/// The window of the first retry.
const FIRST: Duration = Duration::from_micros(50);
/// No pause is longer than this.
const CAP: Duration = Duration::from_millis(10);

/// Exponential backoff with full jitter: the n-th pause is uniform in
/// `[0, min(CAP, FIRST * 2^n)]`.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self::default()
    }

    /// The window the next pause is drawn from.
    pub fn window(&self) -> Duration {
        FIRST.saturating_mul(1u32 << self.attempt.min(16)).min(CAP)
    }

    /// The next pause, and the window grows.
    pub fn next_pause(&mut self) -> Duration {
        let window = self.window();
        self.attempt = self.attempt.saturating_add(1);
        window.mul_f64(rand::random::<f64>())
    }

    /// Sleeps for the next pause.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_pause()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_up_to_the_cap_and_are_jittered() {
        let mut backoff = Backoff::new();
        assert_eq!(backoff.window(), FIRST);
        let pauses: Vec<Duration> = (0..40).map(|_| backoff.next_pause()).collect();
        assert!(pauses.iter().all(|pause| *pause <= CAP));
        assert_eq!(backoff.window(), CAP, "the window stops growing at the cap");
        assert!(pauses[..2].iter().all(|pause| *pause <= FIRST * 2));
        let late = &pauses[20..];
        assert!(late.iter().any(|pause| *pause != late[0]), "pauses are jittered");
        assert!(late.iter().any(|pause| *pause > CAP / 10), "late pauses use the grown window");
    }
}
