//! Plugins in JavaScript and Python: the examples under `examples/plugins/`
//! are built from source (componentize-js, componentize-py; `tests/run.sh`
//! installs both) and must pass their `rekon test` suites in the real
//! sandbox, and work through `rekon plugin run` and `inspect` as any plugin.

use crate::support;

use support::langs::{build, rekon, repo, show, suite_passes};

#[test]
fn python_calver_policy_passes_its_suite_and_ranks_tags() {
    let dir = repo().join("examples/plugins/calver-policy");
    let wasm = build(&dir, "calver-policy");
    assert!(suite_passes(&dir) >= 10);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args([
            "--cache-dir",
            repo().join("target/rekon-test-cache").to_str().unwrap(),
        ])
        .args(["plugin", "run", "--plugin", wasm.to_str().unwrap()])
        .args(["--settings", r#"{"prereleases": true}"#])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"2026.11.3\n2026.11.10-rc1\nlatest\n2026.9.30\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2026.11.10-rc1\n2026.11.3\n2026.9.30\n"
    );

    let out = rekon(&dir, &["plugin", "inspect", "dist/calver-policy.wasm"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("world:     image-policy"), "{text}");
    assert!(text.contains("plugin:    calver-policy 0.1.0"), "{text}");
}

#[test]
fn javascript_arm64_affinity_passes_its_suite_and_imports_nothing_but_the_host() {
    let dir = repo().join("examples/plugins/arm64-affinity");
    build(&dir, "arm64-affinity");
    assert!(suite_passes(&dir) >= 10);

    let out = rekon(
        &dir,
        &["plugin", "inspect", "--json", "dist/arm64-affinity.wasm"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["world"], "manifest-mutator");
    assert_eq!(info["plugin_name"], "arm64-affinity");
    // build.sh disables every WASI feature, so only rekon's own interfaces remain.
    let imports: Vec<&str> = info["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        imports.iter().all(|i| i.starts_with("rekon:plugin/")),
        "{imports:?}"
    );

    let out = rekon(
        &dir,
        &[
            "plugin",
            "run",
            "--plugin",
            "dist/arm64-affinity.wasm",
            "--input",
            "tests/workloads.yaml",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(yaml.matches("kubernetes.io/arch").count(), 4, "{yaml}");
}
