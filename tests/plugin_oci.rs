//! Plugins from the registry: `rekon plugin push`/`pull` and `oci://`
//! plugin paths, against Debian's `docker-registry` on loopback with the
//! real first-party plugins. A registry handing out other bytes than the
//! digest names (which a real registry never does on demand) is the test
//! proxy of tests/support/registry.rs serving another manifest.
//!
//! Skipped with a message without docker-registry/skopeo/openssl, unless
//! `CI` is set.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rekon::config::Config;
use rekon::plugin::oci::{self, OciError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::registry::{tools, Proxy, Registry};

/// Run `rekon ARGS…`: exit code, stdout, stderr.
fn rekon(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(support::repo().join("target/rekon-test-cache"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Push a built plugin to `host/REPO:tag` over plain HTTP; its manifest digest.
fn push(crate_name: &str, host: &str, repo_tag: &str) -> String {
    let wasm = support::wasm(crate_name);
    let reference = format!("{host}/{repo_tag}");
    let (code, stdout, stderr) = rekon(&[
        "plugin",
        "push",
        wasm.to_str().unwrap(),
        &reference,
        "--plain-http",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let digest = stdout.trim().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{stdout}"
    );
    digest
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A source tree with the frontend Deployment and a rekon.toml whose
/// readiness-probe mutator is `path` (plus `extra` lines in its table).
fn site(dir: &Path, host: &str, path: &str, extra: &str) -> PathBuf {
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n  - deployment.yaml\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frontend\n  namespace: website\n\
         spec:\n  selector:\n    matchLabels: {app: frontend}\n  template:\n    metadata:\n      labels: {app: frontend}\n\
         \x20   spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n\
         \x20         readinessProbe:\n            httpGet: {path: /, port: 80}\n",
    )
    .unwrap();
    let config = format!(
        "cache-dir = \"cache\"\n\
         [registries.local]\nurl = \"{host}\"\ninsecure = true\ntimeout = \"5s\"\n\
         [plugins.readiness-probe]\npath = \"{path}\"\n{extra}\n\
         settings = {{ readinessProbe = {{ initialDelaySeconds = 17 }} }}\n\
         [[kustomizations]]\nname = \"site\"\npath = \".\"\nmutators = [\"readiness-probe\"]\n"
    );
    let file = dir.join("rekon.toml");
    std::fs::write(&file, config).unwrap();
    file
}

fn resolve(config: &Path) -> Result<PathBuf, OciError> {
    let config = Config::load(config).unwrap();
    oci::resolve_blocking(
        "readiness-probe",
        &config.plugins["readiness-probe"],
        &config.registries,
        config.cache_dir.as_deref(),
    )
}

#[test]
fn push_then_pull_gives_identical_bytes_in_the_wasm_artifact_layout() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let host = registry.host();
    let digest = push("flux_policy", &host, "rekon/flux-policy:1.0.0");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pulled.wasm");
    for reference in [
        format!("{host}/rekon/flux-policy:1.0.0"),
        format!("oci://{host}/rekon/flux-policy@{digest}"),
    ] {
        let (code, stdout, stderr) = rekon(&[
            "plugin",
            "pull",
            &reference,
            "-o",
            out.to_str().unwrap(),
            "--plain-http",
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert_eq!(stdout.trim(), digest);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(support::wasm("flux_policy")).unwrap()
        );
    }

    // Other tools see the CNCF Wasm layout: skopeo reads the manifest.
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{host}/rekon/flux-policy:1.0.0"))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        format!("sha256:{}", hex::encode(Sha256::digest(&raw.stdout))),
        digest
    );
    let manifest: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(
        layers[0]["digest"],
        format!("sha256:{}", sha256(&support::wasm("flux_policy")))
    );

    // A container image is not a plugin.
    registry.push("1.0", &["arm64"]);
    let (code, _, stderr) = rekon(&[
        "plugin",
        "pull",
        &format!("{host}/{}:1.0", support::registry::REPO),
        "-o",
        out.to_str().unwrap(),
        "--plain-http",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "{host}/{}:1.0: not a Wasm plugin artifact: config media type \
             `application/vnd.oci.image.config.v1+json`, expected `application/vnd.wasm.config.v0+json`",
            support::registry::REPO
        )),
        "{stderr}"
    );

    // A tag that is not there is a clear error naming the reference.
    let (code, _, stderr) = rekon(&[
        "plugin",
        "pull",
        &format!("{host}/rekon/flux-policy:nope"),
        "-o",
        out.to_str().unwrap(),
        "--plain-http",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("{host}/rekon/flux-policy:nope: registry `{host}`")),
        "{stderr}"
    );
}

#[test]
fn render_uses_an_oci_plugin_pinned_by_digest_and_sha256() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let host = registry.host();
    let digest = push("readiness_probe", &host, "rekon/readiness-probe:1");
    let dir = tempfile::tempdir().unwrap();
    let pin = sha256(&support::wasm("readiness_probe"));
    let config = site(
        dir.path(),
        &host,
        &format!("oci://{host}/rekon/readiness-probe@{digest}"),
        &format!("sha256 = \"{pin}\""),
    );
    let (code, stdout, stderr) = rekon(&["render", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("initialDelaySeconds: 17"), "{stdout}");
    // Pulled into the cache under the layer's digest.
    let cached = dir.path().join(format!("cache/oci/sha256-{pin}.wasm"));
    assert_eq!(sha256(&cached), pin);
}

#[test]
fn a_digest_of_a_different_artifact_is_refused() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let host = registry.host();
    let probe = push("readiness_probe", &host, "rekon/plugins:probe");
    let flux = push("flux_policy", &host, "rekon/plugins:flux");
    let pin = sha256(&support::wasm("readiness_probe"));

    // The config pins the probe's bytes but names flux-policy's manifest.
    let dir = tempfile::tempdir().unwrap();
    let config = site(
        dir.path(),
        &host,
        &format!("oci://{host}/rekon/plugins@{flux}"),
        &format!("sha256 = \"{pin}\""),
    );
    let err = resolve(&config).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "plugin `readiness-probe` ({host}/rekon/plugins@{flux}): sha256 pin digest mismatch: expected sha256:{pin}"
        )),
        "{err}"
    );
    let (code, _, stderr) = rekon(&["render", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("sha256 pin digest mismatch"), "{stderr}");
    assert!(
        !dir.path().join("cache/oci/refs").exists(),
        "nothing recorded"
    );

    // A registry answering the probe's digest with flux-policy's manifest.
    let proxy = Proxy::redirecting(
        registry.port,
        &format!("/v2/rekon/plugins/manifests/{probe}"),
        &format!("/v2/rekon/plugins/manifests/{flux}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = site(
        dir.path(),
        &proxy.host(),
        &format!("oci://{}/rekon/plugins@{probe}", proxy.host()),
        "",
    );
    let err = resolve(&config).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "plugin `readiness-probe` ({}/rekon/plugins@{probe}): manifest digest mismatch: expected {probe}, got {flux}; refusing to use it",
            proxy.host()
        )),
        "{err}"
    );
}

