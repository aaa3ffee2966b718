//! When each item runs next: its interval with jitter, a shorter back-off
//! after failures, or at once when something triggers it.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// The first retry after a failure; doubled per consecutive failure.
const RETRY_BASE: Duration = Duration::from_secs(5);
/// Retries never wait longer than this (or the interval, if longer).
const RETRY_CAP: Duration = Duration::from_secs(300);

/// How long to wait before the next run of an item with `interval`:
/// after `failures` consecutive failures, 5 s doubling per failure up to
/// the larger of the interval and 5 minutes; otherwise the interval, moved
/// by up to `jitter` (a fraction) either way so items do not run in lockstep.
pub fn next_delay(interval: Duration, failures: u32, jitter: f64) -> Duration {
    if failures > 0 {
        let backoff = RETRY_BASE.saturating_mul(1u32 << (failures - 1).min(16));
        return backoff.min(interval.max(RETRY_CAP));
    }
    // A uniform value in [-1, 1): RandomState is seeded per process and
    // per call from the OS, which is plenty for spreading timers.
    let unit = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as f64
        / u64::MAX as f64;
    interval.mul_f64(1.0 + jitter * (2.0 * unit - 1.0))
}

/// A doorbell for one item: rung by webhooks, source changes and finished
/// dependencies; rings while the item is busy are kept (once) and make it
/// run again right after.
#[derive(Debug, Clone, Default)]
pub struct Trigger(Arc<Notify>);

impl Trigger {
    /// Ask the item to run as soon as it can.
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The delay passed.
    Timer,
    /// The trigger rang.
    Triggered,
    /// The daemon is shutting down.
    Shutdown,
}

/// Wait for `delay`, a ring of `trigger`, or shutdown, whichever is first.
pub async fn wait(
    delay: Duration,
    trigger: &Trigger,
    shutdown: &mut watch::Receiver<bool>,
) -> Wake {
    if *shutdown.borrow() {
        return Wake::Shutdown;
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => Wake::Timer,
        _ = trigger.0.notified() => Wake::Triggered,
        _ = shutdown.changed() => Wake::Shutdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_fraction() {
        let interval = Duration::from_secs(100);
        for _ in 0..200 {
            let d = next_delay(interval, 0, 0.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
        assert_eq!(next_delay(interval, 0, 0.0), interval);
    }

    #[test]
    fn failures_back_off_doubling_up_to_a_cap() {
        let minute = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=8)
            .map(|n| next_delay(minute, n, 0.1).as_secs())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        // A long interval is a long cap: never retry less often than the interval.
        assert_eq!(
            next_delay(Duration::from_secs(3600), 20, 0.1),
            Duration::from_secs(3600)
        );
    }

    #[tokio::test]
    async fn a_ring_while_busy_is_kept_once() {
        let trigger = Trigger::default();
        let (_tx, mut rx) = watch::channel(false);
        trigger.ring();
        trigger.ring();
        let long = Duration::from_secs(3600);
        assert_eq!(wait(long, &trigger, &mut rx).await, Wake::Triggered);
        let short = Duration::from_millis(20);
        assert_eq!(wait(short, &trigger, &mut rx).await, Wake::Timer);
    }

    #[tokio::test]
    async fn shutdown_ends_a_wait() {
        let trigger = Trigger::default();
        let (tx, mut rx) = watch::channel(false);
        let waiter =
            tokio::spawn(async move { wait(Duration::from_secs(3600), &trigger, &mut rx).await });
        tx.send(true).unwrap();
        assert_eq!(waiter.await.unwrap(), Wake::Shutdown);
    }
}
