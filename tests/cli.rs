//! The `rekon` binary as a user runs it.

use crate::support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn rekon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .current_dir(support::repo())
        .env(
            "REKON_CACHE_DIR",
            support::repo().join("target/rekon-test-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn first_party_plugin_suites_all_pass() {
    let out = rekon(&["test", "plugins"], None);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let last = stdout.lines().last().unwrap();
    let (passed, failed) = last.split_once(" passed, ").unwrap();
    assert!(passed.parse::<u32>().unwrap() >= 25, "{last}");
    assert_eq!(failed, "0 failed");
    for suite in [
        "flux-policy",
        "sortable-policy",
        "readiness-probe",
        "traefik-priority",
        "image-validator",
        "helm-k3s",
    ] {
        assert!(
            stdout.contains(suite),
            "suite {suite} did not run:\n{stdout}"
        );
    }
}

#[test]
fn a_failing_case_fails_the_run_and_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let suite = format!(
        "name: wrong\nplugin: {}\nsettings: {{policy: {{alphabetical: {{order: asc}}}}}}\ncases:\n  - name: expects the wrong tag\n    tags: [a, b]\n    expect: {{chosen: a}}\n  - name: expects the right tag\n    tags: [a, b]\n    expect: {{chosen: b}}\n",
        support::wasm("flux_policy").display()
    );
    std::fs::write(dir.path().join("rekon-test.yaml"), suite).unwrap();
    let out = rekon(&["test", dir.path().to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("expected \"a\" to be chosen, got \"b\""),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last().unwrap(), "1 passed, 1 failed");
}

#[test]
fn render_prints_yaml_and_explain_prints_changes() {
    let out = rekon(
        &["render", "--config", "examples/pi-website/rekon.toml"],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("initialDelaySeconds: 10"), "{stdout}");
    assert!(stdout.contains("priority: 2000"), "{stdout}");
    let docs: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(
        docs.len(),
        7,
        "3 frontend objects and 4 ingress objects: {stdout}"
    );

    let out = rekon(
        &[
            "render",
            "--config",
            "examples/pi-website/rekon.toml",
            "--explain",
            "frontend",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("readiness-probe: Deployment/website/frontend spec.template.spec.containers[0].readinessProbe.initialDelaySeconds: 5 -> 10"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("traefik-priority"),
        "only the named kustomization: {stdout}"
    );
}

#[test]
fn plugin_run_ranks_tags_from_stdin() {
    let settings = r#"{"filterTags":{"pattern":"^main-[a-f0-9]+-(?P<ts>[0-9]+)","extract":"$ts"},"policy":{"numerical":{"order":"asc"}}}"#;
    let plugin = support::wasm("flux_policy");
    let tags = "main-placeholder-0000000000\nmain-abc1234-1767225600\nmain-def5678-1767312000\nmain-def5678-1767312000.sig\n";
    let out = rekon(
        &[
            "plugin",
            "run",
            "--plugin",
            plugin.to_str().unwrap(),
            "--settings",
            settings,
        ],
        Some(tags),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "main-def5678-1767312000\nmain-abc1234-1767225600\n"
    );
}

#[test]
fn plugin_run_mutates_yaml_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.yaml");
    std::fs::write(
        &input,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx\n",
    )
    .unwrap();
    let plugin = support::wasm("image_validator");
    let out = rekon(
        &[
            "plugin",
            "run",
            "--plugin",
            plugin.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an untagged image is an error finding"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("error: [0] Deployment/web spec.template.spec.containers[0].image:"),
        "{stdout}"
    );
}

#[test]
fn plugin_inspect_shows_world_contract_and_imports() {
    let plugin = support::wasm("readiness_probe");
    let out = rekon(
        &["plugin", "inspect", "--json", plugin.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["world"], "manifest-mutator");
    assert_eq!(info["contract"], "rekon:plugin@0.2.0");
    assert_eq!(info["plugin_name"], "readiness-probe");
    assert!(info["imports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().starts_with("rekon:plugin/host@0.2.0")));
    // It declares the workload kinds it tunes.
    let rules = info["interest"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r["kinds"]
            .as_array()
            .is_some_and(|k| k.contains(&serde_json::json!("Deployment")))),
        "{info}"
    );
}

#[test]
fn plugin_compile_writes_an_artifact_for_the_pi() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("p.cwasm");
    let plugin = support::wasm("readiness_probe");
    let out = rekon(
        &[
            "plugin",
            "compile",
            plugin.to_str().unwrap(),
            "--target",
            "aarch64-unknown-linux-gnu",
            "-o",
            out_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // rekon's header line with the plugin's declarations, then wasmtime's
    // artifact (tests/render.rs checks it is for aarch64).
    let artifact = std::fs::read(&out_file).unwrap();
    let header = artifact
        .strip_prefix(b"\0rekon-artifact 1\n".as_slice())
        .expect("rekon's artifact header");
    let line = header.split(|&b| b == b'\n').next().unwrap();
    assert!(text(line).contains("Deployment"), "{}", text(line));
    assert!(header[line.len() + 1..].starts_with(b"\x7fELF"));
}

#[test]
fn config_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rekon.toml");
    std::fs::write(
        &config,
        "[[kustomizations]]\nname = \"a\"\npath = \"a\"\nmutators = [\"ghost\"]\n",
    )
    .unwrap();
    let out = rekon(&["render", "--config", config.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rekon.toml:4: kustomization `a`: mutator `ghost` is not declared"),
        "{stderr}"
    );
}

#[test]
fn check_validates_the_example_and_names_each_problem() {
    let out = rekon(
        &["check", "--config", "examples/pi-website/rekon.toml"],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok    plugin flux-policy: sha256 ",
        "ok    plugin readiness-probe: sha256 ",
        "ok    kustomization frontend: ",
        "ok    kustomization ingress: ",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }

    // A plugin refusing its settings, and a kustomization that cannot build:
    // both reported, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rekon.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.image-validator]\npath = \"{}\"\n\
             [[kustomizations]]\nname = \"web\"\npath = \"missing\"\n\
             validators = [{{ plugin = \"image-validator\", settings = {{ requireLimits = \"fatal\" }} }}]\n\
             [[kustomizations]]\nname = \"plain\"\npath = \"missing\"\n",
            support::wasm("image_validator").display()
        ),
    )
    .unwrap();
    let out = rekon(&["check", "--config", config.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  plugin image-validator: plugin `image-validator`: settings refused: requireLimits"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skip  kustomization web: a plugin it uses did not load"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  kustomization `plain`: "), "{stdout}");

    // A file that does not parse: exit 2, naming the line.
    std::fs::write(
        &config,
        "[[kustomizations]]\nname = \"a\"\npath = \"p\"\nintervall = \"1m\"\n",
    )
    .unwrap();
    let out = rekon(&["check", "--config", config.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 4") && stderr.contains("intervall"),
        "{stderr}"
    );
}

/// Compiling a plugin takes seconds on a Pi: at the default log level, a
/// first start says which plugin it compiles (file and size) and how long it
/// took, on stderr; a start with the compiled form cached says nothing.
#[test]
fn a_first_start_says_what_it_compiles_and_how_long_it_took() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    )
    .unwrap();
    let config = dir.path().join("rekon.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.probe]\npath = \"{}\"\n\
             [[kustomizations]]\nname = \"app\"\npath = \"app\"\nmutators = [\"probe\"]\n",
            support::wasm("readiness_probe").display()
        ),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let render = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
            .args(["--cache-dir", cache.to_str().unwrap()])
            .args(extra)
            .args(["render", "--config", config.to_str().unwrap()])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(text(&out.stdout).contains("name: cm"));
        stderr
    };

    let first = render(&[]);
    let compiling = first
        .lines()
        .find(|l| l.contains("INFO compiling plugin `probe` ("))
        .unwrap_or_else(|| panic!("no compile line in:\n{first}"));
    assert!(
        compiling.contains("readiness_probe.wasm, ") && compiling.contains(" KiB)"),
        "{compiling}"
    );
    let compiled = first
        .lines()
        .find_map(|l| l.split_once("INFO compiled plugin `probe` in "))
        .unwrap_or_else(|| panic!("no duration in:\n{first}"))
        .1;
    let number = compiled.trim_end_matches(|c: char| c.is_alphabetic() || c == 'µ');
    assert!(
        number.parse::<f64>().is_ok() && ["s", "ms"].contains(&&compiled[number.len()..]),
        "{compiled}"
    );
    // Plain text when stderr is not a terminal (a log file, a pipe).
    assert!(!first.contains('\u{1b}'), "{first:?}");

    let cached = render(&[]);
    assert!(!cached.contains("compil"), "{cached}");
    let verbose = render(&["-v"]);
    assert!(
        verbose.contains("plugin `probe` (") && verbose.contains("loaded from the cache"),
        "{verbose}"
    );
}
