//! Declared capabilities (issue #6, part 4): what a plugin declares, what the
//! operator grants, and what the plugin then sees. The fixture
//! `tests/fixtures/capability-probe` reports the wall clock, the monotonic
//! clock and 16 random bytes it reads from WASI; it declares `clock` and
//! `random` with the Rust SDK, and the tests re-annotate copies of it to
//! declare less.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rekon::config::Config;
use rekon::plugin::capabilities::{self, DeclaredIn};
use rekon::plugin::{Capabilities, Grant, Limits, Plugin, PluginError, PluginSource};

/// What the probe reported in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    wall: Duration,
    monotonic: u64,
    random: String,
}

fn grant(names: &[&str]) -> Capabilities {
    Capabilities::parse(names.iter().copied()).unwrap()
}

/// The probe, annotated to declare `declared` (`None`: as built, declaring
/// clock and random in its core module), written to a temporary file.
fn probe(declared: Option<&[&str]>, dir: &Path) -> PathBuf {
    let built = support::wasm("capability_probe");
    let Some(declared) = declared else {
        return built;
    };
    let annotated =
        capabilities::annotate(&std::fs::read(&built).unwrap(), grant(declared)).unwrap();
    let path = dir.join(format!("probe-{}.wasm", declared.join("-")));
    std::fs::write(&path, annotated).unwrap();
    path
}

fn load(path: &Path, granted: &[&str]) -> Result<Plugin, PluginError> {
    support::runtime().load(&PluginSource {
        name: "probe".into(),
        path: path.to_path_buf(),
        sha256: None,
        limits: Limits {
            grant: Grant::of(grant(granted)),
            ..Limits::default()
        },
    })
}

fn see(plugin: &Plugin) -> Seen {
    let objects = vec![r#"{"kind":"ConfigMap","metadata":{"name":"x"}}"#.to_string()];
    let found = plugin
        .validate(&serde_json::json!({}), &objects)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.len(), 1, "{found:?}");
    parse_seen(&found[0].message)
}

fn parse_seen(message: &str) -> Seen {
    let field = |key: &str| {
        message
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {message:?}"))
            .to_string()
    };
    let (secs, nanos) = field("wall=")
        .split_once('.')
        .map(|(s, n)| (s.parse().unwrap(), n.parse().unwrap()))
        .unwrap();
    Seen {
        wall: Duration::new(secs, nanos),
        monotonic: field("monotonic=").parse().unwrap(),
        random: field("random="),
    }
}

fn assert_real_wall_clock(seen: &Seen) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let day = Duration::from_secs(86_400);
    assert!(
        seen.wall > now - day && seen.wall < now + day,
        "the plugin's wall clock {:?} is not the host's {now:?}",
        seen.wall
    );
}

#[test]
fn without_a_declaration_clocks_are_frozen_and_random_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = probe(Some(&[]), dir.path());
    // A grant must be asked for: granting what it does not declare refuses it.
    let Err(err) = load(&path, &["clock", "random"]) else {
        panic!("an undeclared grant was accepted")
    };
    assert!(
        err.to_string()
            .contains("its `grant` gives `clock`, `random`, which the plugin does not declare"),
        "{err}"
    );
    let plugin = load(&path, &[]).unwrap();
    let admission = plugin.admission();
    assert_eq!(admission.declared.declared_in, DeclaredIn::Component);
    assert_eq!(admission.effective, Capabilities::NONE);

    let first = see(&plugin);
    assert_eq!(first.wall, Duration::ZERO, "{first:?}");
    assert_eq!(first.monotonic, 0, "{first:?}");
    assert_ne!(first.random, "0".repeat(32));
    // Deterministic: every call, and every load, sees the same.
    assert_eq!(see(&plugin), first);
    assert_eq!(see(&load(&path, &[]).unwrap()), first);
}

#[test]
fn granting_clock_gives_the_real_clocks_and_only_them() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = see(&load(&probe(Some(&[]), dir.path()), &[]).unwrap());
    let plugin = load(&probe(Some(&["clock"]), dir.path()), &["clock"]).unwrap();
    let seen = see(&plugin);
    assert_real_wall_clock(&seen);
    assert_ne!(seen.monotonic, 0, "{seen:?}");
    assert_eq!(
        seen.random, fixed.random,
        "random must stay fixed without `random`"
    );
}

#[test]
fn granting_random_gives_real_randomness_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = see(&load(&probe(Some(&[]), dir.path()), &[]).unwrap());
    let plugin = load(&probe(Some(&["random"]), dir.path()), &["random"]).unwrap();
    let (a, b) = (see(&plugin), see(&plugin));
    assert_ne!(a.random, fixed.random);
    assert_ne!(
        a.random, b.random,
        "two calls drew the same 16 random bytes"
    );
    assert_eq!((a.wall, a.monotonic), (Duration::ZERO, 0), "{a:?}");
}

