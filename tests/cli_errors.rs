//! The errors the `rekon` binary prints, as a new user meets them: every
//! failing invocation that can be driven offline (configuration, build,
//! plugin load, settings, a trapping plugin, an unreachable cluster, registry
//! or daemon). Each error must say each thing once (rekon's errors show what
//! they wrap in their message and do not also expose it as `source()`, which
//! the CLI would print again) and name the file, field or plugin at fault.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support;

/// A failing invocation and what its error must name.
struct Case {
    what: &'static str,
    args: Vec<String>,
    names: Vec<String>,
}

fn case(what: &'static str, args: &[&str], names: &[&str]) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        names: names.iter().map(|s| s.to_string()).collect(),
    }
}

fn rekon(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .current_dir(dir)
        .env(
            "REKON_CACHE_DIR",
            support::repo().join("target/rekon-test-cache"),
        )
        .env_remove("RUST_LOG")
        .env_remove("REKON_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// The error as printed: from the `error: ` line to the end (log lines
/// before it are not the error).
fn error_text(stderr: &str) -> Option<&str> {
    let start = stderr
        .match_indices("error: ")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || stderr.as_bytes()[i - 1] == b'\n')?;
    Some(&stderr[start + "error: ".len()..])
}

/// The first segment (of 8 characters or more) an error says twice, where
/// segments are what lies between `: ` separators and line breaks: what
/// `k.yaml: resource 'x' not found: k.yaml: resource 'x' not found` repeats.
fn repeated_segment(error: &str) -> Option<&str> {
    let segments: Vec<&str> = error
        .split('\n')
        .flat_map(|line| line.split(": "))
        .map(str::trim)
        .filter(|s| s.len() >= 8)
        .collect();
    segments
        .iter()
        .enumerate()
        .find(|(i, s)| segments[..*i].contains(s))
        .map(|(_, s)| *s)
}

#[test]
fn the_repetition_check_catches_an_error_said_twice() {
    let twice = "rendering rekon.toml: kustomization `a`: k/kustomization.yaml: \
                 resource 'missing.yaml' not found: k/kustomization.yaml: resource 'missing.yaml' not found";
    assert_eq!(repeated_segment(twice), Some("k/kustomization.yaml"));
    assert_eq!(
        repeated_segment("plugin `p`: cannot read p.wasm: No such file or directory"),
        None
    );
}

#[test]
fn every_error_says_each_thing_once_and_names_what_is_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let hostile_path = support::wasm("hostile_plugin");
    let hostile = hostile_path.to_str().unwrap();
    write(
        "good/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    );
    write("k/kustomization.yaml", "resources:\n- missing.yaml\n");
    write("bad/kustomization.yaml", "resources:\n- cm.yaml\n");
    write(
        "bad/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm\n  data: [\n",
    );
    write("not-wasm.wasm", "this is not WebAssembly\n");
    write(
        "rekon.toml",
        &format!(
            r#"
[plugins.panics]
path = "{hostile}"
settings = {{ mode = "panic" }}
[plugins.fussy]
path = "{hostile}"
settings = {{ mode = "sideways" }}
[plugins.ghost]
path = "ghost.wasm"
[plugins.text]
path = "not-wasm.wasm"
[plugins.pinned]
path = "{hostile}"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[plugins.remote]
path = "oci://127.0.0.1:1/rekon/remote:1"
[registries.nowhere]
url = "127.0.0.1:1"
insecure = true

[[kustomizations]]
name = "good"
path = "good"
[[kustomizations]]
name = "missing-resource"
path = "k"
[[kustomizations]]
name = "bad-yaml"
path = "bad"
[[kustomizations]]
name = "gone"
path = "gone"
[[kustomizations]]
name = "outside"
path = "../.."
[[kustomizations]]
name = "panics"
path = "good"
mutators = ["panics"]
[[kustomizations]]
name = "fussy"
path = "good"
mutators = ["fussy"]
[[kustomizations]]
name = "ghost"
path = "good"
mutators = ["ghost"]
[[kustomizations]]
name = "text"
path = "good"
mutators = ["text"]
[[kustomizations]]
name = "pinned"
path = "good"
mutators = ["pinned"]
[[kustomizations]]
name = "wrong-world"
path = "good"
validators = ["panics"]
[[kustomizations]]
name = "remote"
path = "good"
mutators = ["remote"]
"#
        ),
    );
    write(
        "typo.toml",
        "[[kustomizations]]\nname = \"a\"\npath = \"good\"\nintervall = \"1m\"\n",
    );
    write(
        "undeclared.toml",
        "[[kustomizations]]\nname = \"a\"\npath = \"good\"\nmutators = [\"nobody\"]\n",
    );
    // A cluster that refuses connections (port 1 on loopback).
    write(
        "unreachable.kubeconfig",
        "apiVersion: v1\nkind: Config\n\
         clusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}\n\
         users:\n- name: u\n  user: {token: t}\n\
         contexts:\n- name: c\n  context: {cluster: c, user: u}\n\
         current-context: c\n",
    );
    let future = support::wasm("future_contract_plugin");
    let greedy = support::wasm("greedy_plugin");
    let (future, greedy) = (future.to_str().unwrap(), greedy.to_str().unwrap());

    let cases = [
        case(
            "missing configuration",
            &["render", "--config", "absent.toml"],
            &["absent.toml", "No such file"],
        ),
        case(
            "unknown field in rekon.toml",
            &["render", "--config", "typo.toml"],
            &["typo.toml", "line 4", "intervall"],
        ),
        case(
            "undeclared plugin in rekon.toml",
            &["render", "--config", "undeclared.toml"],
            &["undeclared.toml:4", "nobody"],
        ),
        case(
            "unknown kustomization name",
            &["render", "nope"],
            &["rekon.toml", "nope", "missing-resource"],
        ),
        case(
            "missing resource",
            &["render", "missing-resource"],
            &["missing-resource", "k/kustomization.yaml", "missing.yaml"],
        ),
        case(
            "bad YAML",
            &["render", "bad-yaml"],
            &["bad-yaml", "bad/cm.yaml:4"],
        ),
        case(
            "missing build path",
            &["render", "gone"],
            &["`gone`", "gone: not found"],
        ),
        case(
            "build path outside the source",
            &["render", "outside"],
            &["outside", "../..", "outside the source"],
        ),
        case(
            "missing plugin file",
            &["render", "ghost"],
            &["plugin `ghost`", "ghost.wasm", "No such file"],
        ),
        case(
            "plugin file that is not WebAssembly",
            &["render", "text"],
            &["plugin `text`", "not-wasm.wasm", "not a WebAssembly file"],
        ),
        case(
            "sha256 pin mismatch",
            &["render", "pinned"],
            &["plugin `pinned`", "hostile_plugin.wasm", "sha256"],
        ),
        case(
            "settings refused by the plugin",
            &["render", "fussy"],
            &["plugin `fussy`", "settings refused", "mode", "sideways"],
        ),
        case(
            "mutator configured as a validator",
            &["render", "wrong-world"],
            &["plugin `panics`", "manifest-validator"],
        ),
        case(
            "a plugin that panics",
            &["render", "panics"],
            &[
                "plugin `panics`",
                "export `mutate`",
                "hostile plugin panicked on purpose",
                "<hostile_plugin::Hostile as ",
            ],
        ),
        case(
            "oci:// plugin from an unreachable registry",
            &["render", "remote"],
            &[
                "plugin `remote`",
                "127.0.0.1:1/rekon/remote:1",
                "registry `nowhere`",
                "no earlier pulled copy",
            ],
        ),
        case(
            "apply to an unreachable cluster",
            &["apply", "--kubeconfig", "unreachable.kubeconfig", "good"],
            &["kustomization `good`", "Connection refused"],
        ),
        case(
            "apply with a missing kubeconfig",
            &["apply", "--kubeconfig", "absent.kubeconfig", "good"],
            &["absent.kubeconfig", "No such file"],
        ),
        case(
            "plugin run on a missing file",
            &["plugin", "run", "--plugin", "ghost.wasm"],
            &["ghost.wasm", "No such file"],
        ),
        case(
            "plugin run with a missing settings file",
            &[
                "plugin",
                "run",
                "--plugin",
                hostile,
                "--settings",
                "@absent.json",
            ],
            &["absent.json", "No such file"],
        ),
        case(
            "plugin of a newer contract",
            &["plugin", "inspect", future],
            &["future_contract_plugin.wasm", "rekon:plugin@0.2.0"],
        ),
        case(
            "plugin importing what is not granted",
            &["plugin", "inspect", greedy],
            &["greedy_plugin.wasm", "evil:net/socket"],
        ),
        case(
            "plugin compile for an unknown target",
            &[
                "plugin",
                "compile",
                hostile,
                "--target",
                "nope-nope",
                "-o",
                "x.cwasm",
            ],
            &["hostile_plugin.wasm", "nope-nope"],
        ),
        case(
            "images set under a missing directory",
            &[
                "images",
                "set",
                "--path",
                "absent-dir",
                "ns:name=harbor.lan/x:1",
            ],
            &["absent-dir", "No such file"],
        ),
        case(
            "test on a missing directory",
            &["test", "absent-suites"],
            &["absent-suites"],
        ),
        case(
            "status of a daemon that is not running",
            &["status", "--url", "http://127.0.0.1:1"],
            &["http://127.0.0.1:1", "Connection refused"],
        ),
    ];

    let mut failures = Vec::new();
    for Case { what, args, names } in cases {
        let out = rekon(root, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = format!("`rekon {}`\n{stderr}", args.join(" "));
        let Some(error) = error_text(&stderr) else {
            failures.push(format!("{what}: no `error: ` line from {shown}"));
            continue;
        };
        if out.status.success() {
            failures.push(format!("{what}: exited 0: {shown}"));
        }
        if let Some(segment) = repeated_segment(error) {
            failures.push(format!("{what}: says {segment:?} twice: {shown}"));
        }
        for name in &names {
            if !error.contains(name.as_str()) {
                failures.push(format!("{what}: does not name {name:?}: {shown}"));
            }
        }
        if error.contains("_ZN") {
            failures.push(format!("{what}: a mangled symbol: {shown}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
