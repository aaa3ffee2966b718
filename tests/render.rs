//! Rendering the bundled example through the library, and the errors bad
//! input produces.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rekon::config::Config;
use rekon::plugin::{CacheOutcome, Limits, PluginSource, Runtime, RuntimeOptions};
use rekon::render::{RenderError, Renderer};
use serde_json::{json, Value};

fn example_config() -> Config {
    // The example loads its plugins from examples/pi-website/plugins/ (copied there by tests/build-plugins.sh).
    Config::load(&support::repo().join("examples/pi-website/rekon.toml")).unwrap()
}

fn render_all(config: &Config) -> Vec<rekon::render::Rendered> {
    let selected = config.select(None).unwrap();
    let renderer = Renderer::load(config, support::runtime(), &selected).unwrap();
    selected
        .iter()
        .map(|k| renderer.render(&config.source_root, k).unwrap())
        .collect()
}

fn find<'a>(rendered: &'a [rekon::render::Rendered], kind: &str, name: &str) -> &'a Value {
    rendered
        .iter()
        .flat_map(|r| &r.objects)
        .map(|o| &o.object)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not rendered"))
}

#[test]
fn the_example_renders_with_plugin_changes_applied() {
    let config = example_config();
    let rendered = render_all(&config);

    let deployment = find(&rendered, "Deployment", "frontend");
    assert_eq!(deployment["metadata"]["namespace"], "website");
    let probe = &deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(
        probe["initialDelaySeconds"], 10,
        "raised from 5 by readiness-probe"
    );
    assert_eq!(probe["periodSeconds"], 5);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "harbor.lan/website/frontend:main-placeholder-0000000000"
    );

    let route = find(&rendered, "IngressRoute", "api");
    assert_eq!(route["spec"]["routes"][0]["priority"], 2000);
    let ingress = find(&rendered, "Ingress", "site");
    assert_eq!(
        ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.priority"],
        "1000"
    );

    // Namespace first (kustomize's order), and not namespaced itself.
    let first = &rendered[0].objects[0].object;
    assert_eq!(first["kind"], "Namespace");
    assert!(first["metadata"].get("namespace").is_none());

    // --explain material: who changed what.
    let changes: Vec<String> = rendered
        .iter()
        .flat_map(|r| &r.changes)
        .map(|c| c.to_string())
        .collect();
    assert!(
        changes.contains(&"readiness-probe: Deployment/website/frontend spec.template.spec.containers[0].readinessProbe.initialDelaySeconds: 5 -> 10".to_string()),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c
                .starts_with("traefik-priority: IngressRoute/website/api spec.routes[0].priority")),
        "{changes:#?}"
    );
    // The Service was out of scope for every mutator.
    assert!(
        !changes.iter().any(|c| c.contains("Service/")),
        "{changes:#?}"
    );
}

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A scratch source with the example's config and plugins, and manifests of the test's choosing.
fn scratch(manifests: &[(&str, &str)]) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = support::repo().join("examples/pi-website/plugins");
    let toml = format!(
        "[plugins.readiness-probe]\npath = \"{0}/readiness-probe.wasm\"\n\
         [plugins.image-validator]\npath = \"{0}/image-validator.wasm\"\n\
         [[kustomizations]]\nname = \"app\"\npath = \"app\"\nmutators = [\"readiness-probe\"]\nvalidators = [\"image-validator\"]\n",
        plugins.display()
    );
    write(dir.path(), "rekon.toml", &toml);
    for (file, text) in manifests {
        write(dir.path(), file, text);
    }
    let config = Config::load(&dir.path().join("rekon.toml")).unwrap();
    (dir, config)
}

