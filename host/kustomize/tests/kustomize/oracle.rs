//! Holding rekon's build to `kubectl kustomize`: both outputs are parsed
//! with [`rekon_kustomize::parse_yaml_documents`] and compared as objects, in
//! order, so key order and quoting style do not count but every value does.
//!
//! rekon's objects go through [`rekon_kustomize::to_yaml`] and back before
//! the comparison: what rekon applies is what it writes, so a value that
//! `to_yaml` writes ambiguously shows up here as a difference.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::support::Tree;

/// What a build gave: objects, or an error message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Objects(Vec<Value>),
    Error(String),
}

impl Outcome {
    /// The outcome as text for a report: the YAML (keys sorted), or the
    /// error.
    pub fn text(&self) -> String {
        match self {
            Outcome::Objects(objects) => canonical_yaml(objects),
            Outcome::Error(message) => format!("error: {message}\n"),
        }
    }
}

/// Parses a multi-document YAML text as kubectl printed it or as a golden
/// file holds it.
pub fn parse(text: &str, name: &str) -> Result<Vec<Value>, String> {
    rekon_kustomize::parse_yaml_documents(text, Path::new(name))
        .map(|documents| documents.into_iter().map(|(value, _)| value).collect())
        .map_err(|err| err.to_string())
}

/// Builds `dir` with rekon, `dir` being both the source root and the build
/// path, and reads its output back.
pub fn rekon(dir: &Path) -> Outcome {
    let root = rekon_kustomize::open_root(dir).expect("the tree is readable");
    match rekon_kustomize::build(&root, Path::new("")) {
        Ok(resources) => {
            let objects: Vec<Value> = resources.into_iter().map(|r| r.object).collect();
            match parse(&rekon_kustomize::to_yaml(&objects), "rekon output") {
                Ok(objects) => Outcome::Objects(objects),
                Err(err) => Outcome::Error(format!("rekon's own output does not parse: {err}")),
            }
        }
        Err(err) => Outcome::Error(err.to_string()),
    }
}

