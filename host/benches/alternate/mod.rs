//! Ratios from runs alternated one by one, in wall time and in the thread's
//! CPU time.
//!
//! Criterion runs one benchmark after the other; on a shared machine the
//! load changes between them, so the ratios a bench prints come from calls
//! alternated one by one instead. Wall time still counts the time the thread
//! waited for a core another process held; the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) leaves that out, so where the two disagree the
//! CPU ratio is the steadier one. Both are printed. Everything measured here
//! runs on the calling thread (a render and its plugin calls included).

use std::time::{Duration, Instant};

/// Medians of one side's runs.
#[derive(Debug, Clone, Copy)]
pub struct Medians {
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the calling thread.
    pub cpu: Duration,
}

impl Medians {
    /// `self / other` in wall time and in CPU time, as `1.23x wall, 1.20x CPU`.
    pub fn ratio(&self, other: &Medians) -> String {
        format!(
            "{:.2}x wall, {:.2}x CPU",
            self.wall.as_secs_f64() / other.wall.as_secs_f64(),
            self.cpu.as_secs_f64() / other.cpu.as_secs_f64()
        )
    }
}

/// Runs each of `sides` once per round, in turn, for `rounds` rounds; the
/// medians of each side.
pub fn alternate(rounds: usize, sides: &[&dyn Fn()]) -> Vec<Medians> {
    let mut samples = vec![(Vec::new(), Vec::new()); sides.len()];
    for _ in 0..rounds {
        for (side, (wall, cpu)) in sides.iter().zip(&mut samples) {
            let (started, cpu_started) = (Instant::now(), thread_cpu());
            side();
            cpu.push(thread_cpu() - cpu_started);
            wall.push(started.elapsed());
        }
    }
    samples
        .into_iter()
        .map(|(mut wall, mut cpu)| Medians {
            wall: median(&mut wall),
            cpu: median(&mut cpu),
        })
        .collect()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; the clock id is constant.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
