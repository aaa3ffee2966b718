//! Every way a build fails, and the message the user gets.

use crate::support::Tree;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";

#[test]
fn missing_resource() {
    let tree = Tree::new(&[("app/kustomization.yaml", "resources:\n- missing.yaml\n")]);
    assert_eq!(
        tree.error("app"),
        "app/kustomization.yaml: resource 'missing.yaml' not found"
    );
}

#[test]
fn missing_build_path() {
    let tree = Tree::new(&[]);
    assert_eq!(tree.error("flux/nowhere"), "flux/nowhere: not found");
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let tree = Tree::new(&[
        ("app/kustomization.yaml", "resources: [deployment.yaml]\n"),
        (
            "app/deployment.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n  bad: [unclosed\n",
        ),
    ]);
    let err = tree.error("app");
    assert!(
        err.starts_with("app/deployment.yaml:13:1: invalid YAML: "),
        "{err}"
    );
}

#[test]
fn malformed_yaml_mapping_indentation() {
    let tree = Tree::new(&[(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: 1\n   b: 2\n",
    )]);
    let err = tree.error("app");
    assert!(err.starts_with("app/cm.yaml:7:"), "{err}");
    assert!(
        err.contains("invalid YAML: mapping values are not allowed"),
        "{err}"
    );
}

#[test]
fn document_that_is_not_an_object() {
    let tree = Tree::new(&[(
        "app/objects.yaml",
        &format!("{CM}---\n# comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {{}}\n"),
    )]);
    assert_eq!(
        tree.error("app"),
        "app/objects.yaml:7: document is not a Kubernetes object: missing 'metadata.name'"
    );
    let tree = Tree::new(&[("app/objects.yaml", "- just\n- a list\n")]);
    assert_eq!(
        tree.error("app"),
        "app/objects.yaml:1: document is not a Kubernetes object: expected a mapping, found a list"
    );
}

#[test]
fn unsupported_field() {
    let tree = Tree::new(&[(
        "flux/clusters/production/frontend/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nhelmCharts:\n- name: x\n",
    )]);
    let error = tree.error("flux/clusters/production/frontend");
    assert!(
        error.starts_with(
            "flux/clusters/production/frontend/kustomization.yaml:3: unsupported field \
             'helmCharts' (rekon supports: apiVersion, kind, metadata, resources, bases, "
        ),
        "{error}"
    );
}

#[test]
fn escape_through_parent_directories() {
    let tree = Tree::new(&[("a/b/kustomization.yaml", "resources:\n- ../../../etc\n")]);
    assert_eq!(
        tree.error("a/b"),
        "a/b/kustomization.yaml: resource '../../../etc' is outside the source root; rekon only \
         loads files inside the source (like kustomize's LoadRestrictionsRootOnly)"
    );
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [a.yaml]\npatches:\n- path: ../p.yaml\n",
        ),
        ("a.yaml", CM),
    ]);
    assert!(tree
        .error(".")
        .starts_with("kustomization.yaml: patch '../p.yaml' is outside the source root"));
    assert!(tree
        .error("..")
        .starts_with("..: build path '..' is outside the source root"));
}

#[test]
fn absolute_path() {
    let tree = Tree::new(&[("app/kustomization.yaml", "resources:\n- /etc/passwd\n")]);
    assert_eq!(
        tree.error("app"),
        "app/kustomization.yaml: resource '/etc/passwd' is an absolute path; paths are relative \
         to the kustomization and rekon only loads files inside the source root"
    );
}

#[test]
fn symlink_out_of_the_root() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yaml"), CM).unwrap();
    let tree = Tree::new(&[("app/kustomization.yaml", "resources: [link.yaml]\n")]);
    let app = tree.dir.path().join("app");
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), app.join("link.yaml")).unwrap();
    assert!(
        tree.error("app")
            .starts_with("app/kustomization.yaml: resource 'link.yaml' is outside the source root"),
        "{}",
        tree.error("app")
    );

    // A relative link climbing out, reached through a plain directory.
    let tree = Tree::new(&[("plain/ok.yaml", CM)]);
    let depth = tree.dir.path().components().count();
    let up = "../".repeat(depth);
    let target = format!(
        "{up}{}",
        outside.path().display().to_string().trim_start_matches('/')
    );
    std::os::unix::fs::symlink(target, tree.dir.path().join("plain/zz-out")).unwrap();
    assert_eq!(
        tree.error("plain"),
        "plain: entry 'zz-out' is outside the source root; rekon only loads files inside the \
         source (like kustomize's LoadRestrictionsRootOnly)"
    );
}

#[test]
fn remote_resource() {
    let tree = Tree::new(&[(
        "kustomization.yaml",
        "resources:\n- https://github.com/example/app//deploy?ref=v1\n",
    )]);
    assert_eq!(
        tree.error("."),
        "kustomization.yaml: resource 'https://github.com/example/app//deploy?ref=v1': remote \
         resources are not supported; vendor them into the source"
    );
    let tree = Tree::new(&[(
        "kustomization.yaml",
        "resources:\n- github.com/example/app/deploy\n",
    )]);
    assert!(tree
        .error(".")
        .contains("remote resources are not supported"));
}

