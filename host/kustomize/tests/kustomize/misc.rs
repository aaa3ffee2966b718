//! replacements, patch options, sortOptions, buildMetadata, and patches
//! whose target matches nothing. Expectations are what `kubectl kustomize`
//! (kustomize v5.5.0) printed for the same trees; when kubectl is installed
//! each test also builds its tree with it and compares.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{docs, Tree};

const KUBECTL: &str = "/usr/bin/kubectl";

/// Builds `path` with `kubectl kustomize`, or `None` when kubectl is absent.
fn kubectl(tree: &Tree, path: &str) -> Option<Result<Vec<Value>, String>> {
    if !Path::new(KUBECTL).exists() {
        println!("{KUBECTL} not found: not comparing with kubectl kustomize");
        return None;
    }
    let output = Command::new(KUBECTL)
        .arg("kustomize")
        .arg(tree.dir.path().join(path))
        .output()
        .expect("kubectl runs");
    if !output.status.success() {
        return Some(Err(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    // kubectl's embedded kustomize has no version stamp; the kustomize
    // v5.5.0 release (and rekon) print its version.
    let text = String::from_utf8(output.stdout)
        .unwrap()
        .replace("kustomize-(devel)", "kustomize-v5.5.0");
    Some(Ok(docs(&text)))
}

/// rekon's objects, after checking kubectl renders the same ones.
fn objects_like_kubectl(tree: &Tree, path: &str) -> Vec<Value> {
    let ours = tree.objects(path);
    if let Some(theirs) = kubectl(tree, path) {
        let theirs = theirs.unwrap_or_else(|err| panic!("kubectl failed: {err}"));
        assert_eq!(ours, theirs, "rekon and kubectl kustomize differ");
    }
    ours
}

/// rekon's error, after checking kubectl fails too.
fn error_like_kubectl(tree: &Tree, path: &str) -> String {
    if let Some(theirs) = kubectl(tree, path) {
        assert!(theirs.is_err(), "kubectl succeeded: {theirs:?}");
    }
    tree.error(path)
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:?}"))
}

const SOURCE: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: src
  annotations:
    config.kubernetes.io/x: hello
data:
  num: \"42\"
  image: reg/app:1.2.3
  count: 7
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: app
        image: x
        args: [a, b]
      - name: app2
        image: y
      - name: sidecar
        image: z
";

#[test]
fn replacements_keep_types_match_unanchored_and_create() {
    let tree = Tree::new(&[
        ("res.yaml", SOURCE),
        (
            "kustomization.yaml",
            "resources: [res.yaml]
replacements:
- source: {kind: ConfigMap, name: src, fieldPath: data.count}
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - spec.replicas
    - metadata.labels.app
    - spec.template.spec.containers.[name=app].image
- source: {kind: ConfigMap, fieldPath: data.num}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [spec.replicas, spec.template.spec.containers.0.args.1, spec.x.y]
    options: {create: true}
- source: {kind: ConfigMap, fieldPath: \"metadata.annotations.[config.kubernetes.io/x]\"}
  targets:
  - select: {kind: Deployment}
    fieldPaths:
    - \"metadata.annotations.[config.kubernetes.io/y]\"
    - spec.template.spec.containers.*.name
    options: {create: true}
- source: {kind: ConfigMap, fieldPath: data.image, options: {delimiter: \":\", index: 1}}
  targets:
  - select: {kind: Deployment}
    fieldPaths: [metadata.labels.app]
    options: {delimiter: \"-\", index: 5}
",
        ),
    ]);
    let objects = objects_like_kubectl(&tree, ".");
    let web = find(&objects, "Deployment", "web");
    // A number stays a number, a string stays a string.
    assert_eq!(web["spec"]["replicas"], 42);
    assert_eq!(web["metadata"]["labels"]["app"], "7-1.2.3");
    // [name=app] is an unanchored pattern: app2 matches too.
    let containers = &web["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "7");
    assert_eq!(containers[1]["image"], "7");
    assert_eq!(containers[2]["image"], "z");
    assert_eq!(containers[0]["args"], serde_json::json!(["a", "42"]));
    assert_eq!(containers[2]["name"], "hello");
    // A created field takes the type its text has: "42" becomes 42.
    assert_eq!(web["spec"]["x"]["y"], 42);
    assert_eq!(
        web["metadata"]["annotations"]["config.kubernetes.io/y"],
        "hello"
    );
}

#[test]
fn replacements_from_a_file_select_by_earlier_names_and_reject() {
    let tree = Tree::new(&[
        ("base/res.yaml", SOURCE),
        ("base/kustomization.yaml", "resources: [res.yaml]\n"),
        (
            "overlay/kustomization.yaml",
            "resources: [../base]\nnamePrefix: p-\nreplacements:\n- path: repl.yaml\n",
        ),
        (
            "overlay/repl.yaml",
            "- source: {kind: Deployment, name: web}
  targets:
  - select: {kind: ConfigMap, name: src}
    fieldPaths: [data.target]
    options: {create: true}
  - select: {labelSelector: app=web}
    reject: [{kind: ConfigMap}]
    fieldPaths: [metadata.annotations.copied]
    options: {create: true}
",
        ),
    ]);
    let objects = objects_like_kubectl(&tree, "overlay");
    assert_eq!(find(&objects, "ConfigMap", "p-src")["data"]["target"], "p-web");
    let web = find(&objects, "Deployment", "p-web");
    assert_eq!(web["metadata"]["annotations"]["copied"], "p-web");
}

#[test]
fn replacement_errors() {
    let base = |replacements: &str| {
        Tree::new(&[
            ("res.yaml", SOURCE),
            (
                "kustomization.yaml",
                &format!("resources: [res.yaml]\nreplacements:\n{replacements}"),
            ),
        ])
    };
    let tree = base("- source: {kind: ConfigMap, fieldPath: data.count}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.x.y]\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: targets[0]: unable to find field 'spec.x.y' in \
         Deployment.apps web"
    );
    let tree = base("- source: {kind: ConfigMap, fieldPath: data.missing}\n  targets:\n  - select: {kind: Deployment}\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: source field 'data.missing' is missing in ConfigMap src"
    );
    let tree = base("- source: {version: v2}\n  targets:\n  - select: {kind: Deployment}\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: source {version=v2} selects no object"
    );
    // The first replacement renames the Deployment (the default fieldPath
    // is metadata.name), the second selects everything.
    let tree = base("- source: {name: src}\n  targets:\n  - select: {kind: Deployment}\n- source: {}\n  targets: []\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[1]: source {} selects more than one object: \
         ConfigMap src, Deployment.apps src"
    );
    let tree = base("- source: {kind: ConfigMap, fieldPath: data.image, options: {delimiter: \":\", index: 3}}\n  targets:\n  - select: {kind: Deployment}\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: source options.index 3 is out of bounds for value \
         'reg/app:1.2.3'"
    );
    // kustomize keeps a scalar's type, and cannot put text in a boolean.
    let tree = base("- source: {kind: ConfigMap, fieldPath: data.image}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.replicas]\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: targets[0]: Deployment.apps web: field \
         'spec.replicas': cannot write 'reg/app:1.2.3' into a number field (kustomize keeps \
         the field's type)"
    );
    let tree = base("- source: {kind: ConfigMap, fieldPath: data.num}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [metadata.*]\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: targets[0]: Deployment.apps web: field \
         'metadata.*': expected a list, found a mapping"
    );
    let tree = base("- path: r.yaml\n  source: {kind: ConfigMap}\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: replacements[0]: cannot specify both path and inline replacement"
    );
    let tree = base("- path: ../outside.yaml\n");
    assert!(tree.error(".").contains("replacement '../outside.yaml' is outside the source root"));
}
