//! replacements, patch options, sortOptions, buildMetadata, and patches
//! whose target matches nothing. Expectations are what `kubectl kustomize`
//! (kustomize v5.5.0) printed for the same trees; when kubectl is installed
//! each test also builds its tree with it and compares.

use serde_json::Value;

use crate::oracle::{error_like_kubectl, objects_like_kubectl};
use crate::support::{find, Tree};

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
    assert_eq!(
        find(&objects, "ConfigMap", "p-src")["data"]["target"],
        "p-web"
    );
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
    assert!(tree
        .error(".")
        .contains("replacement '../outside.yaml' is outside the source root"));
}

const BASE: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  a: b
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: x
        envFrom:
        - configMapRef:
            name: cm
";

fn rename_tree(options: &str) -> Tree {
    Tree::new(&[
        ("res.yaml", BASE),
        (
            "kustomization.yaml",
            &format!(
                "resources: [res.yaml]
patches:
- target: {{kind: ConfigMap, name: cm}}
{options}  patch: |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: renamed
      namespace: elsewhere
    data:
      c: d
"
            ),
        ),
    ])
}

#[test]
fn patch_options_allow_renames() {
    // Without options the name (and always the namespace) is kept silently.
    let objects = objects_like_kubectl(&rename_tree(""), ".");
    let cm = find(&objects, "ConfigMap", "cm");
    assert_eq!(cm["data"]["c"], "d");
    assert_eq!(cm["metadata"].get("namespace"), None);
    // With allowNameChange the object is renamed; its previous name is
    // recorded for the references that follow it.
    let tree = rename_tree("  options: {allowNameChange: true}\n");
    let objects = tree.objects(".");
    assert_eq!(find(&objects, "ConfigMap", "renamed")["data"]["c"], "d");
    let tree = Tree::new(&[
        ("res.yaml", BASE),
        (
            "kustomization.yaml",
            "resources: [res.yaml]
patches:
- target: {kind: ConfigMap}
  options: {allowKindChange: true}
  patch: |
    kind: Secret
    metadata:
      name: cm
",
        ),
    ]);
    let objects = objects_like_kubectl(&tree, ".");
    assert_eq!(find(&objects, "Secret", "cm")["data"]["a"], "b");
}

#[test]
fn patches_with_a_target_matching_nothing_are_skipped() {
    for entry in [
        "patches:\n- target: {kind: Secret}\n  patch: |\n    kind: Secret\n    metadata: {name: x}\n",
        "patches:\n- target: {kind: Secret}\n  patch: '[{\"op\": \"add\", \"path\": \"/x\", \"value\": 1}]'\n",
        "patchesJson6902:\n- target: {version: v1, kind: Secret, name: x}\n  patch: '[{\"op\": \"add\", \"path\": \"/x\", \"value\": 1}]'\n",
    ] {
        let tree = Tree::new(&[
            ("res.yaml", BASE),
            ("kustomization.yaml", &format!("resources: [res.yaml]\n{entry}")),
        ]);
        assert_eq!(objects_like_kubectl(&tree, ".").len(), 2, "{entry}");
    }
    // Without a target, kubectl fails as rekon does.
    let tree = Tree::new(&[
        ("res.yaml", BASE),
        (
            "kustomization.yaml",
            "resources: [res.yaml]\npatchesStrategicMerge:\n- |\n  kind: ConfigMap\n  metadata: {name: other}\n",
        ),
    ]);
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: patchesStrategicMerge[0]: strategic-merge patch for ConfigMap other \
         matches no object"
    );
}

const MIXED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
";

