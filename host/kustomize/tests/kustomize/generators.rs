//! `configMapGenerator`, `secretGenerator`, `generatorOptions` and name
//! hashes. Every expected output here is what `kubectl kustomize`
//! (kustomize v5.5.0) printed for the same tree; when `/usr/bin/kubectl` is
//! present each test also runs it again on the tree and compares.

use rekon_kustomize::to_yaml;

use crate::oracle::{error_like_kubectl, objects_like_kubectl};
use crate::support::{docs, Tree};

/// rekon builds `path` as `expected` (kubectl's output, recorded), and as
/// kubectl builds it now when kubectl is present.
fn check(tree: &Tree, path: &str, expected: &str) {
    let objects = objects_like_kubectl(tree, path);
    assert_eq!(
        objects,
        docs(expected),
        "rekon built:\n{}",
        to_yaml(&objects)
    );
}

/// rekon refuses `path` with `message`; kubectl (when present) refuses it
/// too.
fn check_error(tree: &Tree, path: &str, message: &str) {
    assert_eq!(error_like_kubectl(tree, path), message);
}

#[test]
fn sources_become_data_binary_data_and_base64() {
    let tree = Tree::new(&[
        (
            "app/kustomization.yaml",
            "configMapGenerator:
- name: settings
  envs: [conf/app.env]
  env: conf/extra.env
  literals:
  - double=\"quoted\"
  - single='quoted'
  - mixed=\"quoted'
  - equals=a=b
  - empty=
  files:
  - conf/nginx.conf
  - site.conf=conf/nginx.conf
  - conf/logo.png
- name: nothing
secretGenerator:
- name: token
  files: [conf/token]
  literals: [user=admin]
- name: tls
  type: kubernetes.io/tls
  namespace: web
  literals: [tls.crt=CERT, tls.key=KEY]
- name: blank
",
        ),
        (
            "app/conf/app.env",
            "\u{feff}# settings of the app\nLOG_LEVEL=debug\r\n\n   GREETING=hello world \nEMPTY\nQUOTED=\"kept\"\nURL=http://x/?a=b\n",
        ),
        ("app/conf/extra.env", "EXTRA=1\n"),
        ("app/conf/nginx.conf", "listen 80;\n"),
        (
            "app/conf/token",
            "token-value-that-is-long-enough-to-need-two-lines-of-base64-text\n",
        ),
    ]);
    std::fs::write(
        tree.dir.path().join("app/conf/logo.png"),
        b"\x89PNG\r\n\x1a\n\0\0",
    )
    .unwrap();
    check(
        &tree,
        "app",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: nothing-6ct58987ht
---
apiVersion: v1
binaryData:
  logo.png: iVBORw0KGgoAAA==
data:
  EMPTY: ""
  EXTRA: "1"
  GREETING: 'hello world '
  LOG_LEVEL: debug
  QUOTED: '"kept"'
  URL: http://x/?a=b
  double: quoted
  empty: ""
  equals: a=b
  mixed: '"quoted'''
  nginx.conf: |
    listen 80;
  single: quoted
  site.conf: |
    listen 80;
kind: ConfigMap
metadata:
  name: settings-h5bm6td475
---
apiVersion: v1
data:
  tls.crt: Q0VSVA==
  tls.key: S0VZ
kind: Secret
metadata:
  name: tls-4b255hm948
  namespace: web
type: kubernetes.io/tls
---
apiVersion: v1
data: {}
kind: Secret
metadata:
  name: blank-46f8b28mk5
type: Opaque
---
apiVersion: v1
data:
  token: |
    dG9rZW4tdmFsdWUtdGhhdC1pcy1sb25nLWVub3VnaC10by1uZWVkLXR3by1saW5lcy1vZi
    1iYXNlNjQtdGV4dAo=
  user: YWRtaW4=
kind: Secret
metadata:
  name: token-9h5fm72795
type: Opaque
"#,
    );
}

