//! Plugin cost against native Rust doing the same work.
//!
//! Run with `tests/build-plugins.sh && cargo bench -p rekon --bench plugins`;
//! docs/PERFORMANCE.md records a run. The workspace's bench profile builds
//! this with fat LTO and one codegen unit, as tests/build-plugins.sh builds
//! the plugins, so the native side is compiled as well as they are.
//!
//! Targets (issue #2): per-object cost of a batched mutator within 3x native
//! (issue #12: within 1.5x), a fresh instance under 20 µs, ranking 10,000
//! tags under 10 ms. The readiness-probe
//! and flux-policy groups also print plugin/native ratios from alternating
//! calls, in wall and CPU time (`alternate/`), for the default engine and for
//! one that keeps no memory resident between calls (`unkept_runtime`), and
//! the time of a one-object call right after a large one in each.

mod alternate;

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rekon::plugin::{Limits, Plugin, PluginSource, PoolSize, Runtime, RuntimeOptions, Tag};
use serde_json::{json, Value};

fn wasm(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} missing: run tests/build-plugins.sh",
        path.display()
    );
    path
}

fn load(runtime: &Runtime, name: &str) -> Plugin {
    runtime
        .load(&PluginSource {
            name: name.into(),
            path: wasm(name),
            sha256: None,
            limits: Limits::default(),
        })
        .unwrap()
}

fn deployment(i: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("frontend-{i}"), "namespace": "website", "labels": {"app": "frontend"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "frontend"}}, "template": {
            "metadata": {"labels": {"app": "frontend"}},
            "spec": {"containers": [{"name": "frontend", "image": "harbor.lan/website/frontend:main-abc1234-1767225600",
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
                "resources": {"limits": {"memory": "128Mi"}}}]}}}
    })
}

/// Settings choosing the Deployments of `namespace` (every object of the
/// bench is in `website`).
fn probe_settings(namespace: &str) -> Value {
    json!({"match": {"namespaces": [namespace]}, "readinessProbe": {"initialDelaySeconds": 10, "periodSeconds": 5}})
}

/// The readiness-probe mutation in native Rust, over the same JSON text the
/// plugin receives, the way the SDK does it: parse, change the probe of every
/// container of a Deployment in `namespace`, write out only the Deployments it
/// chose and keep the text it came as when the written text is the same (the
/// host sends serde_json's compact form). Until 2026-12-03 this baseline
/// cloned every object to compare values, as the SDK then did; the SDK has
/// not cloned since, so that baseline did more work than the plugin.
fn native_probe(objects: &[String], namespace: &str) -> Vec<String> {
    objects
        .iter()
        .map(|text| {
            let mut object: Value = serde_json::from_str(text).unwrap();
            if object["kind"] != "Deployment" || object["metadata"]["namespace"] != namespace {
                return text.clone();
            }
            if let Some(containers) = object
                .pointer_mut("/spec/template/spec/containers")
                .and_then(Value::as_array_mut)
            {
                for c in containers {
                    if let Some(probe) = c.get_mut("readinessProbe").and_then(Value::as_object_mut)
                    {
                        probe.insert("initialDelaySeconds".into(), json!(10));
                        probe.insert("periodSeconds".into(), json!(5));
                    }
                }
            }
            let written = object.to_string();
            if written == *text {
                text.clone()
            } else {
                written
            }
        })
        .collect()
}

/// A runtime whose pool keeps no memory resident between calls (every call
/// faults its pages in), as before 2026-12-03: the same plugin in it,
/// alternated with the default, shows what keeping memory resident buys in
/// the same run.
fn unkept_runtime(default: &Runtime) -> Runtime {
    if !default.keeps_memory_resident() {
        println!(
            "note: this kernel has no PAGEMAP_SCAN (Linux 6.7+), so no memory is kept \
             resident between calls and the two plugin sides below are the same"
        );
    }
    Runtime::new(RuntimeOptions {
        pool: PoolSize {
            keep_resident_bytes: 0,
            ..PoolSize::default()
        },
        ..RuntimeOptions::default()
    })
    .unwrap()
}

fn mutator(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = load(&runtime, "readiness_probe");
    let unkept_runtime = unkept_runtime(&runtime);
    let unkept = load(&unkept_runtime, "readiness_probe");
    let mut group = c.benchmark_group("readiness-probe");
    for n in [1usize, 1000] {
        let objects: Vec<String> = (0..n).map(|i| deployment(i).to_string()).collect();
        // `plugin`/`native`: every object changes. `*-unchanged`: the
        // settings choose another namespace, so every object is parsed,
        // looked at and returned as it came, what most objects of a render
        // see.
        for (suffix, namespace) in [("", "website"), ("-unchanged", "elsewhere")] {
            let settings = probe_settings(namespace);
            // The plugin must do the same work as the native version.
            let changes = plugin.mutate(&settings, &objects).unwrap();
            let mut all = objects.clone();
            for r in changes.replaced {
                all[r.index as usize] = r.object;
            }
            assert_eq!(all, native_probe(&objects, namespace));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("plugin{suffix}"), n),
                &objects,
                |b, o| b.iter(|| plugin.mutate(&settings, o).unwrap()),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("native{suffix}"), n),
                &objects,
                |b, o| b.iter(|| native_probe(o, namespace)),
            );
            if n > 1 {
                let sides = alternate::alternate(
                    ROUNDS,
                    &[
                        &|| drop(std::hint::black_box(plugin.mutate(&settings, &objects))),
                        &|| drop(std::hint::black_box(native_probe(&objects, namespace))),
                        &|| drop(std::hint::black_box(unkept.mutate(&settings, &objects))),
                    ],
                );
                print_sides(&format!("readiness-probe{suffix}/{n}"), &sides);
            }
        }
    }
    group.finish();
    small_after_large(&plugin, &unkept);
}