#[test]
fn kustomization_cycle() {
    let tree = Tree::new(&[
        ("a/kustomization.yaml", "resources: [../b]\n"),
        ("b/kustomization.yaml", "resources: [../c]\n"),
        ("c/kustomization.yaml", "resources: [../a]\n"),
    ]);
    assert_eq!(
        tree.error("a"),
        "a/kustomization.yaml: resources include each other in a cycle: a -> b -> c -> a"
    );
    // A directory symlink looping back is a cycle too.
    let tree = Tree::new(&[("d/cm.yaml", CM)]);
    std::os::unix::fs::symlink(".", tree.dir.path().join("d/loop")).unwrap();
    assert_eq!(
        tree.error("d"),
        "d/loop: resources include each other in a cycle: d -> d/loop"
    );
}

#[test]
fn patch_matching_nothing() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- path: p.yaml\n",
        ),
        ("cm.yaml", CM),
        (
            "p.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata: {a: b}\n",
        ),
    ]);
    assert_eq!(
        tree.error("."),
        "p.yaml: strategic-merge patch for ConfigMap other matches no object"
    );
    // A patch with a target matching nothing is skipped (misc.rs), as in
    // kustomize.
}

#[test]
fn failing_json6902_operation() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: c}\n  path: ops.yaml\n",
        ),
        ("cm.yaml", CM),
        (
            "ops.yaml",
            "- op: add\n  path: /data\n  value: {}\n- op: replace\n  path: /data/missing\n  value: x\n",
        ),
    ]);
    assert_eq!(
        tree.error("."),
        "ops.yaml: JSON patch operation 1 (replace /data/missing) failed on ConfigMap c: no \
         field 'missing' at /data"
    );
}

#[test]
fn duplicate_objects_name_both_origins() {
    let tree = Tree::new(&[
        ("kustomization.yaml", "resources: [one.yaml, two.yaml]\n"),
        ("one.yaml", CM),
        ("two.yaml", &format!("# again\n{CM}")),
    ]);
    assert_eq!(
        tree.error("."),
        "two.yaml:2: duplicate object ConfigMap c (also defined at one.yaml:1)"
    );
    // Namespaces make them distinct; an empty namespace is `default`.
    let tree = Tree::new(&[
        ("one.yaml", &format!("{CM}  namespace: default\n")),
        ("two.yaml", CM),
    ]);
    assert_eq!(
        tree.error("."),
        "two.yaml:1: duplicate object ConfigMap c (also defined at one.yaml:1)"
    );
    let tree = Tree::new(&[
        ("one.yaml", &format!("{CM}  namespace: a\n")),
        ("two.yaml", CM),
    ]);
    assert_eq!(tree.objects(".").len(), 2);
}

#[test]
fn replicas_matching_nothing() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\nreplicas:\n- name: web\n  count: 2\n",
        ),
        ("cm.yaml", CM),
    ]);
    assert_eq!(
        tree.error("."),
        "kustomization.yaml: replicas: entry 'web' matches no object"
    );
}

#[test]
fn invalid_patches() {
    let tree = Tree::new(&[
        ("kustomization.yaml", "resources: [cm.yaml]\npatches:\n- patch: '[{\"op\": \"add\", \"path\": \"/x\", \"value\": 1}]'\n"),
        ("cm.yaml", CM),
    ]);
    assert_eq!(
        tree.error("."),
        "kustomization.yaml: patches[0]: a JSON 6902 patch needs a target"
    );
    let tree = Tree::new(&[
        ("kustomization.yaml", "resources: [cm.yaml]\npatches:\n- patch: |\n    kind: ConfigMap\n    metadata: {name: c\n"),
        ("cm.yaml", CM),
    ]);
    let err = tree.error(".");
    assert!(
        err.starts_with(
            "kustomization.yaml: patches[0]: invalid YAML at line 3 column 1 of the inline \
             patch: while parsing a flow mapping, did not find expected ',' or '}'"
        ),
        "{err}"
    );
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- path: gone.yaml\n",
        ),
        ("cm.yaml", CM),
    ]);
    assert_eq!(
        tree.error("."),
        "kustomization.yaml: patch 'gone.yaml' not found"
    );
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- target: {name: \"(\"}\n  patch: '[]'\n",
        ),
        ("cm.yaml", CM),
    ]);
    assert!(tree.error(".").starts_with("kustomization.yaml: invalid kustomization: patches[0]: target name '(' is not a valid pattern"));
}

#[test]
fn removing_identity_with_a_patch_is_caught() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: '[{\"op\": \"remove\", \"path\": \"/metadata/name\"}]'\n",
        ),
        ("cm.yaml", CM),
    ]);
    assert_eq!(
        tree.error("."),
        "cm.yaml:1: document is not a Kubernetes object: missing 'metadata.name'"
    );
}

#[test]
fn ambiguous_strategic_merge_patch() {
    let objects = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: b\n";
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\npatches:\n- path: p.yaml\n",
        ),
        ("cm.yaml", objects),
        (
            "p.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {k: v}\n",
        ),
    ]);
    assert_eq!(
        tree.error("."),
        "p.yaml: strategic-merge patch for ConfigMap c matches 2 objects; add metadata.namespace \
         or a target"
    );
    // Naming the namespace picks one.
    tree.write(
        "p.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: b\ndata: {k: v}\n",
    );
    let objects = tree.objects(".");
    assert_eq!(objects[0].get("data"), None);
    assert_eq!(objects[1]["data"]["k"], "v");
}

#[test]
fn two_kustomization_files() {
    let tree = Tree::new(&[
        ("app/kustomization.yaml", "resources: []\n"),
        ("app/Kustomization", "resources: []\n"),
    ]);
    assert_eq!(
        tree.error("app"),
        "app: found more than one kustomization file: kustomization.yaml, Kustomization"
    );
}