#[test]
fn generator_options_combine_with_each_generator_options() {
    // Local labels and annotations win; a global `true` wins over a local
    // `false` for disableNameSuffixHash and immutable.
    let tree = Tree::new(&[(
        "kustomization.yaml",
        "generatorOptions:
  labels: {owner: global, scope: global}
  annotations: {note: global}
  immutable: true
  disableNameSuffixHash: true
configMapGenerator:
- name: one
  literals: [a=1]
  options:
    labels: {scope: local}
    annotations: {extra: local}
    disableNameSuffixHash: false
    immutable: false
secretGenerator:
- name: two
  literals: [b=2]
",
    )]);
    check(
        &tree,
        ".",
        r#"apiVersion: v1
data:
  a: "1"
immutable: true
kind: ConfigMap
metadata:
  annotations:
    extra: local
    note: global
  labels:
    owner: global
    scope: local
  name: one
---
apiVersion: v1
data:
  b: Mg==
immutable: true
kind: Secret
metadata:
  annotations:
    note: global
  labels:
    owner: global
    scope: global
  name: two
type: Opaque
"#,
    );
}

const WEB_DEPLOYMENT: &str = "\
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
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
      volumes:
      - name: fixed
        configMap:
          name: fixed
      - name: creds
        secret:
          secretName: creds
";

fn base_and_overlay() -> Tree {
    Tree::new(&[
        (
            "base/kustomization.yaml",
            "resources: [deployment.yaml, plain.yaml]
generatorOptions:
  labels: {app: web, tier: base}
  annotations: {note: from-base}
configMapGenerator:
- name: settings
  literals: [LOG_LEVEL=info, MODE=base]
  options:
    labels: {tier: settings}
    immutable: true
- name: fixed
  literals: [a=1]
  options:
    disableNameSuffixHash: true
secretGenerator:
- name: creds
  type: kubernetes.io/basic-auth
  literals: [username=web, password=base]
",
        ),
        ("base/deployment.yaml", WEB_DEPLOYMENT),
        (
            "base/plain.yaml",
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
  labels: {written: by-hand}
data:
  kept: \"yes\"
  count: \"5\"
",
        ),
        (
            "overlay/kustomization.yaml",
            "namePrefix: prod-
namespace: prod
resources: [../base]
generatorOptions:
  disableNameSuffixHash: false
  labels: {env: prod}
configMapGenerator:
- name: settings
  behavior: merge
  literals: [LOG_LEVEL=warn, EXTRA=1]
- name: fixed
  behavior: merge
  literals: [b=2]
- name: plain
  behavior: replace
  literals: [replaced=true]
secretGenerator:
- name: creds
  behavior: merge
  literals: [password=prod]
",
        ),
    ])
}

#[test]
fn references_follow_the_hashed_names_in_a_base() {
    let tree = base_and_overlay();
    check(
        &tree,
        "base",
        r#"apiVersion: v1
data:
  a: "1"
kind: ConfigMap
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    tier: base
  name: fixed
---
apiVersion: v1
data:
  count: "5"
  kept: "yes"
kind: ConfigMap
metadata:
  labels:
    written: by-hand
  name: plain
---
apiVersion: v1
data:
  LOG_LEVEL: info
  MODE: base
immutable: true
kind: ConfigMap
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    tier: settings
  name: settings-454mgf82d4
---
apiVersion: v1
data:
  password: YmFzZQ==
  username: d2Vi
kind: Secret
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    tier: base
  name: creds-hmkmgftb6c
type: kubernetes.io/basic-auth
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              key: password
              name: creds-hmkmgftb6c
        envFrom:
        - configMapRef:
            name: settings-454mgf82d4
        image: web:1
        name: web
      volumes:
      - configMap:
          name: fixed
        name: fixed
      - name: creds
        secret:
          secretName: creds-hmkmgftb6c
"#,
    );
}

