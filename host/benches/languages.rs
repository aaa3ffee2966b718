//! Plugins in Rust, JavaScript and Python side by side: component size, first
//! load (Cranelift compile), load from the on-disk cache, the first call after
//! a load, and later calls (also in an engine that keeps no memory resident
//! between calls, alternated with the default). One run, one table (markdown, for
//! docs/PERFORMANCE.md).
//!
//! Run with `tests/bench-languages.sh`, which builds the plugins first. Not
//! criterion: a first load is a one-off of seconds, which criterion's
//! sampling cannot measure; every other figure is a median of repeated runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rekon::plugin::{
    CacheOutcome, Limits, Plugin, PluginSource, PoolSize, Runtime, RuntimeOptions, Tag,
};
use serde_json::json;

/// Repetitions of each cached load and of each call.
const LOADS: usize = 5;
const CALLS: usize = 50;

struct Case {
    label: &'static str,
    file: &'static str,
    call: fn(&Plugin),
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn deployment() -> Vec<String> {
    vec![json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "frontend", "namespace": "website", "labels": {"app": "frontend"}},
        "spec": {"selector": {"matchLabels": {"app": "frontend"}}, "template": {
            "metadata": {"labels": {"app": "frontend"}},
            "spec": {"containers": [{"name": "frontend", "image": "harbor.lan/website/frontend:2026.11.3",
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5}}]}}}
    })
    .to_string()]
}

fn calver_tags() -> Vec<Tag> {
    [
        "2026.9.30",
        "2026.11.3",
        "2026.11.3-rc1",
        "2026.11.10-rc1",
        "2025.12.31",
        "latest",
        "2026.10.1",
        "2026.2.1",
        "2026.11.2",
        "main-3f2a9c1",
    ]
    .iter()
    .map(|name| Tag {
        name: name.to_string(),
        digest: None,
        created: None,
    })
    .collect()
}

fn mutate_probe(plugin: &Plugin) {
    let settings = json!({"readinessProbe": {"initialDelaySeconds": 10}});
    let out = plugin.mutate(&settings, &deployment()).unwrap();
    assert!(
        out.replaced[0]
            .object
            .contains("\"initialDelaySeconds\":10"),
        "{out:?}"
    );
}

fn mutate_arch(plugin: &Plugin) {
    let out = plugin.mutate(&json!({}), &deployment()).unwrap();
    assert!(
        out.replaced[0].object.contains("kubernetes.io/arch"),
        "{out:?}"
    );
}

fn rank_sortable(plugin: &Plugin) {
    let settings = json!({"pattern": "^(?P<v>[0-9]{4}\\.[0-9]+\\.[0-9]+)$", "keys": [{"group": "v", "type": "calver"}]});
    let ranked = plugin
        .rank(&settings, "harbor.lan/home/grafana", &calver_tags())
        .unwrap();
    assert_eq!(ranked[0], "2026.11.3");
}

fn rank_calver(plugin: &Plugin) {
    let ranked = plugin
        .rank(&json!({}), "harbor.lan/home/grafana", &calver_tags())
        .unwrap();
    assert_eq!(ranked[0], "2026.11.3");
}

fn load(runtime: &Runtime, file: &Path) -> (Plugin, Duration) {
    let start = Instant::now();
    let plugin = runtime
        .load(&PluginSource {
            name: file.file_stem().unwrap().to_string_lossy().into_owned(),
            path: file.to_path_buf(),
            sha256: None,
            limits: Limits {
                timeout: Duration::from_secs(10),
                ..Limits::default()
            },
        })
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    (plugin, start.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn runtime(cache: Option<&Path>) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: cache.map(Path::to_path_buf),
        ..Default::default()
    })
    .unwrap()
}

fn show(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no options.
    let cases = [
        Case {
            label: "readiness-probe (Rust, mutator)",
            file: "target/wasm32-wasip2/release/readiness_probe.wasm",
            call: mutate_probe,
        },
        Case {
            label: "arm64-affinity (JavaScript, mutator)",
            file: "examples/plugins/arm64-affinity/dist/arm64-affinity.wasm",
            call: mutate_arch,
        },
        Case {
            label: "sortable-policy (Rust, image policy)",
            file: "target/wasm32-wasip2/release/sortable_policy.wasm",
            call: rank_sortable,
        },
        Case {
            label: "calver-policy (Python, image policy)",
            file: "examples/plugins/calver-policy/dist/calver-policy.wasm",
            call: rank_calver,
        },
    ];
    println!("| plugin | size | first load (compile) | cached load | first call after load | later calls | later calls, no memory kept resident | fresh instance |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for case in &cases {
        let file = repo().join(case.file);
        assert!(
            file.exists(),
            "{} missing: run tests/bench-languages.sh",
            file.display()
        );
        let size = std::fs::metadata(&file).unwrap().len();

        // First start: no cache, Cranelift compiles the whole component.
        let (_, compile) = load(&runtime(None), &file);

        // Restarts: a new engine each time, loading the artifact the first one stored.
        let cache = tempfile::tempdir().unwrap();
        let (stored, _) = load(&runtime(Some(cache.path())), &file);
        assert_eq!(stored.cache_outcome(), CacheOutcome::Compiled);
        let mut cached = Vec::new();
        let mut first_calls = Vec::new();
        let mut plugin = None;
        for _ in 0..LOADS {
            let rt = runtime(Some(cache.path()));
            let (p, took) = load(&rt, &file);
            assert_eq!(p.cache_outcome(), CacheOutcome::Hit);
            cached.push(took);
            let start = Instant::now();
            (case.call)(&p);
            first_calls.push(start.elapsed());
            plugin = Some((rt, p));
        }
        let (_rt, plugin) = plugin.unwrap();
        // The same plugin in an engine that keeps no memory resident between
        // calls (as before 2026-12-03), its calls alternated with the
        // default's so both columns come from the same minutes.
        let unkept_rt = Runtime::new(RuntimeOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            pool: PoolSize {
                keep_resident_bytes: 0,
                ..PoolSize::default()
            },
        })
        .unwrap();
        let (unkept, _) = load(&unkept_rt, &file);
        let timed = |plugin: &Plugin| {
            let start = Instant::now();
            (case.call)(plugin);
            start.elapsed()
        };
        let (calls, unkept_calls): (Vec<_>, Vec<_>) =
            (0..CALLS).map(|_| (timed(&plugin), timed(&unkept))).unzip();
        let instances = (0..CALLS)
            .map(|_| {
                let start = Instant::now();
                plugin.instantiate_only().unwrap();
                start.elapsed()
            })
            .collect();
        println!(
            "| {} | {:.1} MB ({size} bytes) | {} | {} | {} | {} | {} | {} |",
            case.label,
            size as f64 / 1e6,
            show(compile),
            show(median(cached)),
            show(median(first_calls)),
            show(median(calls)),
            show(median(unkept_calls)),
            show(median(instances)),
        );
    }
}
