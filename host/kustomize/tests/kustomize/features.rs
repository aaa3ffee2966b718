//! Every supported feature, checked on the objects it renders.

use crate::support::{docs, Tree};

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      serviceAccountName: app
      containers:
        - name: app
          image: registry.lan/app:1.0
          envFrom:
            - configMapRef:
                name: settings
          env:
            - name: TOKEN
              valueFrom:
                secretKeyRef:
                  name: token
                  key: token
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: data
        - name: config
          configMap:
            name: settings
";

#[test]
fn plain_directories_list_yaml_files_in_name_order() {
    let tree = Tree::new(&[
        ("apps/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"),
        (
            "apps/a.yml",
            "# two documents, an empty one and a List\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a1\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a2\n",
        ),
        ("apps/.hidden.yaml", "not: an object\n"),
        ("apps/notes.txt", "ignored\n"),
        ("apps/sub/c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"),
        (
            "apps/with-kustomization/kustomization.yaml",
            "namePrefix: k-\nresources: [d.yaml]\n",
        ),
        ("apps/with-kustomization/d.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n"),
        ("apps/with-kustomization/unlisted.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\n"),
    ]);
    let resources = tree.build("apps").unwrap();
    let names: Vec<(&str, String, usize)> = resources
        .iter()
        .map(|r| {
            (
                r.object["metadata"]["name"].as_str().unwrap(),
                r.origin.file.display().to_string(),
                r.origin.line,
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("a1", "apps/a.yml".to_string(), 4),
            ("a2", "apps/a.yml".to_string(), 4),
            ("b", "apps/b.yaml".to_string(), 1),
            ("c", "apps/sub/c.yaml".to_string(), 1),
            ("k-d", "apps/with-kustomization/d.yaml".to_string(), 1),
        ]
    );
}

#[test]
fn resources_directories_bases_and_parent_paths() {
    let tree = Tree::new(&[
        ("base/kustomization.yaml", "resources:\n- deployment.yaml\n"),
        ("base/deployment.yaml", DEPLOYMENT),
        (
            "shared/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        ),
        (
            "extra/one.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n",
        ),
        (
            "overlays/prod/kustomization.yaml",
            "bases:\n- ../../base\nresources:\n- ../../shared/cm.yaml\n- ./../../extra\n",
        ),
    ]);
    let kinds: Vec<String> = tree
        .objects("overlays/prod")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        ["ConfigMap/settings", "Secret/token", "Deployment/app"]
    );
}

#[test]
fn namespace_is_set_on_namespaced_objects_and_followed_by_references() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "namespace: web\nresources: [objects.yaml]\n",
        ),
        (
            "objects.yaml",
            "\
apiVersion: v1
kind: Namespace
metadata:
  name: placeholder
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: ci
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: ci
- kind: ServiceAccount
  name: outsider
  namespace: elsewhere
- kind: ServiceAccount
  name: default
  namespace: anything
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: admin
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: other
---
apiVersion: v1
kind: Service
metadata:
  name: hook
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: hook
webhooks:
- name: check.example.com
  clientConfig:
    service:
      name: hook
      namespace: default
",
        ),
    ]);
    assert_eq!(
        tree.objects("."),
        docs(
            "\
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: web
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: admin
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: web
- kind: ServiceAccount
  name: outsider
  namespace: elsewhere
- kind: ServiceAccount
  name: default
  namespace: web
---
apiVersion: v1
kind: Service
metadata:
  name: hook
  namespace: web
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: web
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: hook
webhooks:
- name: check.example.com
  clientConfig:
    service:
      name: hook
      namespace: web
"
        )
    );
}

#[test]
fn every_kustomization_file_name_is_recognized() {
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        let tree = Tree::new(&[
            (
                &format!("app/{name}") as &str,
                "namePrefix: x-\nresources: [cm.yaml]\n",
            ),
            (
                "app/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ]);
        assert_eq!(tree.objects("app")[0]["metadata"]["name"], "x-c", "{name}");
    }
}

#[test]
fn prefix_and_suffix_rename_objects_and_references() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "namePrefix: prod-\nnameSuffix: -v2\nresources: [deployment.yaml, objects.yaml]\n",
        ),
        ("deployment.yaml", DEPLOYMENT),
        (
            "objects.yaml",
            "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: v1
kind: Secret
metadata:
  name: token
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: v1
kind: Service
metadata:
  name: app
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: app
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: app
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
spec:
  tls:
  - secretName: token
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: app
            port:
              number: 80
---
apiVersion: v1
kind: Namespace
metadata:
  name: web
",
        ),
    ]);
    let objects = tree.objects(".");
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    assert_eq!(find("Namespace")["metadata"]["name"], "web");
    assert_eq!(find("ConfigMap")["metadata"]["name"], "prod-settings-v2");
    let pod = &find("Deployment")["spec"]["template"]["spec"];
    assert_eq!(find("Deployment")["metadata"]["name"], "prod-app-v2");
    assert_eq!(pod["serviceAccountName"], "prod-app-v2");
    assert_eq!(
        pod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
        "prod-settings-v2"
    );
    assert_eq!(
        pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "prod-token-v2"
    );
    // No PersistentVolumeClaim named `data` in the build: left as written.
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "data"
    );
    assert_eq!(pod["volumes"][1]["configMap"]["name"], "prod-settings-v2");
    let binding = find("RoleBinding");
    assert_eq!(binding["roleRef"]["name"], "prod-reader-v2");
    assert_eq!(binding["subjects"][0]["name"], "prod-app-v2");
    assert_eq!(
        find("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"],
        "prod-app-v2"
    );
    let ingress = &find("Ingress")["spec"];
    assert_eq!(ingress["tls"][0]["secretName"], "prod-token-v2");
    assert_eq!(
        ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "prod-app-v2"
    );
}

