//! Transformer configuration, field specs and name references, each tree
//! also built with `kubectl kustomize` (kustomize v5.5) when it is present:
//! rekon must render the same objects, or refuse where kubectl refuses.
//! The fixed expectations below are what kubectl printed for these trees.

use serde_json::json;

use crate::oracle::{error_like_kubectl as error, objects_like_kubectl as objects};
use crate::support::{find, Tree};

const BASE_APP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: web:1
        envFrom:
        - configMapRef:
            name: settings
";

#[test]
fn diamond_overlays_keep_their_own_references() {
    // Two overlays of one base, renamed differently, built together: each
    // Deployment keeps referring to its own overlay's ConfigMap (the
    // prefix sieve), and an object of the top kustomization follows a
    // Service renamed below it.
    let tree = Tree::new(&[
        ("base/kustomization.yaml", "resources: [app.yaml]\n"),
        ("base/app.yaml", BASE_APP),
        (
            "blue/kustomization.yaml",
            "namePrefix: blue-\nresources: [../base]\n",
        ),
        (
            "green/kustomization.yaml",
            "namePrefix: green-\nnamespace: green\nresources: [../base]\n",
        ),
        (
            "top/kustomization.yaml",
            "nameSuffix: -v1\nresources: [../blue, ../green, ingress.yaml]\n",
        ),
        (
            "top/ingress.yaml",
            "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  defaultBackend:
    service:
      name: blue-web
      port:
        number: 80
",
        ),
    ]);
    let objects = objects(&tree, "top");
    let env_from = |name: &str| {
        find(&objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            [0]["configMapRef"]["name"]
            .clone()
    };
    assert_eq!(env_from("blue-web-v1"), "blue-settings-v1");
    assert_eq!(env_from("green-web-v1"), "green-settings-v1");
    assert_eq!(
        find(&objects, "Ingress", "web-v1")["spec"]["defaultBackend"]["service"]["name"],
        "blue-web-v1"
    );
}

#[test]
fn the_default_reference_table() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "namespace: web\nnamePrefix: p-\nresources: [objects.yaml]\n",
        ),
        (
            "objects.yaml",
            "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
- resources: [secrets]
  resourceNames: [token, other]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: to-role
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: robot
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: to-cluster-role
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: robots
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: reader
subjects:
- kind: ServiceAccount
  name: robot
  namespace: ops
- kind: ServiceAccount
  name: robot
  namespace: dev
- kind: ServiceAccount
  name: default
  namespace: kube-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
  namespace: ops
---
apiVersion: v1
kind: Secret
metadata:
  name: token
---
apiVersion: v1
kind: Service
metadata:
  name: hook
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: hook
webhooks:
- name: m.example.com
  clientConfig:
    service:
      name: hook
      namespace: default
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.local.example.com
spec:
  group: local.example.com
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: policy
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: policy
spec:
  policyName: policy
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
parameters:
  secretName: token
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: disk
spec:
  storageClassName: fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claim
spec:
  volumeName: disk
  storageClassName: fast
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    nginx.ingress.kubernetes.io/auth-secret: token
spec:
  ingressClassName: nginx
",
        ),
    ]);
    let objects = objects(&tree, ".");
    let role = find(&objects, "Role", "p-reader");
    assert_eq!(
        role["rules"][0]["resourceNames"],
        json!(["p-token", "other"])
    );
    // roleRef follows the Role or the ClusterRole of the same name by kind.
    assert_eq!(
        find(&objects, "RoleBinding", "p-to-role")["roleRef"]["name"],
        "p-reader"
    );
    assert_eq!(
        find(&objects, "RoleBinding", "p-to-cluster-role")["roleRef"]["name"],
        "p-reader"
    );
    // The robot of `ops` moved to `web`; the one of `dev` is not ours.
    assert_eq!(
        find(&objects, "ClusterRoleBinding", "p-robots")["subjects"],
        json!([
            {"kind": "ServiceAccount", "name": "p-robot", "namespace": "web"},
            {"kind": "ServiceAccount", "name": "robot", "namespace": "dev"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "web"},
        ])
    );
    assert_eq!(
        find(&objects, "MutatingWebhookConfiguration", "p-hook")["webhooks"][0]["clientConfig"]
            ["service"],
        json!({"name": "p-hook", "namespace": "web"})
    );
    // The namespace transformer creates the service namespace of a local
    // APIService, as kustomize's field spec says `create: true`.
    assert_eq!(
        find(&objects, "APIService", "v1.local.example.com")["spec"]["service"],
        json!({"namespace": "web"})
    );
    // kyaml does not know ValidatingAdmissionPolicy: namespaced for kustomize.
    let binding = find(&objects, "ValidatingAdmissionPolicyBinding", "p-policy");
    assert_eq!(binding["spec"]["policyName"], "p-policy");
    assert_eq!(binding["metadata"]["namespace"], "web");
    assert_eq!(
        find(&objects, "StorageClass", "p-fast")["parameters"]["secretName"],
        "p-token"
    );
    assert_eq!(
        find(&objects, "PersistentVolume", "p-disk")["spec"]["storageClassName"],
        "p-fast"
    );
    assert_eq!(
        find(&objects, "PersistentVolumeClaim", "p-claim")["spec"],
        json!({"volumeName": "p-disk", "storageClassName": "p-fast"})
    );
    let ingress = find(&objects, "Ingress", "p-web");
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"],
        "p-token"
    );
    // kustomize's table names IngressClass in group `networking.k8s.io/v1`,
    // which matches nothing: the class name is left as written.
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
}

