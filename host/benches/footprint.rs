//! Footprint of `rekon run` on the example: steady-state memory while it
//! reconciles for a few minutes, and the latency from a Harbor webhook to
//! the new image applied. Real parts as in tests/daemon.rs (registry, git
//! daemon, API server double; the double answers rollouts at once, so the
//! latency excludes any real rollout).
//!
//! Run: `cargo bench -p rekon --bench footprint` (REKON_FOOTPRINT_SECS sets
//! the steady-state window, default 180). Prints a Markdown table, as
//! recorded in docs/PERFORMANCE.md.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::registry::ABC;
use support::world::{harbor_push, http, World, TOKEN};

/// VmRSS and VmHWM of `pid` in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let secs: u64 = std::env::var("REKON_FOOTPRINT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let Some(mut world) = World::new() else {
        eprintln!("footprint: skipped (docker-registry/skopeo missing)");
        return;
    };
    // Reconcile steadily: fetch and apply every 30 s, as a busy Pi would.
    world.source_interval = "30s";
    world.kustomization_interval = "30s";
    let mut rekon = world.start();
    let pid = rekon.id();
    world.wait("the frontend runs ABC", || world.image().ends_with(ABC));

    // Webhook -> applied, five times, each with a new tag.
    let mut latencies = Vec::new();
    for i in 0..5u32 {
        let tag = format!("main-{:07x}-{}", 0xbe0000 + i, 1767400000 + i);
        world.registry.push(&tag, &["arm64"]);
        let started = Instant::now();
        let (code, body) = http(
            world.listen,
            "POST",
            "/hook/harbor",
            &[("Authorization", TOKEN)],
            &harbor_push(&tag),
        );
        assert_eq!(code, 202, "{body}");
        while !world.image().ends_with(&tag) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}",
                world.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        latencies.push(started.elapsed());
    }

    // Steady state.
    let mut samples = Vec::new();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(secs) {
        samples.push(memory(pid).0);
        std::thread::sleep(Duration::from_secs(1));
    }
    let (last, peak) = memory(pid);
    if let Ok(path) = std::env::var("REKON_FOOTPRINT_SMAPS") {
        let _ = std::fs::copy(format!("/proc/{pid}/smaps"), path);
    }
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kinds: Vec<&str> = smaps
        .lines()
        .filter(|l| l.starts_with("Rss") || l.starts_with("Anonymous") || l.starts_with("Private"))
        .collect();
    eprintln!("smaps_rollup at the end:\n{}", kinds.join("\n"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    eprintln!(
        "{}",
        status
            .lines()
            .filter(|l| l.starts_with("Rss") || l.starts_with("Threads"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let reconciles = world.status().map(|s| s.to_string()).unwrap_or_default();
    assert!(
        rekon.try_wait().unwrap().is_none(),
        "rekon exited: {}",
        world.log()
    );
    let _ = rekon.kill();
    let _ = rekon.wait();

    samples.sort_unstable();
    latencies.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| steady-state RSS over {secs} s (median / max of 1 s samples) | {} / {} |",
        mib(samples[samples.len() / 2]),
        mib(*samples.last().unwrap())
    );
    println!(
        "| RSS at the end / peak (VmHWM) | {} / {} |",
        mib(last),
        mib(peak)
    );
    println!(
        "| webhook -> applied (median / max of {}) | {:.0?} / {:.0?} |",
        latencies.len(),
        median(&latencies),
        latencies.last().unwrap()
    );
    eprintln!("status at the end: {reconciles}");
}
