//! Bounded exponential back-off, shared by the cluster, registry and git paths.

use std::time::Duration;

/// How transient failures are retried: at most `attempts` tries in all, the
/// first delay `first_delay`, doubled before each further try, capped at
/// `max_delay`. Bounded on purpose: an outage is reported, not waited out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all (1: no retry).
    pub attempts: u32,
    /// Delay before the second try.
    pub first_delay: Duration,
    /// Cap on one delay.
    pub max_delay: Duration,
}

impl Retry {
    /// Kubernetes API calls: 5 tries over about 4 s, long enough for an API
    /// server restart on a Pi to be noticed as an error rather than waited out.
    pub const CLUSTER: Retry = Retry {
        attempts: 5,
        first_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(2),
    };

    /// Registries and git remotes: 4 tries, 0.5 s doubling up to 8 s, so a
    /// rate limit (429) or a push race has time to clear.
    pub const REMOTE: Retry = Retry {
        attempts: 4,
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(8),
    };

    /// The delay after `delay`: doubled, capped at `max_delay`.
    pub fn next_delay(&self, delay: Duration) -> Duration {
        (delay * 2).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let r = Retry::REMOTE;
        let mut d = r.first_delay;
        let mut seen = vec![d];
        for _ in 0..5 {
            d = r.next_delay(d);
            seen.push(d);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000]);
    }
}
