//! Cost of one image scan over a large repository: 10,000 tags served by
//! Debian's `docker-registry` on loopback, listed in pages of 1,000, ranked
//! by the flux-policy plugin, and the chosen tag's platform checked
//! (linux/arm64). Run with `cargo bench -p rekon --bench registry` (needs
//! `docker-registry` and `skopeo`, and the plugins built).
//!
//! Setup pushes one image with skopeo and then tags its manifest 10,000
//! times with plain `PUT /v2/.../manifests/TAG` requests, which takes
//! seconds instead of the hour 10,000 skopeo pushes would.

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use rekon::config::Config;
use rekon::images::registry::RegistryClient;
use rekon::images::scan::scan;
use rekon::images::tagstore::TagStore;
use rekon::plugin::{PluginSource, Runtime, RuntimeOptions};

#[path = "../../tests/support/registry.rs"]
#[allow(dead_code)] // the tests use more of it
mod registry;

const TAGS: usize = 10_000;

fn scan_10k(c: &mut Criterion) {
    if !registry::tools() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wasm = repo.join("target/wasm32-wasip2/release/flux_policy.wasm");
    assert!(wasm.exists(), "run tests/build-plugins.sh first");

    let started = Instant::now();
    let server = registry::Registry::start(None);
    let manifest = server.push(registry::PLACEHOLDER, &["arm64"]);
    for i in 0..TAGS {
        let tag = format!("main-{:07x}-{}", i * 7919, 1_767_000_000 + i);
        server.put_manifest(&tag, &manifest);
    }
    eprintln!("setup: {TAGS} tags in {:.1?}", started.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let host = server.host();
    let text = format!(
        "state-dir = \"state\"\n\
         [plugins.flux-policy]\npath = \"{}\"\n\
         settings = {{ filterTags = {{ pattern = \"^main-[a-f0-9]+-(?P<ts>[0-9]+)\", extract = \"$ts\" }}, policy = {{ numerical = {{ order = \"asc\" }} }} }}\n\
         [registries.local]\nurl = \"{host}\"\ninsecure = true\n\
         [images.\"flux-system:frontend\"]\nrepository = \"{host}/{}\"\nregistry = \"local\"\nplatform = \"linux/arm64\"\n",
        wasm.display(),
        registry::REPO,
    );
    let config = Config::parse(&text, &dir.path().join("rekon.toml")).unwrap();
    let image = &config.images["flux-system:frontend"];
    let declared = &config.plugins["flux-policy"];
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime
        .load(&PluginSource {
            name: "flux-policy".into(),
            path: declared.path.clone(),
            sha256: None,
            limits: declared.limits.clone(),
        })
        .unwrap();
    let client = RegistryClient::new(&image.registry).unwrap();
    let store = TagStore::new(dir.path().join("state/tags"));
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let once = tokio
        .block_on(scan(image, &client, &plugin, &store))
        .unwrap();
    assert!(once.succeeded(), "{once:?}");
    assert_eq!(once.tags, TAGS + 1);
    let newest = format!(
        "main-{:07x}-{}",
        (TAGS - 1) * 7919,
        1_767_000_000 + TAGS - 1
    );
    assert_eq!(once.chosen.as_deref(), Some(newest.as_str()));
    eprintln!(
        "one scan + rank of {} tags: {:.1?}",
        once.tags, once.duration
    );

    let mut group = c.benchmark_group("registry");
    group.sample_size(10);
    group.bench_function("scan_rank_10k_tags", |b| {
        b.iter(|| {
            tokio
                .block_on(scan(image, &client, &plugin, &store))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, scan_10k);
criterion_main!(benches);