/// The kubectl to run: `$KUBECTL`, or `kubectl` on the `PATH`.
pub fn kubectl_command() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// `kubectl version --client` in one line, or `None` when there is no
/// kubectl to run.
pub fn kubectl_version() -> Option<String> {
    let output = Command::new(kubectl_command())
        .args(["version", "--client"])
        .output()
        .ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// kubectl's objects as rekon's: the same parse, and the managed-by label
/// normalized (kubectl's embedded kustomize prints `kustomize-(devel)`, the
/// v5.5.0 release and rekon print `kustomize-v5.5.0`).
pub fn parse_kubectl(text: &str, name: &str) -> Result<Vec<Value>, String> {
    parse(&text.replace("kustomize-(devel)", "kustomize-v5.5.0"), name)
}

/// Builds `path` of `tree` with `kubectl kustomize`; `None` (said once on
/// stdout) when there is no kubectl, so the tests still pass without it.
pub fn kubectl_tree(tree: &Tree, path: &str) -> Option<Outcome> {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(|| {
        let found = kubectl_version().is_some();
        if !found {
            println!("kubectl not found: not comparing with kubectl kustomize");
        }
        found
    });
    available.then(|| kubectl(&tree.dir.path().join(path)))
}

/// rekon's objects for `path`, after checking kubectl (when present) builds
/// the same ones.
pub fn objects_like_kubectl(tree: &Tree, path: &str) -> Vec<Value> {
    let ours = tree.objects(path);
    if let Some(theirs) = kubectl_tree(tree, path) {
        let ours = Outcome::Objects(ours.clone());
        if let Some(report) = compare(&theirs, &ours) {
            panic!("rekon and kubectl kustomize differ on {path}:\n{report}");
        }
    }
    ours
}

/// rekon's error for `path`, after checking kubectl (when present) refuses
/// the tree too.
pub fn error_like_kubectl(tree: &Tree, path: &str) -> String {
    let ours = tree.error(path);
    if let Some(Outcome::Objects(theirs)) = kubectl_tree(tree, path) {
        panic!(
            "kubectl kustomize built {path} where rekon refused it ({ours}):\n{}",
            canonical_yaml(&theirs)
        );
    }
    ours
}

/// Builds `dir` with `kubectl kustomize`.
pub fn kubectl(dir: &Path) -> Outcome {
    let output = Command::new(kubectl_command())
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    if !output.status.success() {
        return Outcome::Error(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    match parse_kubectl(&String::from_utf8_lossy(&output.stdout), "kubectl output") {
        Ok(objects) => Outcome::Objects(objects),
        Err(err) => panic!("kubectl's output does not parse: {err}"),
    }
}

/// Compares kubectl's outcome with rekon's: `None` when they agree (the
/// same objects in the same order, or both errors), otherwise a readable
/// account of the first difference followed by a text diff.
pub fn compare(kubectl: &Outcome, rekon: &Outcome) -> Option<String> {
    match (kubectl, rekon) {
        (Outcome::Error(_), Outcome::Error(_)) => None,
        (Outcome::Error(message), Outcome::Objects(_)) => Some(format!(
            "kubectl refuses the tree but rekon builds it\nkubectl: {message}\n"
        )),
        (Outcome::Objects(_), Outcome::Error(message)) => Some(format!(
            "kubectl builds the tree but rekon refuses it\nrekon: {message}\n"
        )),
        (Outcome::Objects(expected), Outcome::Objects(actual)) => {
            let first = first_difference(expected, actual)?;
            let mut report = first;
            if same_objects_in_another_order(expected, actual) {
                report.push_str("(the same objects, in another order)\n");
            }
            report.push_str("--- kubectl\n+++ rekon\n");
            let diff =
                similar::TextDiff::from_lines(&canonical_yaml(expected), &canonical_yaml(actual))
                    .unified_diff()
                    .context_radius(4)
                    .to_string();
            report.push_str(&diff);
            Some(report)
        }
    }
}

/// The first place where the object lists differ: the object (index, kind
/// and name) and the path inside it, with both values.
fn first_difference(expected: &[Value], actual: &[Value]) -> Option<String> {
    for (index, (e, a)) in expected.iter().zip(actual).enumerate() {
        if let Some((path, e_value, a_value)) = value_difference(e, a, String::new()) {
            return Some(format!(
                "object {index} ({}): first difference at {}\n  kubectl: {e_value}\n  rekon:   {a_value}\n",
                identity(e),
                if path.is_empty() { "." } else { &path }
            ));
        }
    }
    (expected.len() != actual.len()).then(|| {
        let extra = |objects: &[Value]| {
            objects
                .iter()
                .skip(expected.len().min(actual.len()))
                .map(identity)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "kubectl gives {} objects, rekon {}; only kubectl: [{}]; only rekon: [{}]\n",
            expected.len(),
            actual.len(),
            extra(expected),
            extra(actual)
        )
    })
}

/// The first differing path between two values, depth first in `expected`'s
/// key order, with both sides rendered (`<absent>` for a missing key).
fn value_difference(
    expected: &Value,
    actual: &Value,
    path: String,
) -> Option<(String, String, String)> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, e_value) in e {
                let sub = format!("{path}.{key}");
                match a.get(key) {
                    Some(a_value) => {
                        if let Some(found) = value_difference(e_value, a_value, sub) {
                            return Some(found);
                        }
                    }
                    None => return Some((sub, render(e_value), "<absent>".into())),
                }
            }
            a.iter()
                .find(|(key, _)| !e.contains_key(*key))
                .map(|(key, a_value)| (format!("{path}.{key}"), "<absent>".into(), render(a_value)))
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (e, a))| value_difference(e, a, format!("{path}[{i}]"))),
        _ if expected == actual => None,
        _ => Some((path, render(expected), render(actual))),
    }
}

fn render(value: &Value) -> String {
    serde_json::to_string(value).expect("a value serializes")
}

/// `Kind namespace/name` of an object, for reports.
pub fn identity(object: &Value) -> String {
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{} {ns}/{name}", object["kind"].as_str().unwrap_or("?")),
        None => format!("{} {name}", object["kind"].as_str().unwrap_or("?")),
    }
}

fn same_objects_in_another_order(expected: &[Value], actual: &[Value]) -> bool {
    let key = |objects: &[Value]| {
        let mut texts: Vec<String> = objects.iter().map(|o| render(&sorted(o))).collect();
        texts.sort();
        texts
    };
    key(expected) == key(actual)
}

/// The objects as YAML with every mapping's keys sorted, as kustomize
/// prints them, so that a text diff shows values, not key order.
pub fn canonical_yaml(objects: &[Value]) -> String {
    let sorted: Vec<Value> = objects.iter().map(sorted).collect();
    rekon_kustomize::to_yaml(&sorted)
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Every file of a tree, path and content, for a report.
pub fn describe_tree(dir: &Path) -> String {
    let mut out = String::new();
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files);
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(dir.join(&path)).unwrap_or_default();
        let _ = writeln!(out, "==> {path} <==\n{text}");
    }
    out
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("the tree is readable") {
        let path = entry.expect("the tree is readable").path();
        if path.is_dir() {
            collect_files(root, &path, files);
        } else {
            files.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}