#[test]
fn overlay_merges_and_replaces_what_the_base_generated() {
    // merge: labels, annotations and data unite (the overlay wins), the
    // overlay's `type` (default Opaque) and lack of `immutable` win, the
    // hash stays only if both sides want it (`fixed` had none); replace:
    // the data is the overlay's, labels still unite; a hand-written
    // ConfigMap can be replaced and gets no hash. The name keeps the base's
    // and gets the overlay's prefix; references follow.
    let tree = base_and_overlay();
    check(
        &tree,
        "overlay",
        r#"apiVersion: v1
data:
  a: "1"
  b: "2"
kind: ConfigMap
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    env: prod
    tier: base
  name: prod-fixed
  namespace: prod
---
apiVersion: v1
data:
  replaced: "true"
kind: ConfigMap
metadata:
  labels:
    env: prod
    written: by-hand
  name: prod-plain
  namespace: prod
---
apiVersion: v1
data:
  EXTRA: "1"
  LOG_LEVEL: warn
  MODE: base
kind: ConfigMap
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    env: prod
    tier: settings
  name: prod-settings-9g6h97gt52
  namespace: prod
---
apiVersion: v1
data:
  password: cHJvZA==
  username: d2Vi
kind: Secret
metadata:
  annotations:
    note: from-base
  labels:
    app: web
    env: prod
    tier: base
  name: prod-creds-8825tt7bdk
  namespace: prod
type: Opaque
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: prod-web
  namespace: prod
spec:
  template:
    spec:
      containers:
      - env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              key: password
              name: prod-creds-8825tt7bdk
        envFrom:
        - configMapRef:
            name: prod-settings-9g6h97gt52
        image: web:1
        name: web
      volumes:
      - configMap:
          name: prod-fixed
        name: fixed
      - name: creds
        secret:
          secretName: prod-creds-8825tt7bdk
"#,
    );
}

#[test]
fn the_hash_is_added_last_and_ignores_names_labels_and_namespace() {
    // The base alone names the ConfigMap script-d7g92bd6d7; the overlay's
    // prefix, suffix, namespace, labels and annotations leave the hash as
    // it is and the hash goes after the suffix.
    let tree = Tree::new(&[
        (
            "base/kustomization.yaml",
            "resources: [job.yaml]\nconfigMapGenerator:\n- name: script\n  literals: [run.sh=echo hi]\n",
        ),
        (
            "base/job.yaml",
            "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: run
            image: busybox
            env:
            - name: SCRIPT
              valueFrom:
                configMapKeyRef:
                  name: script
                  key: run.sh
          volumes:
          - name: script
            projected:
              sources:
              - configMap:
                  name: script
",
        ),
        (
            "overlay/kustomization.yaml",
            "namePrefix: team-
nameSuffix: -v2
namespace: batch
commonLabels: {team: data}
commonAnnotations: {owner: data}
resources: [../base]
",
        ),
    ]);
    let base = tree.objects("base");
    assert_eq!(base[0]["metadata"]["name"], "script-d7g92bd6d7");
    check(
        &tree,
        "overlay",
        r#"apiVersion: v1
data:
  run.sh: echo hi
kind: ConfigMap
metadata:
  annotations:
    owner: data
  labels:
    team: data
  name: team-script-v2-d7g92bd6d7
  namespace: batch
---
apiVersion: batch/v1
kind: CronJob
metadata:
  annotations:
    owner: data
  labels:
    team: data
  name: team-nightly-v2
  namespace: batch
spec:
  jobTemplate:
    metadata:
      annotations:
        owner: data
      labels:
        team: data
    spec:
      template:
        metadata:
          annotations:
            owner: data
          labels:
            team: data
        spec:
          containers:
          - env:
            - name: SCRIPT
              valueFrom:
                configMapKeyRef:
                  key: run.sh
                  name: team-script-v2-d7g92bd6d7
            image: busybox
            name: run
          restartPolicy: Never
          volumes:
          - name: script
            projected:
              sources:
              - configMap:
                  name: team-script-v2-d7g92bd6d7
  schedule: 0 3 * * *
"#,
    );
}