/// What keeping memory resident costs a one-object call made right after a
/// call over 1,000 objects in the same pool slot (it zeroes the kept pages
/// again; docs/PERFORMANCE.md): the one-object call alone is timed, each
/// round after a large call, in both engines in turn.
fn small_after_large(plugin: &Plugin, unkept: &Plugin) {
    let large: Vec<String> = (0..1000).map(|i| deployment(i).to_string()).collect();
    let small = vec![deployment(0).to_string()];
    let settings = probe_settings("website");
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (side, plugin) in [plugin, unkept].into_iter().enumerate() {
            plugin.mutate(&settings, &large).unwrap();
            let started = std::time::Instant::now();
            std::hint::black_box(plugin.mutate(&settings, &small).unwrap());
            times[side].push(started.elapsed());
        }
    }
    let [kept, faulting] = times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    });
    println!(
        "readiness-probe/1 right after a call over 1,000: {kept:.2?} with memory kept resident, \
         {faulting:.2?} without (medians of {ROUNDS} rounds)"
    );
}

/// Calls of each side behind a printed ratio.
const ROUNDS: usize = 101;

/// Prints the medians of alternated sides `[plugin, native, plugin in an
/// engine keeping no memory resident]` and both plugins' ratios to native.
fn print_sides(label: &str, sides: &[alternate::Medians]) {
    let [wasm, native, faulting] = sides else {
        panic!("three sides expected")
    };
    println!(
        "{label}: plugin {:.2?} ({:.2?} CPU), native {:.2?} ({:.2?} CPU), \
         plugin/native = {}; keeping no memory resident: plugin {:.2?} ({:.2?} CPU), \
         plugin/native = {} (medians of {ROUNDS} alternating calls each)",
        wasm.wall,
        wasm.cpu,
        native.wall,
        native.cpu,
        wasm.ratio(native),
        faulting.wall,
        faulting.cpu,
        faulting.ratio(native)
    );
}

fn instance(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let mut group = c.benchmark_group("fresh-instance");
    for name in ["readiness_probe", "flux_policy"] {
        let plugin = load(&runtime, name);
        group.bench_function(name, |b| b.iter(|| plugin.instantiate_only().unwrap()));
    }
    group.finish();
}

/// 10,000 tags in the seed's scheme, with placeholders and signatures mixed in.
fn tags() -> Vec<String> {
    (0..10_000u64)
        .map(|i| match i % 50 {
            0 => format!("main-{:07x}-{}.sig", i * 7919, 1_767_225_600 + i * 60),
            1 => "main-placeholder-0000000000".to_string(),
            _ => format!("main-{:07x}-{}", i * 7919, 1_767_225_600 + i * 60),
        })
        .collect()
}

fn policy(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = load(&runtime, "flux_policy");
    let settings_json = json!({"filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}, "policy": {"numerical": {"order": "asc"}}});
    let settings: flux_policy::Settings = serde_json::from_value(settings_json.clone()).unwrap();
    let names = tags();
    let wit_tags: Vec<Tag> = names
        .iter()
        .map(|n| Tag {
            name: n.clone(),
            digest: None,
            created: None,
        })
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        plugin.rank(&settings_json, "r", &wit_tags).unwrap(),
        flux_policy::rank(&settings, &refs).unwrap()
    );

    let unkept_runtime = unkept_runtime(&runtime);
    let unkept = load(&unkept_runtime, "flux_policy");
    let sides = alternate::alternate(
        ROUNDS,
        &[
            &|| {
                drop(std::hint::black_box(plugin.rank(
                    &settings_json,
                    "r",
                    &wit_tags,
                )))
            },
            &|| drop(std::hint::black_box(flux_policy::rank(&settings, &refs))),
            &|| {
                drop(std::hint::black_box(unkept.rank(
                    &settings_json,
                    "r",
                    &wit_tags,
                )))
            },
        ],
    );
    print_sides("flux-policy-10k-tags", &sides);

    let mut group = c.benchmark_group("flux-policy-10k-tags");
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function("plugin", |b| {
        b.iter(|| plugin.rank(&settings_json, "r", &wit_tags).unwrap())
    });
    group.bench_function("native", |b| {
        b.iter(|| flux_policy::rank(&settings, &refs).unwrap())
    });
    group.finish();
}

/// Loading a plugin on start: compiling with Cranelift vs the on-disk cache
/// (what a restart of rekon pays).
fn load_time(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let cold = Runtime::new(RuntimeOptions::default()).unwrap();
    let warm = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for name in ["readiness_probe", "flux_policy"] {
        load(&warm, name); // fill the cache
        group.bench_function(BenchmarkId::new("compile", name), |b| {
            b.iter(|| load(&cold, name))
        });
        group.bench_function(BenchmarkId::new("cached", name), |b| {
            b.iter(|| load(&warm, name))
        });
    }
    group.finish();
}

criterion_group!(benches, mutator, instance, policy, load_time);
criterion_main!(benches);