#[test]
fn the_sdk_declaration_in_the_core_module_is_read_and_honoured() {
    let path = probe(None, Path::new("."));
    let plugin = load(&path, &["clock", "random"]).unwrap();
    let admission = plugin.admission();
    assert_eq!(admission.declared.declared_in, DeclaredIn::CoreModule);
    assert_eq!(admission.effective, grant(&["clock", "random"]));
    assert_real_wall_clock(&see(&plugin));
}

#[test]
fn a_declared_capability_that_is_not_granted_refuses_the_plugin_at_load() {
    let Err(err) = load(&probe(None, Path::new(".")), &["clock"]) else {
        panic!("loaded although `random` is declared and not granted");
    };
    let PluginError::CapabilityNotGranted { missing, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(*missing, grant(&["random"]));
    let text = err.to_string();
    for needle in [
        "plugin `probe`",
        "declares capabilities that are not granted: `random` (granted: clock)",
        "add `grant = [\"random\"]` to [plugins.probe] in rekon.toml",
    ] {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
}

#[test]
fn plugins_built_before_capabilities_load_unchanged() {
    let plugin = support::load("readiness_probe", Limits::default());
    let admission = plugin.admission();
    assert_eq!(admission.declared.declared_in, DeclaredIn::Nowhere);
    assert_eq!(admission.effective, Capabilities::NONE);
}

/// wasmtime's artifact in a file `rekon plugin compile` wrote, without the
/// header that records the declarations: what it wrote before it did.
fn bare(artifact: &[u8]) -> &[u8] {
    let at = artifact
        .windows(4)
        .position(|w| w == b"\x7fELF")
        .expect("an ELF object after the header");
    &artifact[at..]
}

/// The probe, declaring `clock`, precompiled for this machine.
fn precompiled_probe(dir: &Path) -> Vec<u8> {
    let wasm = std::fs::read(probe(Some(&["clock"]), dir)).unwrap();
    rekon::plugin::precompile_for_target(&wasm, None).unwrap()
}

#[test]
fn a_precompiled_artifact_declares_what_its_component_did() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.cwasm");
    std::fs::write(&path, precompiled_probe(dir.path())).unwrap();
    let plugin = load(&path, &["clock"]).unwrap();
    assert_eq!(
        plugin.admission().declared.declared_in,
        DeclaredIn::Component
    );
    assert_eq!(plugin.admission().declared.capabilities, grant(&["clock"]));
    assert_real_wall_clock(&see(&plugin));
    // As with the component: what it declares must be granted.
    let err = load(&path, &[]).unwrap_err().to_string();
    assert!(
        err.contains("declares capabilities that are not granted: `clock`"),
        "{err}"
    );
}

#[test]
fn a_bare_precompiled_artifact_gets_exactly_its_grant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.cwasm");
    std::fs::write(&path, bare(&precompiled_probe(dir.path()))).unwrap();
    let plugin = load(&path, &["clock"]).unwrap();
    assert_eq!(
        plugin.admission().declared.declared_in,
        DeclaredIn::NotRecorded
    );
    assert_real_wall_clock(&see(&plugin));
    assert_eq!(see(&load(&path, &[]).unwrap()).wall, Duration::ZERO);
}

const TOML: &str = r#"
[plugins.probe]
path = "probe.wasm"
grant = ["clock", "random"]
"#;

#[test]
fn rekon_toml_grants_reach_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(probe(None, dir.path()), dir.path().join("probe.wasm")).unwrap();
    let config = Config::parse(TOML, &dir.path().join("rekon.toml")).unwrap();
    let p = &config.plugins["probe"];
    assert_eq!(p.limits.grant, Grant::of(grant(&["clock", "random"])));
    let plugin = support::runtime()
        .load(&PluginSource {
            name: "probe".into(),
            path: p.path.clone(),
            sha256: None,
            limits: p.limits.clone(),
        })
        .unwrap();
    assert_real_wall_clock(&see(&plugin));
}