#[test]
fn common_labels_reach_selectors_and_templates() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "commonLabels:\n  team: web\nresources: [deployment.yaml, objects.yaml]\n",
        ),
        ("deployment.yaml", DEPLOYMENT),
        (
            "objects.yaml",
            "\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: app
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: backup
            image: backup:1
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
  volumeClaimTemplates:
  - metadata:
      name: data
",
        ),
    ]);
    let objects = tree.objects(".");
    let get = |kind: &str| objects.iter().find(|o| o["kind"] == kind).unwrap();
    let team = serde_json::json!("web");
    let deployment = get("Deployment");
    assert_eq!(deployment["metadata"]["labels"]["team"], team);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "app", "team": "web"})
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["team"],
        team
    );
    assert_eq!(
        get("Service")["spec"]["selector"],
        serde_json::json!({"app": "app", "team": "web"})
    );
    let cron = get("CronJob");
    assert_eq!(cron["metadata"]["labels"]["team"], team);
    assert_eq!(
        cron["spec"]["jobTemplate"]["metadata"]["labels"]["team"],
        team
    );
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["team"],
        team
    );
    // Job selectors are generated by Kubernetes; kustomize does not create one.
    assert!(cron["spec"]["jobTemplate"]["spec"]
        .get("selector")
        .is_none());
    let sts = get("StatefulSet");
    assert_eq!(sts["spec"]["selector"]["matchLabels"]["team"], team);
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["team"],
        team
    );
}

#[test]
fn labels_entries_choose_where_they_go() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "\
resources: [deployment.yaml]
labels:
- pairs: {owner: alice}
- pairs: {tier: front}
  includeTemplates: true
- pairs: {app.kubernetes.io/part-of: shop}
  includeSelectors: true
",
        ),
        ("deployment.yaml", DEPLOYMENT),
    ]);
    let deployment = &tree.objects(".")[0];
    assert_eq!(
        deployment["metadata"]["labels"],
        serde_json::json!({"owner": "alice", "tier": "front", "app.kubernetes.io/part-of": "shop"})
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"],
        serde_json::json!({"app": "app", "tier": "front", "app.kubernetes.io/part-of": "shop"})
    );
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "app", "app.kubernetes.io/part-of": "shop"})
    );
}

#[test]
fn common_annotations_reach_templates() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "commonAnnotations:\n  owner: web-team\nresources: [deployment.yaml]\n",
        ),
        ("deployment.yaml", DEPLOYMENT),
    ]);
    let deployment = &tree.objects(".")[0];
    assert_eq!(deployment["metadata"]["annotations"]["owner"], "web-team");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["owner"],
        "web-team"
    );
}

#[test]
fn images_are_rewritten_in_every_pod_spec() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "\
resources: [objects.yaml]
images:
- name: registry.lan/app
  newTag: \"2.0\"
- name: busybox
  newName: mirror.lan/library/busybox
  digest: sha256:0123
- name: postgres
  newName: mirror.lan/postgres
",
        ),
        (
            "objects.yaml",
            "\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: job
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: wait
            image: busybox
          containers:
          - name: app
            image: registry.lan/app:1.0@sha256:ffff
          - name: db
            image: postgres:16
          - name: other
            image: registry.lan/app-sidecar:1.0
---
apiVersion: v1
kind: Pod
metadata:
  name: pod
spec:
  containers:
  - name: app
    image: registry.lan/app
",
        ),
    ]);
    let objects = tree.objects(".");
    let cron = &objects.iter().find(|o| o["kind"] == "CronJob").unwrap()["spec"]["jobTemplate"]
        ["spec"]["template"]["spec"];
    assert_eq!(
        cron["initContainers"][0]["image"],
        "mirror.lan/library/busybox@sha256:0123"
    );
    assert_eq!(cron["containers"][0]["image"], "registry.lan/app:2.0");
    assert_eq!(cron["containers"][1]["image"], "mirror.lan/postgres:16");
    assert_eq!(
        cron["containers"][2]["image"],
        "registry.lan/app-sidecar:1.0"
    );
    let pod = objects.iter().find(|o| o["kind"] == "Pod").unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "registry.lan/app:2.0"
    );
}

#[test]
fn replicas_set_the_count() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "resources: [deployment.yaml]\nreplicas:\n- name: app\n  count: 3\n",
        ),
        ("deployment.yaml", DEPLOYMENT),
    ]);
    assert_eq!(tree.objects(".")[0]["spec"]["replicas"], 3);
}