fn render_err(config: &Config) -> String {
    let selected = config.select(None).unwrap();
    let renderer = Renderer::load(config, support::runtime(), &selected).unwrap();
    renderer
        .render(&config.source_root, selected[0])
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_yaml_names_the_file_and_line() {
    let (_dir, config) = scratch(&[
        ("app/kustomization.yaml", "resources:\n  - deploy.yaml\n"),
        (
            "app/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n",
        ),
    ]);
    let err = render_err(&config);
    assert!(err.contains("app/deploy.yaml"), "{err}");
    assert!(
        err.contains(":6")
            || err.contains("line 6")
            || err.contains(":7")
            || err.contains("line 7"),
        "{err}"
    );
}

#[test]
fn a_missing_resource_names_the_kustomization() {
    let (_dir, config) = scratch(&[("app/kustomization.yaml", "resources:\n  - nowhere.yaml\n")]);
    let err = render_err(&config);
    assert!(
        err.contains("app/kustomization.yaml") && err.contains("nowhere.yaml"),
        "{err}"
    );
}

#[test]
fn a_path_outside_the_source_is_refused() {
    let (_dir, config) = scratch(&[(
        "app/kustomization.yaml",
        "resources:\n  - ../../etc/passwd\n",
    )]);
    let err = render_err(&config);
    assert!(err.contains("outside the source"), "{err}");
}

#[test]
fn an_error_violation_stops_the_render_and_names_the_object() {
    let (_dir, config) = scratch(&[
        ("app/kustomization.yaml", "resources:\n  - pod.yaml\n"),
        (
            "app/pod.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: latest-app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:latest\n",
        ),
    ]);
    let selected = config.select(None).unwrap();
    let renderer = Renderer::load(&config, support::runtime(), &selected).unwrap();
    let err = renderer
        .render(&config.source_root, selected[0])
        .unwrap_err();
    let RenderError::Denied { findings, .. } = &err else {
        panic!("expected a denial, got {err}")
    };
    let text = err.to_string();
    assert!(
        findings
            .iter()
            .any(|f| f.violation.path == "spec.template.spec.containers[0].image"),
        "{text}"
    );
    assert!(
        text.contains("Deployment/latest-app (app/pod.yaml:1)"),
        "{text}"
    );
    assert!(text.contains("[image-validator]"), "{text}");
}

#[test]
fn invalid_settings_are_refused_before_rendering() {
    let (dir, _) = scratch(&[("app/kustomization.yaml", "resources: []\n")]);
    let toml = std::fs::read_to_string(dir.path().join("rekon.toml")).unwrap();
    let toml = toml.replace(
        "mutators = [\"readiness-probe\"]",
        "mutators = [{ plugin = \"readiness-probe\", settings = { readinessProbe = { periodSeconds = \"often\" } } }]",
    );
    std::fs::write(dir.path().join("rekon.toml"), toml).unwrap();
    let config = Config::load(&dir.path().join("rekon.toml")).unwrap();
    let selected = config.select(None).unwrap();
    let err = Renderer::load(&config, support::runtime(), &selected)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("plugin `readiness-probe`: settings refused"),
        "{err}"
    );
}

#[test]
fn the_compile_cache_is_hit_on_the_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let source = PluginSource {
        name: "flux".into(),
        path: support::wasm("flux_policy"),
        sha256: None,
        limits: Limits::default(),
    };
    assert_eq!(
        runtime.load(&source).unwrap().cache_outcome(),
        CacheOutcome::Compiled
    );
    assert_eq!(
        runtime.load(&source).unwrap().cache_outcome(),
        CacheOutcome::Hit
    );
    // A fresh runtime (a restart) hits the same entry.
    let again = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        again.load(&source).unwrap().cache_outcome(),
        CacheOutcome::Hit
    );
    // A corrupt entry is ignored and rewritten, not fatal.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    assert_eq!(
        again.load(&source).unwrap().cache_outcome(),
        CacheOutcome::Compiled
    );
}

#[test]
fn precompiled_artifacts_load_here_and_build_for_aarch64() {
    let wasm = std::fs::read(support::wasm("flux_policy")).unwrap();
    let native = rekon::plugin::precompile_for_target(&wasm, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flux.cwasm");
    std::fs::write(&path, &native).unwrap();
    let plugin = support::runtime()
        .load(&PluginSource {
            name: "flux".into(),
            path,
            sha256: None,
            limits: Limits::default(),
        })
        .unwrap();
    assert_eq!(plugin.description().name, "flux-policy");

    let arm =
        rekon::plugin::precompile_for_target(&wasm, Some("aarch64-unknown-linux-gnu")).unwrap();
    // rekon's header line (the declarations), then an ELF object for the Pi.
    assert!(arm.starts_with(b"\0rekon-artifact 1\n"));
    let header_end = 18 + arm[18..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let elf = &arm[header_end..];
    assert!(
        elf.starts_with(b"\x7fELF"),
        "an ELF object after the header"
    );
    // e_machine 0xB7 = EM_AARCH64.
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 0xB7);
}

/// Runs `rekon` with `args` and returns its stdout, once it succeeded.
fn rekon_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rekon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `rekon plugin compile` keeps what the component declares: a precompiled
/// readiness-probe is shown only the workloads of its interest, as the
/// `.wasm` is, and `plugin inspect` says so.
#[test]
fn a_precompiled_plugin_keeps_its_interest() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("readiness-probe.cwasm");
    let wasm = support::wasm("readiness_probe");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    rekon_ok(&["plugin", "compile", &path(&wasm), "-o", &path(&artifact)]);
    let load = |path: PathBuf| {
        support::runtime()
            .load(&PluginSource {
                name: "readiness-probe".into(),
                path,
                sha256: None,
                limits: Limits::default(),
            })
            .unwrap()
    };
    let objects = [
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}}),
    ];
    let objects: Vec<&serde_json::Value> = objects.iter().collect();
    let precompiled = load(artifact.clone());
    assert_eq!(precompiled.shown(&objects), vec![1]);
    assert_eq!(precompiled.shown(&objects), load(wasm).shown(&objects));
    let text = rekon_ok(&["plugin", "inspect", &path(&artifact)]);
    assert!(text.contains("\"Deployment\""), "{text}");
    assert!(!text.contains("not recorded"), "{text}");
}
