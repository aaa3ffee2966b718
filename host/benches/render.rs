//! A whole render with the example's plugins against the same render without
//! plugins.
//!
//! A generated tree of 1,200 objects (400 Deployments, 400 Services, 400
//! ConfigMaps, one file each, listed by one `kustomization.yaml` that sets
//! the namespace `website`) is rendered through rekon's public API
//! ([`Renderer::render`]) twice per round:
//! - `plugins`: the kustomization uses the three plugins of
//!   `examples/pi-website/rekon.toml` with the settings written there
//!   (mutators readiness-probe and traefik-priority, validator
//!   image-validator), loaded from the compiled-plugin cache as on every
//!   restart of rekon;
//! - `none`: the same files, no plugins;
//! - `plugins-0.1` (when `REKON_BENCH_V01` names a directory holding builds
//!   of the same three plugins against `rekon:plugin@0.1.0`, e.g. built from
//!   an older checkout): the same render through the 0.1.0 path, every
//!   object shown to every plugin and returned whole.
//!
//! Run with `tests/build-plugins.sh && cargo bench -p rekon --bench render`
//! (release build). docs/PERFORMANCE.md ("Whole render") records a run; the
//! bench prints the ratios of the medians at the end, in wall and CPU time.

mod alternate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rekon::config::Config;
use rekon::plugin::{CacheOutcome, PluginSource, Runtime, RuntimeOptions};
use rekon::render::Renderer;

/// Objects of each kind; three kinds.
const PER_KIND: usize = 400;

/// The example's plugins this bench uses, in the example's roles.
const MUTATORS: [&str; 2] = ["readiness-probe", "traefik-priority"];
const VALIDATORS: [&str; 1] = ["image-validator"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes the tree under `dir/app`: one manifest per object and the
/// kustomization listing them.
fn write_tree(dir: &Path) {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    let mut resources = String::new();
    for i in 0..PER_KIND {
        // The first Deployment is the one the example's readiness-probe
        // settings select (`names = ["frontend"]`), so the mutator changes
        // one object, as in the example.
        let name = if i == 0 {
            "frontend".to_string()
        } else {
            format!("app-{i}")
        };
        let files = [
            (
                format!("deployment-{i}.yaml"),
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n\
                     spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n\
                     \x20   spec:\n      containers:\n        - name: app\n          image: harbor.lan/website/{name}:main-abc1234-1767225600\n\
                     \x20         ports:\n            - name: http\n              containerPort: 8080\n\
                     \x20         readinessProbe:\n            httpGet:\n              path: /healthz\n              port: http\n            initialDelaySeconds: 5\n\
                     \x20         resources:\n            requests:\n              cpu: 50m\n              memory: 64Mi\n            limits:\n              memory: 128Mi\n"
                ),
            ),
            (
                format!("service-{i}.yaml"),
                format!(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n\
                     spec:\n  selector:\n    app: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n"
                ),
            ),
            (
                format!("configmap-{i}.yaml"),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n\
                     data:\n  LOG_LEVEL: info\n  INDEX: \"{i}\"\n  GREETING: hello from {name}\n"
                ),
            ),
        ];
        for (file, text) in files {
            std::fs::write(app.join(&file), text).unwrap();
            resources.push_str(&format!("  - {file}\n"));
        }
    }
    std::fs::write(
        app.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: website\nresources:\n{resources}"
        ),
    )
    .unwrap();
}

