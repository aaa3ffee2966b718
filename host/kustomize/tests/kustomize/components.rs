//! `components` and `kind: Component`, each expectation what `kubectl
//! kustomize` (kustomize v5.5.0) printed for the same tree.

use crate::support::{docs, Tree};

const BASE: &[(&str, &str)] = &[
    ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
    (
        "base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: \"1\"}\n",
    ),
];

/// A component that adds an object, patches the parent's, renames, and
/// nests another component; the parent renames again and patches the
/// component's object by its first name.
#[test]
fn components_apply_to_what_the_parent_accumulated_before_its_transformers() {
    let mut files = BASE.to_vec();
    files.extend([
        (
            "comp/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [extra.yaml]
components: [../nested]
namePrefix: c-
patches:
- patch: |-
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: a}
    data: {y: \"2\"}
",
        ),
        (
            "comp/extra.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
        ),
        (
            "nested/kustomization.yaml",
            "kind: Component
commonAnnotations: {nested: \"true\"}
patches:
- target: {kind: ConfigMap, name: extra}
  patch: |-
    - op: add
      path: /data
      value: {from: nested}
",
        ),
        (
            "top/kustomization.yaml",
            "resources: [../base]
components: [../comp]
namePrefix: t-
patches:
- patch: |-
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: extra}
    data: {top: \"yes\"}
",
        ),
    ]);
    let tree = Tree::new(&files);
    assert_eq!(
        tree.objects("top"),
        docs(
            "apiVersion: v1
data:
  x: \"1\"
  \"y\": \"2\"
kind: ConfigMap
metadata:
  annotations:
    nested: \"true\"
  name: t-c-a
---
apiVersion: v1
data:
  from: nested
  top: \"yes\"
kind: ConfigMap
metadata:
  annotations:
    nested: \"true\"
  name: t-c-extra
"
        )
    );
}

/// Components apply in the order listed, each seeing the one before, and
/// the same component can serve two overlays.
#[test]
fn components_apply_in_order_and_can_be_shared() {
    let mut files = BASE.to_vec();
    files.extend([
        (
            "suffix/kustomization.yaml",
            "kind: Component\nnameSuffix: -s\n",
        ),
        (
            "label/kustomization.yaml",
            "kind: Component
patches:
- target: {kind: ConfigMap, name: a-s}
  patch: |-
    - op: add
      path: /metadata/labels
      value: {seen: suffixed}
",
        ),
        (
            "one/kustomization.yaml",
            "resources: [../base]\ncomponents: [../suffix, ../label]\n",
        ),
        (
            "two/kustomization.yaml",
            "resources: [../base]\ncomponents: [../suffix]\nnamespace: two\n",
        ),
    ]);
    let tree = Tree::new(&files);
    assert_eq!(
        tree.objects("one"),
        docs("apiVersion: v1\ndata:\n  x: \"1\"\nkind: ConfigMap\nmetadata:\n  labels:\n    seen: suffixed\n  name: a-s\n")
    );
    assert_eq!(
        tree.objects("two"),
        docs("apiVersion: v1\ndata:\n  x: \"1\"\nkind: ConfigMap\nmetadata:\n  name: a-s\n  namespace: two\n")
    );
}

/// A component built as the build path starts from nothing.
#[test]
fn a_component_can_be_the_build_path() {
    let tree = Tree::new(&[
        (
            "comp/kustomization.yaml",
            "kind: Component\nresources: [cm.yaml]\nnamePrefix: c-\n",
        ),
        ("comp/cm.yaml", BASE[1].1),
    ]);
    assert_eq!(
        tree.objects("comp"),
        docs("apiVersion: v1\ndata:\n  x: \"1\"\nkind: ConfigMap\nmetadata:\n  name: c-a\n")
    );
}

/// What kubectl refuses, rekon refuses, naming the kustomization.
#[test]
fn misplaced_components_are_refused() {
    let mut files = BASE.to_vec();
    files.extend([
        (
            "comp/kustomization.yaml",
            "kind: Component\nnamePrefix: c-\n",
        ),
        ("empty/kustomization.yaml", "kind: Component\n"),
        ("as-resource/kustomization.yaml", "resources: [../comp]\n"),
        (
            "kustomization-as-component/kustomization.yaml",
            "components: [../base]\n",
        ),
        (
            "file-as-component/kustomization.yaml",
            "components: [../base/cm.yaml]\n",
        ),
        (
            "no-file/kustomization.yaml",
            "components: [../no-file-here]\n",
        ),
        ("no-file-here/cm.yaml", BASE[1].1),
        (
            "loop/kustomization.yaml",
            "kind: Component\ncomponents: [../loop]\n",
        ),
        ("uses-loop/kustomization.yaml", "components: [../loop]\n"),
    ]);
    let tree = Tree::new(&files);
    assert_eq!(
        tree.error("as-resource"),
        "comp/kustomization.yaml: invalid kustomization: a Component cannot be a resource; \
         list its directory under 'components'"
    );
    assert_eq!(
        tree.error("kustomization-as-component"),
        "kustomization-as-component/kustomization.yaml: invalid kustomization: component \
         '../base' is a Kustomization; components must be of kind Component"
    );
    assert_eq!(
        tree.error("file-as-component"),
        "file-as-component/kustomization.yaml: invalid kustomization: component \
         '../base/cm.yaml' is a file; a component is a directory with a kustomization of kind \
         Component"
    );
    assert_eq!(
        tree.error("no-file"),
        "no-file/kustomization.yaml: invalid kustomization: component '../no-file-here' has \
         no kustomization file"
    );
    assert!(
        tree.error("uses-loop").contains("loop"),
        "{}",
        tree.error("uses-loop")
    );
    let empty = Tree::new(&[
        ("empty/kustomization.yaml", "kind: Component\n"),
        ("top/kustomization.yaml", "components: [../empty]\n"),
    ]);
    assert_eq!(
        empty.error("top"),
        "empty/kustomization.yaml: invalid kustomization: the kustomization is empty"
    );
}
