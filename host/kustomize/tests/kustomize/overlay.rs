//! `build_with`: the fields Flux's kustomize-controller writes into the
//! kustomization at a Flux Kustomization's path. Each build is compared
//! with the same tree where the kustomization was edited by hand the way
//! Flux edits it, built by rekon and (when installed) by `kubectl kustomize`.

use std::path::Path;
use std::process::Command;

use rekon_kustomize::{build_with, open_root, Origin, Overlay};
use serde_json::{json, Value};

use crate::support::{docs, Tree};

const KUBECTL: &str = "/usr/bin/kubectl";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: ghcr.io/example/web:1.0.0
          envFrom:
            - configMapRef:
                name: settings
";

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: prod
";

const COMPONENT: &str = "\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        replicas: 3
";

fn overlay() -> Overlay {
    Overlay {
        namespace: Some("apps".into()),
        name_prefix: Some("flux-".into()),
        name_suffix: None,
        patches: vec![json!({
            "patch": "- op: add\n  path: /metadata/annotations\n  value: {patched: \"yes\"}\n",
            "target": {"kind": "Deployment"}
        })],
        images: vec![
            json!({"name": "ghcr.io/example/web", "newTag": "2.0.0"}),
            json!({"name": "ghcr.io/example/other", "newName": "x/y"}),
        ],
        components: vec!["../replicas".into()],
        origin: Origin {
            file: "clusters/prod/apps.yaml".into(),
            line: 3,
        },
    }
}

fn with_overlay(tree: &Tree, path: &str, overlay: &Overlay) -> Result<Vec<Value>, String> {
    let root = open_root(tree.dir.path()).unwrap();
    build_with(&root, Path::new(path), overlay)
        .map(|r| r.into_iter().map(|r| r.object).collect())
        .map_err(|e| e.to_string())
}

/// rekon's build of the hand-edited `path`, checked against kubectl's.
fn by_hand(tree: &Tree, path: &str) -> Vec<Value> {
    let ours = tree.objects(path);
    if Path::new(KUBECTL).exists() {
        let output = Command::new(KUBECTL)
            .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
            .arg(tree.dir.path().join(path))
            .output()
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs = docs(&String::from_utf8(output.stdout).unwrap());
        assert_eq!(ours, theirs, "rekon and kubectl kustomize differ");
    }
    ours
}

#[test]
fn fields_edit_the_kustomization_at_the_path() {
    let tree = Tree::new(&[
        ("app/deployment.yaml", DEPLOYMENT),
        ("app/configmap.yaml", CONFIGMAP),
        (
            "app/kustomization.yaml",
            "namespace: default\nnamePrefix: own-\nresources: [deployment.yaml, configmap.yaml]\n\
             images:\n  - name: ghcr.io/example/web\n    newName: harbor.lan/web\n    newTag: \"1.5\"\n",
        ),
        ("replicas/kustomization.yaml", COMPONENT),
        // What Flux writes into app/kustomization.yaml: its namespace and
        // prefix replace the file's, patches and components are appended,
        // an image of the same name keeps its newName and takes the tag.
        (
            "edited/kustomization.yaml",
            "namespace: apps\nnamePrefix: flux-\n\
             resources: [../app/deployment.yaml, ../app/configmap.yaml]\n\
             images:\n  - name: ghcr.io/example/web\n    newName: harbor.lan/web\n    newTag: \"2.0.0\"\n\
             \x20 - name: ghcr.io/example/other\n    newName: x/y\n\
             components: [../replicas]\n\
             patches:\n  - patch: |\n      - op: add\n        path: /metadata/annotations\n        value: {patched: \"yes\"}\n    target:\n      kind: Deployment\n",
        ),
    ]);
    let ours = with_overlay(&tree, "app", &overlay()).unwrap();
    assert_eq!(ours, by_hand(&tree, "edited"));
    let web = &ours[1];
    assert_eq!(web["metadata"]["name"], "flux-web");
    assert_eq!(web["metadata"]["namespace"], "apps");
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "harbor.lan/web:2.0.0"
    );
    // The name reference follows the prefix.
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        "flux-settings"
    );
}

#[test]
fn a_plain_directory_gets_a_generated_kustomization() {
    let tree = Tree::new(&[
        ("app/deployment.yaml", DEPLOYMENT),
        ("app/configmap.yaml", CONFIGMAP),
        ("replicas/kustomization.yaml", COMPONENT),
        (
            "edited/kustomization.yaml",
            "namespace: apps\nnamePrefix: flux-\n\
             resources: [../app/configmap.yaml, ../app/deployment.yaml]\n\
             images:\n  - name: ghcr.io/example/web\n    newTag: \"2.0.0\"\n\
             \x20 - name: ghcr.io/example/other\n    newName: x/y\n\
             components: [../replicas]\n\
             patches:\n  - patch: |\n      - op: add\n        path: /metadata/annotations\n        value: {patched: \"yes\"}\n    target:\n      kind: Deployment\n",
        ),
    ]);
    let ours = with_overlay(&tree, "app", &overlay()).unwrap();
    assert_eq!(ours, by_hand(&tree, "edited"));
}

#[test]
fn bad_fields_name_the_flux_object() {
    let tree = Tree::new(&[("app/deployment.yaml", DEPLOYMENT)]);
    let mut bad = overlay();
    bad.components.clear();
    bad.patches = vec![json!({"path": "p.yaml"})];
    let err = with_overlay(&tree, "app", &bad).unwrap_err();
    assert_eq!(
        err,
        "clusters/prod/apps.yaml:3: invalid kustomization: patches[0]: give the patch inline in `patch`"
    );
    bad.patches = vec![json!({"patch": "x", "targte": {}})];
    let err = with_overlay(&tree, "app", &bad).unwrap_err();
    assert!(
        err.starts_with(
            "clusters/prod/apps.yaml:3: invalid kustomization: patches[0]: unknown field `targte`"
        ),
        "{err}"
    );
    bad.patches.clear();
    bad.components = vec!["https://example.com/c".into()];
    let err = with_overlay(&tree, "app", &bad).unwrap_err();
    assert!(err.contains("must be local and relative"), "{err}");
    let err = with_overlay(&tree, "app/deployment.yaml", &overlay()).unwrap_err();
    assert!(err.contains("is a file"), "{err}");
}