#[test]
fn ambiguous_references_name_both_candidates() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "namePrefix: p-\nresources: [objects.yaml]\n",
        ),
        (
            "objects.yaml",
            "\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
  namespace: a
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
  namespace: b
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: robots
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: ServiceAccount
  name: robot
",
        ),
    ]);
    assert_eq!(
        error(&tree, "."),
        "objects.yaml:13: ClusterRoleBinding.rbac.authorization.k8s.io p-robots: field 'subjects' \
         names 'robot', which could be any of: ServiceAccount a/p-robot (objects.yaml:1), \
         ServiceAccount b/p-robot (objects.yaml:7)"
    );
}

#[test]
fn namespace_conflicts_and_blank_subject_namespaces_are_refused() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "namespace: x\nresources: [objects.yaml]\n",
        ),
        (
            "objects.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: b\n",
        ),
    ]);
    assert_eq!(
        error(&tree, "."),
        "kustomization.yaml: namespace gives two objects the same identity ConfigMap x/c: \
         objects.yaml:1 and objects.yaml:7"
    );
    let tree = Tree::new(&[
        ("kustomization.yaml", "resources: [binding.yaml]\n"),
        (
            "binding.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: r\nsubjects:\n- kind: ServiceAccount\n  name: robot\n  namespace:\n",
        ),
    ]);
    let err = error(&tree, ".");
    assert!(
        err.starts_with("binding.yaml:1: RoleBinding.rbac.authorization.k8s.io b: ServiceAccount subject 'robot' has a namespace that is not a string"),
        "{err}"
    );
}

#[test]
fn configurations_of_a_base_reach_the_parent_and_the_final_pass() {
    let tree = Tree::new(&[
        (
            "base/kustomization.yaml",
            "namePrefix: base-\nconfigurations: [config/widgets.yaml]\nresources: [objects.yaml]\n",
        ),
        (
            "base/config/widgets.yaml",
            "\
nameReference:
- kind: ConfigMap
  version: v1
  fieldSpecs:
  - kind: Widget
    path: spec/settingsRef
commonLabels:
- kind: Widget
  path: spec/match
  create: true
",
        ),
        (
            "base/objects.yaml",
            "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  settingsRef: settings
",
        ),
        (
            "overlay/kustomization.yaml",
            "namePrefix: prod-\ncommonLabels:\n  team: web\nresources: [../base]\n",
        ),
    ]);
    let objects = objects(&tree, "overlay");
    let widget = find(&objects, "Widget", "prod-base-w");
    assert_eq!(widget["spec"]["settingsRef"], "prod-base-settings");
    assert_eq!(widget["spec"]["match"], json!({"team": "web"}));
}

#[test]
fn configurations_files_are_checked() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "configurations: [config.yaml]\nresources: []\n",
        ),
        (
            "config.yaml",
            "nameReference:\n- kind: ConfigMap\n  fieldSpec:\n  - path: spec/x\n",
        ),
    ]);
    let err = error(&tree, ".");
    assert!(
        err.starts_with("config.yaml:3: invalid transformer configuration: nameReference[0]: unknown field `fieldSpec`"),
        "{err}"
    );
    tree.write("config.yaml", "commonLabels:\n- path: metadata/labels\n");
    assert_eq!(
        error(&tree, "."),
        "config.yaml: invalid transformer configuration: conflicting field specs in commonLabels: \
         path 'metadata/labels' is given both with and without 'create'"
    );
    tree.write("kustomization.yaml", "configurations: [../config.yaml]\n");
    assert!(tree.error(".").contains("outside the source root"));
}

#[test]
fn labels_go_where_the_field_specs_say() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "\
resources: [objects.yaml]
commonLabels:
  team: web
labels:
- pairs:
    tier: db
  includeTemplates: true
  fields:
  - kind: Widget
    path: spec/selector/labels
    create: true
",
        ),
        (
            "objects.yaml",
            "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    metadata: {}
  volumeClaimTemplates:
  - metadata:
      name: data
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: no-claims
spec:
  template: {}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template: {}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
",
        ),
    ]);
    let objects = objects(&tree, ".");
    let db = find(&objects, "StatefulSet", "db");
    assert_eq!(
        db["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"],
        json!({"team": "web", "tier": "db"})
    );
    // `volumeClaimTemplates[]` is never created.
    assert!(find(&objects, "StatefulSet", "no-claims")["spec"]
        .get("volumeClaimTemplates")
        .is_none());
    // A Job's selector is not created (`create: false`).
    assert!(find(&objects, "Job", "once")["spec"]
        .get("selector")
        .is_none());
    assert_eq!(
        find(&objects, "Widget", "w")["spec"]["selector"]["labels"],
        json!({"tier": "db"})
    );
}

#[test]
fn non_string_label_values_are_refused() {
    for value in ["1.0", "true"] {
        let tree = Tree::new(&[(
            "kustomization.yaml",
            &format!("resources: []\ncommonLabels:\n  v: {value}\n") as &str,
        )]);
        let err = error(&tree, ".");
        assert!(err.contains("expected a string"), "{err}");
    }
}