#[test]
fn overlay_merges_into_a_moved_base_object_and_patches_count_in_the_hash() {
    // The base moves `cfg` to namespace basens and renames it b-cfg; the
    // overlay's generator names it `cfg` in basens (kustomize remembers
    // that id between namespace and prefix). Patches in both kustomizations
    // change the data before the hash is taken.
    let tree = Tree::new(&[
        (
            "base/kustomization.yaml",
            "namePrefix: b-
namespace: basens
resources: [pod.yaml]
configMapGenerator:
- name: cfg
  literals: [\"k=ünïcödé <tag> & \\\"q\\\"\"]
patches:
- patch: |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: cfg
    data:
      patched: \"yes\"
",
        ),
        (
            "base/pod.yaml",
            "apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: x
    envFrom:
    - configMapRef: {name: cfg}
",
        ),
        (
            "overlay/kustomization.yaml",
            "resources: [../base]
namePrefix: o-
labels:
- pairs: {team: t}
configMapGenerator:
- name: cfg
  namespace: basens
  behavior: merge
  literals: [more=1]
patches:
- target: {kind: ConfigMap}
  patch: |
    - op: add
      path: /data/json
      value: \"2\"
",
        ),
    ]);
    check(
        &tree,
        "overlay",
        r#"apiVersion: v1
data:
  json: "2"
  k: ünïcödé <tag> & "q"
  more: "1"
  patched: "yes"
kind: ConfigMap
metadata:
  labels:
    team: t
  name: o-b-cfg-tm5c4422t8
  namespace: basens
---
apiVersion: v1
kind: Pod
metadata:
  labels:
    team: t
  name: o-b-p
  namespace: basens
spec:
  containers:
  - envFrom:
    - configMapRef:
        name: o-b-cfg-tm5c4422t8
    image: x
    name: c
"#,
    );
}

#[test]
fn generators_of_one_kustomization_merge_into_each_other() {
    // Namespaces tell generators apart (unset is `default`); a later entry
    // merges into an earlier one; merging into a hash-less object gives no
    // hash.
    let tree = Tree::new(&[(
        "kustomization.yaml",
        "configMapGenerator:
- name: x
  namespace: a
  literals: [new=2]
- name: x
  literals: [new=2]
- name: x
  namespace: default
  behavior: merge
  literals: [m=2]
- name: z
  literals: [a=1]
  options:
    disableNameSuffixHash: true
- name: z
  behavior: merge
  literals: [b=1]
",
    )]);
    check(
        &tree,
        ".",
        r#"apiVersion: v1
data:
  new: "2"
kind: ConfigMap
metadata:
  name: x-g588d7kf6d
  namespace: a
---
apiVersion: v1
data:
  m: "2"
  new: "2"
kind: ConfigMap
metadata:
  name: x-55tm478kgt
---
apiVersion: v1
data:
  a: "1"
  b: "1"
kind: ConfigMap
metadata:
  name: z
"#,
    );
}

#[test]
fn generator_errors() {
    let one = |generator: &str| {
        Tree::new(&[
            ("app/kustomization.yaml", generator),
            (
                "app/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n",
            ),
            ("app/vars.env", "A=1\nB=\u{fffd}\n"),
            ("outside.txt", "x\n"),
        ])
    };
    check_error(
        &one("configMapGenerator:\n- name: cm\n  files: [missing.txt]\n"),
        "app",
        "app/kustomization.yaml: configMapGenerator file 'missing.txt' not found",
    );
    check_error(
        &one("configMapGenerator:\n- name: cm\n  files: [../../outside.txt]\n"),
        "app",
        "app/kustomization.yaml: configMapGenerator file '../../outside.txt' is outside the source \
         root; rekon only loads files inside the source (like kustomize's LoadRestrictionsRootOnly)",
    );
    check_error(
        &one("secretGenerator:\n- name: s\n  envs: [../../x.env]\n"),
        "app",
        "app/kustomization.yaml: secretGenerator env file '../../x.env' is outside the source \
         root; rekon only loads files inside the source (like kustomize's LoadRestrictionsRootOnly)",
    );
    check_error(
        &one("resources: [cm.yaml]\nconfigMapGenerator:\n- name: cm\n  literals: [noequals]\n"),
        "app",
        "app/kustomization.yaml:2: configMapGenerator 'cm': literals: 'noequals' is not key=value",
    );
    check_error(
        &one("configMapGenerator:\n- name: cm\n  literals: [a=1]\n  envs: [vars.env]\n  files: [a=cm.yaml]\n"),
        "app",
        "app/kustomization.yaml:1: configMapGenerator 'cm': key 'a' is given twice",
    );
    check_error(
        &one("resources: [cm.yaml]\nconfigMapGenerator:\n- name: nothing\n  behavior: merge\n"),
        "app",
        "app/kustomization.yaml:2: configMapGenerator 'nothing': behavior merge: there is no \
         ConfigMap nothing in namespace 'default' to merge",
    );
    check_error(
        &one("secretGenerator:\n- name: nothing\n  behavior: replace\n"),
        "app",
        "app/kustomization.yaml:1: secretGenerator 'nothing': behavior replace: there is no \
         Secret nothing in namespace 'default' to replace",
    );
    check_error(
        &one("resources: [cm.yaml]\nconfigMapGenerator:\n- name: plain\n  literals: [a=1]\n"),
        "app",
        "app/kustomization.yaml:2: configMapGenerator 'plain': ConfigMap plain (app/cm.yaml:1) \
         already exists; set behavior merge or replace to change it",
    );
    check_error(
        &one("configMapGenerator:\n- literals: [a=1]\n"),
        "app",
        "app/kustomization.yaml:1: invalid kustomization: configMapGenerator[0]: missing 'name'",
    );
    check_error(
        &one("configMapGenerator:\n- name: cm\n  kvSources: []\n"),
        "app",
        "app/kustomization.yaml:3: invalid kustomization: configMapGenerator[0]: unknown field \
         `kvSources`, expected one of `name`, `namespace`, `behavior`, `literals`, `files`, \
         `envs`, `env`, `options`, `type`",
    );
    check_error(
        &one("configMapGenerator:\n- name: cm\n  type: Opaque\n"),
        "app",
        "app/kustomization.yaml:1: invalid kustomization: configMapGenerator[0]: unknown field \
         `type`, only secretGenerator entries have a type",
    );
}

#[test]
fn env_file_errors_name_the_env_file_and_line() {
    let tree = Tree::new(&[(
        "app/kustomization.yaml",
        "configMapGenerator:\n- name: cm\n  envs: [bad.env]\n",
    )]);
    std::fs::write(tree.dir.path().join("app/bad.env"), b"A=1\nB=\xff\n").unwrap();
    check_error(
        &tree,
        "app",
        "app/bad.env:2: configMapGenerator 'cm': the line is not valid UTF-8",
    );
}

#[test]
fn directories_and_unknown_behaviors_are_refused() {
    // A directory as a file source fails in kustomize too; an unknown
    // behavior is a `create` for kustomize, refused here as a likely typo.
    let tree = Tree::new(&[
        (
            "app/kustomization.yaml",
            "configMapGenerator:\n- name: cm\n  files: [conf]\n",
        ),
        ("app/conf/a.txt", "a\n"),
    ]);
    check_error(
        &tree,
        "app",
        "app/kustomization.yaml:1: configMapGenerator 'cm': configMapGenerator file 'conf' is \
         a directory, not a file",
    );
    let tree = Tree::new(&[(
        "kustomization.yaml",
        "configMapGenerator:\n- name: cm\n  behavior: merg\n  literals: [a=1]\n",
    )]);
    assert_eq!(
        tree.error("."),
        "kustomization.yaml:1: configMapGenerator 'cm': behavior 'merg' is not create, merge or \
         replace"
    );
}
