//! Cost of applying 500 objects, over real HTTP with the real `kube` client,
//! against the in-process API server double (`tests/apiserver-double`).
//!
//! One Namespace and 499 objects in it (ConfigMaps, Services and
//! Deployments in turn), applied as one kustomization with the health wait
//! on (the double reports Deployments ready at once, so the wait costs one
//! read per Deployment). Run with `cargo bench -p rekon --bench apply`:
//! - `first`: every object created (a fresh double per iteration);
//! - `diff`: `Cluster::diff` on the applied cluster (nothing to show);
//! - `unchanged`: the second apply, every object unchanged (a
//!   reconciler's usual pass): dry-runs and reads, no writes but the
//!   inventory.
//!
//! The double answers in microseconds from memory, so this measures rekon's
//! own cost per object (requests, JSON, comparisons), not a cluster's.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rekon::apply::{Action, Cluster};
use rekon::config::{Config, Kustomization};
use rekon_apiserver_double::ApiServer;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

const OBJECTS: usize = 500;

fn objects() -> Vec<Value> {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"},
    })];
    for i in 1..OBJECTS {
        let name = format!("app-{i}");
        let labels = json!({"app": name});
        objects.push(match i % 3 {
            0 => json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "bench", "labels": labels},
                "data": {"greeting": "hello", "index": i.to_string()},
            }),
            1 => json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": "bench", "labels": labels},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
            }),
            _ => json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "bench", "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{
                            "name": "app",
                            "image": "harbor.lan/website/frontend:main-abc1234-1767225600",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                        }]},
                    },
                },
            }),
        });
    }
    objects
}

fn kustomization() -> Kustomization {
    let toml = "[[kustomizations]]\nname = \"bench\"\npath = \".\"\ntimeout = \"30s\"\n";
    Config::parse(toml, Path::new("rekon.toml"))
        .unwrap()
        .kustomizations
        .remove(0)
}

/// A fresh double and a client for it.
fn cluster(runtime: &Runtime) -> (ApiServer, Cluster, tempfile::TempDir) {
    let server = ApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let cluster = runtime
        .block_on(Cluster::connect(Some(&kubeconfig), None))
        .unwrap();
    (server, cluster, dir)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let k = kustomization();
    let objects = objects();

    let mut group = c.benchmark_group("apply-500");
    group.throughput(Throughput::Elements(OBJECTS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(12));

    group.bench_function("first", |b| {
        b.iter_batched(
            || cluster(&runtime),
            |(server, cluster, dir)| {
                let report = runtime.block_on(cluster.apply(&k, &objects)).unwrap();
                assert!(report.applied.iter().all(|a| a.action == Action::Created));
                // Stopping the double is not part of the apply.
                (server, cluster, dir)
            },
            BatchSize::PerIteration,
        )
    });

    let (_server, applied, _dir) = cluster(&runtime);
    let report = runtime.block_on(applied.apply(&k, &objects)).unwrap();
    assert_eq!(report.applied.len(), OBJECTS);
    assert!(report.succeeded());

    group.bench_function("diff", |b| {
        b.iter(|| {
            let diffs = runtime.block_on(applied.diff(&k, &objects)).unwrap();
            assert!(diffs.is_empty());
        })
    });

    group.bench_function("unchanged", |b| {
        b.iter(|| {
            let report = runtime.block_on(applied.apply(&k, &objects)).unwrap();
            assert!(report.applied.iter().all(|a| a.action == Action::Unchanged));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