#[test]
fn a_moved_tag_is_pulled_again_and_an_outage_uses_the_last_copy() {
    if !tools() {
        return;
    }
    let mut registry = Registry::start(None);
    let host = registry.host();
    push("readiness_probe", &host, "rekon/mutator:stable");
    let dir = tempfile::tempdir().unwrap();
    let config = site(
        dir.path(),
        &host,
        &format!("oci://{host}/rekon/mutator:stable"),
        "",
    );
    let first = resolve(&config).unwrap();
    assert_eq!(sha256(&first), sha256(&support::wasm("readiness_probe")));

    // The tag moves to another plugin: the next resolve pulls it.
    push("traefik_priority", &host, "rekon/mutator:stable");
    let second = resolve(&config).unwrap();
    assert_ne!(second, first);
    assert_eq!(sha256(&second), sha256(&support::wasm("traefik_priority")));

    // Back to the probe, then the registry goes away: the copy pulled last
    // for the tag is used, with a warning naming the plugin.
    push("readiness_probe", &host, "rekon/mutator:stable");
    let (code, stdout, stderr) = rekon(&["render", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    registry.stop();
    let (code, stdout, stderr) = rekon(&["render", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("initialDelaySeconds: 17"), "{stdout}");
    assert!(
        stderr.contains("plugin `readiness-probe`")
            && stderr.contains("cannot connect")
            && stderr.contains("using the copy pulled earlier"),
        "{stderr}"
    );

    // Without an earlier copy there is nothing to fall back to.
    let fresh = tempfile::tempdir().unwrap();
    let config = site(
        fresh.path(),
        &host,
        &format!("oci://{host}/rekon/mutator:stable"),
        "",
    );
    let err = resolve(&config).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "plugin `readiness-probe`: {host}/rekon/mutator:stable: registry "
        )) && err.ends_with(&format!(
            "(and no earlier pulled copy is in {})",
            fresh.path().join("cache/oci").display()
        )),
        "{err}"
    );
}

/// The commands and the TOML of docs/plugins.md "Publishing a plugin", with
/// the test registry in place of `127.0.0.1:5000`: the push and pull run
/// and give back the same bytes, and the configuration resolves to them.
#[test]
fn the_publishing_section_of_the_guide_runs() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let host = registry.host();
    let repo = support::repo();
    let guide = std::fs::read_to_string(repo.join("docs/plugins.md")).unwrap();
    let section = guide
        .split("\n## Publishing a plugin\n")
        .nth(1)
        .expect("docs/plugins.md has a Publishing a plugin section")
        .split("\n## ")
        .next()
        .unwrap()
        .replace("127.0.0.1:5000", &host);
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("rekon "))
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.join("target"), dir.path().join("target")).unwrap();
    for command in &commands {
        let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
            .arg("--cache-dir")
            .arg(repo.join("target/rekon-test-cache"))
            .args(command.split_whitespace())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rekon {command}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let want = sha256(&support::wasm("readiness_probe"));
    assert_eq!(sha256(&dir.path().join("readiness-probe.wasm")), want);

    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("a toml block");
    let config = Config::parse(toml, &dir.path().join("rekon.toml")).unwrap();
    let cache = dir.path().join("cache");
    let path = oci::resolve_blocking(
        "readiness-probe",
        &config.plugins["readiness-probe"],
        &config.registries,
        Some(&cache),
    )
    .unwrap();
    assert_eq!(sha256(&path), want);
}