#[test]
fn strategic_merge_patches_from_files_and_inline() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "\
resources: [deployment.yaml, extra.yaml]
patchesStrategicMerge:
- patches/resources.yaml
- |-
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: doomed
  $patch: delete
patches:
- path: patches/sidecar.yaml
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ignored-because-of-target
    spec:
      template:
        spec:
          volumes:
          - name: config
            $patch: delete
  target:
    kind: Deploy.*
    labelSelector: tier=front
",
        ),
        (
            "deployment.yaml",
            &DEPLOYMENT.replace(
                "  name: app\nspec:",
                "  name: app\n  labels:\n    tier: front\nspec:",
            ),
        ),
        (
            "extra.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: doomed\n",
        ),
        (
            "patches/resources.yaml",
            "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: app
        resources:
          limits:
            memory: 128Mi
        env:
        - name: LOG
          value: debug
",
        ),
        (
            "patches/sidecar.yaml",
            "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      serviceAccountName: null
      containers:
      - name: proxy
        image: envoy:1
",
        ),
    ]);
    let objects = tree.objects(".");
    assert_eq!(objects.len(), 1, "the ConfigMap was deleted by its patch");
    assert_eq!(
        objects[0]["spec"]["template"]["spec"],
        docs(
            "\
containers:
- name: proxy
  image: envoy:1
- name: app
  image: registry.lan/app:1.0
  envFrom:
  - configMapRef:
      name: settings
  env:
  - name: LOG
    value: debug
  - name: TOKEN
    valueFrom:
      secretKeyRef:
        name: token
        key: token
  volumeMounts:
  - name: data
    mountPath: /data
  resources:
    limits:
      memory: 128Mi
volumes:
- name: data
  persistentVolumeClaim:
    claimName: data
"
        )[0]
    );
}

#[test]
fn json6902_patches_in_yaml_and_json() {
    let tree = Tree::new(&[
        (
            "kustomization.yaml",
            "\
resources: [deployment.yaml]
commonLabels:
  team: web
patches:
- target: {group: apps, version: v1, kind: Deployment, name: a.p}
  patch: |-
    - op: replace
      path: /spec/template/spec/containers/0/image
      value: other:1
    - op: add
      path: /metadata/annotations
      value: {note: \"a/b\"}
- target: {kind: Deployment}
  patch: '[{\"op\": \"add\", \"path\": \"/spec/template/spec/containers/0/args\", \"value\": [\"--x\"]}]'
patchesJson6902:
- target: {group: apps, version: v1, kind: Deployment, name: app}
  path: ops.yaml
",
        ),
        ("deployment.yaml", DEPLOYMENT),
        (
            "ops.yaml",
            "\
# runs after commonLabels, as in kustomize
- op: test
  path: /metadata/labels/team
  value: web
- op: move
  from: /metadata/annotations/note
  path: /metadata/annotations/a~1b
",
        ),
    ]);
    let deployment = &tree.objects(".")[0];
    assert_eq!(
        deployment["metadata"]["annotations"],
        serde_json::json!({"a/b": "a/b"})
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "other:1");
    assert_eq!(container["args"], serde_json::json!(["--x"]));
}

#[test]
fn sub_kustomizations_are_built_before_the_parent_transforms() {
    let tree = Tree::new(&[
        (
            "base/kustomization.yaml",
            "namePrefix: base-\nnamespace: base-ns\nresources: [deployment.yaml, cm.yaml]\n",
        ),
        ("base/deployment.yaml", DEPLOYMENT),
        (
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        ),
        (
            "overlay/kustomization.yaml",
            "\
namePrefix: prod-
namespace: prod
resources: [../base]
images:
- name: registry.lan/app
  newTag: \"3\"
patches:
# named as in the base's files, before the base renamed it
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: app
    spec:
      template:
        spec:
          containers:
          - name: app
            image: registry.lan/app:patched
",
        ),
    ]);
    let objects = tree.objects("overlay");
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["metadata"]["name"], "prod-base-app");
    assert_eq!(deployment["metadata"]["namespace"], "prod");
    let pod = &deployment["spec"]["template"]["spec"];
    // The image transformer runs after patches.
    assert_eq!(pod["containers"][0]["image"], "registry.lan/app:3");
    // References follow both renames.
    assert_eq!(pod["volumes"][1]["configMap"]["name"], "prod-base-settings");
}

#[test]
fn symlinks_inside_the_root_are_followed() {
    let tree = Tree::new(&[
        (
            "real/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        ),
        (
            "app/kustomization.yaml",
            "resources: [linked, cm-link.yaml]\n",
        ),
    ]);
    let root = tree.dir.path();
    std::os::unix::fs::symlink("../real", root.join("app/linked")).unwrap();
    std::os::unix::fs::symlink("../real/cm.yaml", root.join("app/cm-link.yaml")).unwrap();
    let err = tree.error("app");
    // Both entries reach the same object: proof that both links were followed.
    assert!(err.contains("duplicate object ConfigMap c"), "{err}");
}