fn kinds(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn sort_options() {
    let tree = Tree::new(&[
        ("sub/res.yaml", MIXED),
        (
            "sub/kustomization.yaml",
            "resources: [res.yaml]\nsortOptions: {order: fifo}\n",
        ),
        (
            "ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
        ),
        ("kustomization.yaml", "resources: [sub, ns.yaml]\n"),
    ]);
    // A sub-kustomization's sortOptions do not count: legacy order.
    assert_eq!(
        kinds(&objects_like_kubectl(&tree, ".")),
        [
            "Namespace/n",
            "ConfigMap/a",
            "ConfigMap/b",
            "Service/s",
            "Deployment/d"
        ]
    );
    tree.write(
        "kustomization.yaml",
        "resources: [sub, ns.yaml]\nsortOptions: {order: fifo}\n",
    );
    assert_eq!(
        kinds(&objects_like_kubectl(&tree, ".")),
        [
            "Deployment/d",
            "Service/s",
            "ConfigMap/b",
            "ConfigMap/a",
            "Namespace/n"
        ]
    );
    tree.write(
        "kustomization.yaml",
        "resources: [sub, ns.yaml]\nsortOptions:\n  order: legacy\n  legacySortOptions:\n    orderFirst: [Service]\n    orderLast: [ConfigMap]\n",
    );
    assert_eq!(
        kinds(&objects_like_kubectl(&tree, ".")),
        [
            "Service/s",
            "Deployment/d",
            "Namespace/n",
            "ConfigMap/a",
            "ConfigMap/b"
        ]
    );
    tree.write(
        "kustomization.yaml",
        "resources: [sub]\nsortOptions:\n  order: fifo\n  legacySortOptions: {orderFirst: [Service]}\n",
    );
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: invalid kustomization: the field 'sortOptions.legacySortOptions' is \
         set but the selected sort order is 'fifo', not 'legacy'"
    );
    tree.write("kustomization.yaml", "resources: [sub]\nsortOptions: {}\n");
    assert_eq!(
        error_like_kubectl(&tree, "."),
        "kustomization.yaml: invalid kustomization: the field 'sortOptions.order' must be one of \
         [fifo, legacy]"
    );
}

#[test]
fn build_metadata() {
    let tree = Tree::new(&[
        (
            "base/res.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {a: b}\n",
        ),
        (
            "base/kustomization.yaml",
            "resources: [res.yaml]\nnamePrefix: b-\nbuildMetadata: [managedByLabel]\n\
             secretGenerator:\n- name: gen\n  literals: [k=v]\n",
        ),
        (
            "overlay/svc.yaml",
            "# comment\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n",
        ),
        (
            "overlay/kustomization.yaml",
            "resources: [../base, ./svc.yaml]
namePrefix: o-
labels:
- pairs: {l: v}
patches:
- target: {kind: ConfigMap}
  patch: '[{\"op\": \"add\", \"path\": \"/data/c\", \"value\": \"d\"}]'
buildMetadata: [originAnnotations, transformerAnnotations, managedByLabel]
",
        ),
    ]);
    let objects = objects_like_kubectl(&tree, "overlay");
    let cm = &find(&objects, "ConfigMap", "o-b-cm")["metadata"];
    assert_eq!(
        cm["annotations"]["config.kubernetes.io/origin"],
        "path: ../base/res.yaml\n"
    );
    assert_eq!(
        cm["annotations"]["alpha.config.kubernetes.io/transformations"],
        "- configuredIn: ../base/kustomization.yaml
  configuredBy:
    apiVersion: builtin
    kind: PrefixTransformer
- configuredIn: kustomization.yaml
  configuredBy:
    apiVersion: builtin
    kind: PatchTransformer
- configuredIn: kustomization.yaml
  configuredBy:
    apiVersion: builtin
    kind: PrefixTransformer
- configuredIn: kustomization.yaml
  configuredBy:
    apiVersion: builtin
    kind: LabelTransformer
- configuredIn: kustomization.yaml
  configuredBy:
    apiVersion: builtin
    kind: LabelTransformer
"
    );
    assert_eq!(
        cm["labels"]["app.kubernetes.io/managed-by"],
        "kustomize-v5.5.0"
    );
    // A generated object's origin is its generator.
    let secret = objects.iter().find(|o| o["kind"] == "Secret").unwrap();
    assert_eq!(
        secret["metadata"]["annotations"]["config.kubernetes.io/origin"],
        "configuredIn: ../base/kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: SecretGenerator\n"
    );
    let svc = &find(&objects, "Service", "o-svc")["metadata"];
    assert_eq!(
        svc["annotations"]["config.kubernetes.io/origin"],
        "path: svc.yaml\n"
    );
    // Only the built kustomization's buildMetadata counts.
    let objects = objects_like_kubectl(&tree, "base");
    assert_eq!(
        find(&objects, "ConfigMap", "b-cm")["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kustomize-v5.5.0"
    );
    assert_eq!(
        find(&objects, "ConfigMap", "b-cm")["metadata"].get("annotations"),
        None
    );
    tree.write(
        "overlay/kustomization.yaml",
        "resources: [../base]\nbuildMetadata: [managedByLabel]\n",
    );
    let objects = objects_like_kubectl(&tree, "overlay");
    assert_eq!(
        find(&objects, "ConfigMap", "b-cm")["metadata"].get("annotations"),
        None
    );
}