/// A `rekon.toml` with two kustomizations over the same tree: `plugins`
/// (the example's plugin tables, copied verbatim but for absolute paths) and
/// `none`.
fn write_config(dir: &Path, v01: Option<&Path>) -> Config {
    let example_path = repo().join("examples/pi-website/rekon.toml");
    let example: toml::Table =
        toml::from_str(&std::fs::read_to_string(&example_path).unwrap()).unwrap();
    let mut plugins = toml::Table::new();
    for name in MUTATORS.iter().chain(&VALIDATORS) {
        let mut table = example["plugins"][*name].as_table().unwrap().clone();
        let path = example_path
            .parent()
            .unwrap()
            .join(table["path"].as_str().unwrap());
        assert!(
            path.exists(),
            "{} missing: run tests/build-plugins.sh",
            path.display()
        );
        table.insert("path".into(), path.display().to_string().into());
        plugins.insert(name.to_string(), table.clone().into());
        if let Some(v01) = v01 {
            let old = v01.join(format!("{}.wasm", name.replace('-', "_")));
            assert!(old.exists(), "{} missing", old.display());
            table.insert("path".into(), old.display().to_string().into());
            plugins.insert(format!("{name}-0.1"), table.into());
        }
    }
    let kustomization = |name: &str, mutators: &[&str], validators: &[&str]| {
        let mut k = toml::Table::new();
        k.insert("name".into(), name.into());
        k.insert("path".into(), "app".into());
        k.insert("mutators".into(), mutators.to_vec().into());
        k.insert("validators".into(), validators.to_vec().into());
        toml::Value::Table(k)
    };
    let mut config = toml::Table::new();
    config.insert("plugins".into(), plugins.into());
    config.insert(
        "kustomizations".into(),
        {
            let mut ks = vec![
                kustomization("plugins", &MUTATORS, &VALIDATORS),
                kustomization("none", &[], &[]),
            ];
            if v01.is_some() {
                let old = |names: &[&str]| -> Vec<String> {
                    names.iter().map(|n| format!("{n}-0.1")).collect()
                };
                let (m, v) = (old(&MUTATORS), old(&VALIDATORS));
                let m: Vec<&str> = m.iter().map(String::as_str).collect();
                let v: Vec<&str> = v.iter().map(String::as_str).collect();
                ks.push(kustomization("plugins-0.1", &m, &v));
            }
            ks
        }
        .into(),
    );
    let path = dir.join("rekon.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    Config::load(&path).unwrap()
}

fn render(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path());
    let v01 = std::env::var_os("REKON_BENCH_V01").map(PathBuf::from);
    let config = write_config(dir.path(), v01.as_deref());
    let selected = config.select(None).unwrap();

    // Fill the compiled-plugin cache, then load from it as a restart does.
    let cache = dir.path().join("cache");
    let options = || RuntimeOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    };
    Renderer::load(&config, &Runtime::new(options()).unwrap(), &selected).unwrap();
    let runtime = Runtime::new(options()).unwrap();
    let renderer = Renderer::load(&config, &runtime, &selected).unwrap();
    for name in MUTATORS.iter().chain(&VALIDATORS) {
        let plugin = runtime
            .load(&PluginSource {
                name: name.to_string(),
                path: config.plugins[*name].path.clone(),
                sha256: None,
                limits: config.plugins[*name].limits.clone(),
            })
            .unwrap();
        assert_eq!(plugin.cache_outcome(), CacheOutcome::Hit, "{name}");
    }
    let [with, without] = [selected[0], selected[1]];

    // Both renders give the same objects, but for what the plugins change.
    let plugged = renderer.render(&config.source_root, with).unwrap();
    let bare = renderer.render(&config.source_root, without).unwrap();
    assert_eq!(plugged.objects.len(), 3 * PER_KIND);
    assert_eq!(bare.objects.len(), 3 * PER_KIND);
    let changed: Vec<String> = plugged.changes.iter().map(|c| c.to_string()).collect();
    assert!(
        changed.iter().any(|c| c.starts_with(
            "readiness-probe: Deployment/website/frontend spec.template.spec.containers[0].readinessProbe.initialDelaySeconds: 5 -> 10"
        )),
        "{changed:#?}"
    );
    let differing = plugged
        .objects
        .iter()
        .zip(&bare.objects)
        .filter(|(p, b)| p.object != b.object)
        .count();
    assert_eq!(differing, 1, "only the frontend Deployment changes");

    let mut group = c.benchmark_group("render-1200");
    group.throughput(Throughput::Elements((3 * PER_KIND) as u64));
    group.measurement_time(Duration::from_secs(15));
    let old = selected.get(2).copied();
    if let Some(old) = old {
        let rendered = renderer.render(&config.source_root, old).unwrap();
        let same = rendered
            .objects
            .iter()
            .zip(&plugged.objects)
            .all(|(a, b)| a.object == b.object);
        assert!(same, "0.1.0 and 0.2.0 builds render the same objects");
    }
    for (label, k) in [("plugins", with), ("none", without)]
        .into_iter()
        .chain(old.map(|k| ("plugins-0.1", k)))
    {
        group.bench_function(label, |b| {
            b.iter(|| renderer.render(&config.source_root, k).unwrap())
        });
    }
    group.finish();

    // The ratios from renders alternated one by one (the machine may be
    // shared): `alternate` says why, and why CPU time too.
    let (renderer, root) = (&renderer, &config.source_root);
    let render = |k| move || drop(renderer.render(root, k).unwrap());
    let (with, without) = (render(with), render(without));
    let older = old.map(render);
    let mut sides: Vec<&dyn Fn()> = vec![&with, &without];
    if let Some(older) = &older {
        sides.push(older);
    }
    let medians = alternate::alternate(ROUNDS, &sides);
    let (plugged, bare) = (medians[0], medians[1]);
    println!(
        "render-1200: plugins {:.2?} ({:.2?} CPU), none {:.2?} ({:.2?} CPU), plugins/none = {} \
         (medians of {ROUNDS} alternating renders each)",
        plugged.wall,
        plugged.cpu,
        bare.wall,
        bare.cpu,
        plugged.ratio(&bare)
    );
    if let Some(older) = medians.get(2) {
        println!(
            "render-1200: plugins-0.1 {:.2?} ({:.2?} CPU), plugins-0.1/none = {}, plugins-0.1/plugins = {}",
            older.wall,
            older.cpu,
            older.ratio(&bare),
            older.ratio(&plugged)
        );
    }
}

/// Rounds (one render with plugins, one without) behind the printed ratio.
const ROUNDS: usize = 61;

criterion_group!(benches, render);
criterion_main!(benches);