#[test]
fn an_unknown_capability_in_rekon_toml_names_its_line() {
    let text = TOML.replace(r#""random"]"#, "\n  \"network\",\n]");
    let err = Config::parse(&text, Path::new("rekon.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "rekon.toml:5: plugins.probe.grant: unknown capability `network` (known: clock, random, secrets, create, delete, rename, sources)"
    );
}

fn rekon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .current_dir(cwd)
        .env(
            "REKON_CACHE_DIR",
            support::repo().join("target/rekon-test-cache"),
        )
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn inspect_shows_declared_granted_and_what_each_import_gets() {
    let repo = support::repo();
    let probe = support::wasm("capability_probe");
    let probe = probe.to_str().unwrap();
    let out = rekon(
        &["plugin", "inspect", probe, "--json", "--grant", "clock"],
        &repo,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["declared"], serde_json::json!(["clock", "random"]));
    assert_eq!(info["declared_in"], "core-module");
    assert_eq!(info["granted"], serde_json::json!(["clock"]));
    assert!(
        info["refused"].as_str().unwrap().contains("`random`"),
        "{info}"
    );
    let uses = info["import_uses"].as_array().unwrap();
    let wall = uses
        .iter()
        .find(|u| {
            u["import"]
                .as_str()
                .unwrap()
                .starts_with("wasi:clocks/wall-clock@")
        })
        .unwrap();
    assert!(
        wall["provides"].as_str().unwrap().contains("real"),
        "{wall}"
    );

    // Through --config: the grant of the table whose path is the file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(probe, dir.path().join("probe.wasm")).unwrap();
    std::fs::write(dir.path().join("rekon.toml"), TOML).unwrap();
    let out = rekon(
        &["plugin", "inspect", "probe.wasm", "--config", "rekon.toml"],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("  granted:   clock, random\n"), "{stdout}");
    assert!(stdout.contains("  in force:  clock, random\n"), "{stdout}");
    assert!(
        stdout.contains("wasi:sockets") || stdout.contains("wasi:cli/stdout"),
        "{stdout}"
    );
}

#[test]
fn annotate_then_run_with_and_without_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let probe = support::wasm("capability_probe");
    let input = support::repo().join("tests/fixtures/capability-probe/configmap.yaml");
    let out = rekon(
        &[
            "plugin",
            "annotate",
            probe.to_str().unwrap(),
            "--capability",
            "clock",
            "-o",
            "clock.wasm",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("declares clock"));

    let run = |extra: &[&str]| {
        let mut args = vec!["plugin", "run", "--plugin", "clock.wasm"];
        args.extend(["--input", input.to_str().unwrap()]);
        args.extend(extra);
        rekon(&args, dir.path())
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("--grant clock"),
        "{}",
        text(&refused.stderr)
    );
    let granted = run(&["--grant", "clock"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    let line = text(&granted.stdout);
    assert!(line.starts_with("info: [0] ConfigMap/probe"), "{line}");
    assert_real_wall_clock(&parse_seen(&line));

    let unknown = run(&["--grant", "network"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown capability `network`"));
}

#[test]
fn rekon_test_suites_grant_per_plugin() {
    let repo = support::repo();
    // The fixture's own suite grants clock and random and passes.
    let out = rekon(&["test", "tests/fixtures/capability-probe"], &repo);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");

    // The same suite without the grant cannot load the plugin.
    let dir = tempfile::tempdir().unwrap();
    let suite =
        std::fs::read_to_string(repo.join("tests/fixtures/capability-probe/rekon-test.yaml"))
            .unwrap()
            .replace("grant: [clock, random]\n", "")
            .replace("../../../target", repo.join("target").to_str().unwrap())
            .replace(
                "objects: configmap.yaml",
                "objects: [{kind: ConfigMap, metadata: {name: probe}}]",
            );
    std::fs::write(dir.path().join("rekon-test.yaml"), suite).unwrap();
    let out = rekon(&["test", "."], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("declares capabilities that are not granted: `clock`, `random`"),
        "{}",
        text(&out.stdout)
    );
}

/// Every `rekon` command of the "Capabilities" section of docs/plugins.md
/// runs and succeeds (from a directory where `target/` and `tests/` are the
/// repository's, so its relative paths hold and its outputs stay out of it).
#[test]
fn the_commands_of_the_guide_run() {
    let repo = support::repo();
    let guide = std::fs::read_to_string(repo.join("docs/plugins.md")).unwrap();
    let section = guide
        .split("\n## Capabilities\n")
        .nth(1)
        .expect("docs/plugins.md has a Capabilities section");
    let section = section.split("\n## ").next().unwrap();
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("rekon "))
        .collect();
    assert!(commands.len() >= 3, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    for link in ["target", "tests"] {
        std::os::unix::fs::symlink(repo.join(link), dir.path().join(link)).unwrap();
    }
    for command in &commands {
        // The guide's commands quote nothing, so white space splits them.
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = rekon(&args, dir.path());
        assert!(
            out.status.success(),
            "rekon {command}\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // The TOML of the section is a valid rekon.toml.
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("a toml block");
    Config::parse(toml, &dir.path().join("rekon.toml")).unwrap();
}
