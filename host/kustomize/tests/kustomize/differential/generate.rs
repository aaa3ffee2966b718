//! Random kustomization trees from a fixed pool of objects that refer to
//! each other, so that renames, namespaces, labels and patches all have
//! something to follow.

use std::fmt::Write as _;

/// A generator feature: one kind of kustomization field or tree shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Namespace,
    NamePrefix,
    NameSuffix,
    CommonLabels,
    Labels,
    LabelFields,
    CommonAnnotations,
    Images,
    Replicas,
    /// `patches`: strategic merge and JSON 6902, inline and by path.
    Patches,
    /// `patches` entries whose target matches no object.
    PatchTargetMatchingNothing,
    PatchOptions,
    PatchesStrategicMerge,
    PatchesJson6902,
    ConfigMapGenerator,
    SecretGenerator,
    /// `behavior: merge|replace` generators in overlays.
    GeneratorBehavior,
    GeneratorOptions,
    Components,
    Replacements,
    /// `configurations` teaching kustomize the custom resource's fields.
    Configurations,
    SortOptions,
    BuildMetadata,
    /// A base and an overlay.
    Overlays,
    /// Two overlays of one base combined by a top kustomization.
    Diamonds,
    /// Objects of an overlay itself, next to its base.
    OverlayResources,
    /// A CRD and a custom resource.
    CustomResources,
    /// A ValidatingAdmissionPolicy and its binding.
    AdmissionPolicy,
    /// A StatefulSet without volumeClaimTemplates (otherwise it has one).
    StatefulSetWithoutClaimTemplates,
    /// `labels[].includeTemplates: true`.
    LabelTemplates,
    /// The same label key set twice (in one kustomization or at several
    /// levels of a tree) with other values.
    Relabel,
    /// In diamonds, the cluster-scoped webhook naming the Service both
    /// sides define.
    AmbiguousReferences,
    /// User and Group subjects named like the ServiceAccount.
    NonServiceAccountSubjects,
    /// Unquoted YAML 1.1 scalars (`on`, dates, octals) in resources.
    UnquotedScalars,
}

impl Feature {
    /// Every feature.
    pub const ALL: &[Feature] = &[
        Feature::Namespace,
        Feature::NamePrefix,
        Feature::NameSuffix,
        Feature::CommonLabels,
        Feature::Labels,
        Feature::LabelFields,
        Feature::CommonAnnotations,
        Feature::Images,
        Feature::Replicas,
        Feature::Patches,
        Feature::PatchTargetMatchingNothing,
        Feature::PatchOptions,
        Feature::PatchesStrategicMerge,
        Feature::PatchesJson6902,
        Feature::ConfigMapGenerator,
        Feature::SecretGenerator,
        Feature::GeneratorBehavior,
        Feature::GeneratorOptions,
        Feature::Components,
        Feature::Replacements,
        Feature::Configurations,
        Feature::SortOptions,
        Feature::BuildMetadata,
        Feature::Overlays,
        Feature::Diamonds,
        Feature::OverlayResources,
        Feature::CustomResources,
        Feature::AdmissionPolicy,
        Feature::StatefulSetWithoutClaimTemplates,
        Feature::LabelTemplates,
        Feature::Relabel,
        Feature::AmbiguousReferences,
        Feature::NonServiceAccountSubjects,
        Feature::UnquotedScalars,
    ];
}

/// splitmix64: tiny, seedable, good enough to pick fixtures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Strings YAML 1.1 or 1.2 would read as something else unquoted, written
/// quoted: every reader must keep them strings.
const QUOTED: &[&str] = &[
    "\"on\"",
    "\"yes\"",
    "\"No\"",
    "\"1:30\"",
    "\"0755\"",
    "\"1e3\"",
    "\"~\"",
    "\"null\"",
    "\"true\"",
    "\"0x1F\"",
    "\".5\"",
    "\"+1\"",
    "\"2024-01-01\"",
    "\"1.10\"",
    "''",
    "\"0o17\"",
    "'# not a comment'",
    "\"a: b\"",
    "\"- x\"",
    "\"12345678901234567890\"",
];

/// The same kind of scalars unquoted, where readers disagree. (`.inf` is
/// left out: rekon refuses it where it reads it, kustomize only if it
/// reaches the output; the crate docs say so.)
const UNQUOTED: &[&str] = &[
    "on",
    "off",
    "yes",
    "1:30",
    "2024-01-01",
    "0755",
    "1e3",
    "~",
    "0x1F",
    "0o17",
];

/// One tree: (path relative to the build root, content), the root being
/// the build path.
pub fn tree(seed: u64, features: &[Feature]) -> Vec<(String, String)> {
    let mut g = Gen {
        rng: Rng(seed),
        features,
        files: Vec::new(),
        has_deployment: false,
        diamond: false,
    };
    let mut shapes = vec!["single"];
    if g.on(Feature::Overlays) {
        shapes.push("overlay");
    }
    if g.on(Feature::Diamonds) {
        shapes.push("diamond");
    }
    match g.rng.pick(&shapes) {
        "single" => {
            let resources = g.objects("");
            g.kustomization("", resources, Level::Top);
        }
        "overlay" => {
            let resources = g.objects("base/");
            g.kustomization("base/", resources, Level::Base);
            let mut resources = vec!["base".to_string()];
            if g.on(Feature::OverlayResources) && g.rng.chance(50) {
                resources.extend(g.objects(""));
            }
            g.kustomization("", resources, Level::Top);
        }
        _ => {
            g.diamond = true;
            let resources = g.objects("base/");
            g.kustomization("base/", resources, Level::Base);
            for side in ["east/", "west/"] {
                g.kustomization(side, vec!["../base".into()], Level::Diamond);
            }
            g.kustomization("", vec!["east".into(), "west".into()], Level::Top);
        }
    }
    g.files
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Base,
    Diamond,
    Top,
}

struct Gen<'a> {
    rng: Rng,
    features: &'a [Feature],
    files: Vec<(String, String)>,
    /// Whether the Deployment `app`, which patches target, is in the tree.
    has_deployment: bool,
    /// Whether the tree is a diamond.
    diamond: bool,
}

impl Gen<'_> {
    fn on(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// Like [`Gen::on`], and then true `percent`% of the time.
    fn maybe(&mut self, feature: Feature, percent: u64) -> bool {
        self.on(feature) && self.rng.chance(percent)
    }

    fn file(&mut self, path: String, text: String) {
        self.files.push((path, text));
    }

    fn scalar(&mut self) -> &'static str {
        if self.on(Feature::UnquotedScalars) && self.rng.chance(30) {
            self.rng.pick(UNQUOTED)
        } else {
            self.rng.pick(QUOTED)
        }
    }

    /// A random selection of the pool in one to three files under `dir`;
    /// returns the resource entries.
    fn objects(&mut self, dir: &str) -> Vec<String> {
        let mut chosen: Vec<String> = Vec::new();
        for make in POOL {
            if self.rng.chance(55) {
                if let Some(text) = make(self) {
                    chosen.push(text);
                }
            }
        }
        if chosen.is_empty() {
            chosen.push(config_map(self).expect("always made"));
        }
        let files = 1 + self.rng.below(3);
        let mut texts = vec![String::new(); files];
        for object in chosen {
            let text = &mut texts[self.rng.below(files)];
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&object);
        }
        let mut entries = Vec::new();
        for (i, text) in texts.into_iter().enumerate() {
            if !text.is_empty() {
                entries.push(format!("objects-{i}.yaml"));
                self.file(format!("{dir}objects-{i}.yaml"), text);
            }
        }
        entries
    }

    /// Writes `<dir>kustomization.yaml` with the given resources and a
    /// random mix of fields.
    fn kustomization(&mut self, dir: &str, resources: Vec<String>, level: Level) {
        let mut k = String::new();
        if self.rng.chance(30) {
            k.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
        }
        k.push_str("resources:\n");
        for entry in &resources {
            let _ = writeln!(k, "- {entry}");
        }
        let names: &[&str] = match level {
            Level::Diamond => &["east", "west", "shared"],
            _ => &["team", "prod", "apps"],
        };
        let side = dir.trim_end_matches('/');
        // One label key per level unless relabelling is on: kubectl shares a
        // base's label value node between labels and selectors, so an
        // overlay that changes the value without selectors changes the
        // selectors too (golden `labels-overlay-relabels-base-selector`).
        let tag = if self.on(Feature::Relabel) {
            String::new()
        } else {
            format!("-{}", if side.is_empty() { "top" } else { side })
        };
        if self.maybe(Feature::Namespace, 50) {
            // Diamond sides usually differ, sometimes collide on purpose.
            let ns = if level == Level::Diamond && self.rng.chance(85) {
                side
            } else {
                self.rng.pick(names)
            };
            let _ = writeln!(k, "namespace: {ns}");
        }
        if self.maybe(Feature::NamePrefix, 50) {
            let prefix = if level == Level::Diamond && self.rng.chance(85) {
                side
            } else {
                self.rng.pick(names)
            };
            let _ = writeln!(k, "namePrefix: {prefix}-");
        }
        if self.maybe(Feature::NameSuffix, 30) {
            let _ = writeln!(k, "nameSuffix: -{}", self.rng.pick(&["v1", "blue", "x"]));
        }
        if self.maybe(Feature::CommonLabels, 30) {
            let _ = writeln!(
                k,
                "commonLabels:\n  {}{tag}: {}",
                self.rng.pick(&["env", "app.kubernetes.io/part-of", "tier"]),
                self.rng.pick(&["prod", "\"true\"", "\"1\"", "shop"])
            );
        }
        if self.maybe(Feature::Labels, 40) {
            self.labels(&mut k, &tag);
        }
        if self.maybe(Feature::CommonAnnotations, 30) {
            let value = self.scalar();
            let _ = writeln!(k, "commonAnnotations:\n  note: {value}\n  team: payments");
        }
        if self.maybe(Feature::Images, 40) {
            self.images(&mut k);
        }
        if self.maybe(Feature::Replicas, 25) {
            let _ = writeln!(
                k,
                "replicas:\n- name: {}\n  count: {}",
                self.rng.pick(&["app", "db"]),
                self.rng.below(5)
            );
        }
        if self.on(Feature::Patches) {
            self.patches(dir, &mut k);
        }
        if self.maybe(Feature::PatchesStrategicMerge, 20) {
            let patch = smp_patch(&mut self.rng);
            if self.rng.chance(50) {
                self.file(format!("{dir}smp.yaml"), patch);
                k.push_str("patchesStrategicMerge:\n- smp.yaml\n");
            } else {
                let _ = writeln!(k, "patchesStrategicMerge:\n- |-\n{}", indent(&patch, 2));
            }
        }
        if self.maybe(Feature::PatchesJson6902, 20)
            && (self.has_deployment || self.on(Feature::PatchTargetMatchingNothing))
        {
            let ops = json_ops(&mut self.rng);
            self.file(format!("{dir}ops.yaml"), ops);
            k.push_str(
                "patchesJson6902:\n- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: app\n  path: ops.yaml\n",
            );
        }
        if level == Level::Top {
            self.top_only(dir, &mut k);
        }
        self.generators(dir, level, &mut k);
        self.file(format!("{dir}kustomization.yaml"), k);
    }

    fn labels(&mut self, k: &mut String, tag: &str) {
        k.push_str("labels:\n");
        let keys = ["owner", "stage", "app.example.org/track"];
        let first = self.rng.below(keys.len());
        for i in 0..1 + self.rng.below(2) {
            let key = if self.on(Feature::Relabel) {
                self.rng.pick(&keys)
            } else {
                keys[(first + i) % keys.len()]
            };
            let _ = writeln!(
                k,
                "- pairs:\n    {key}{tag}: {}",
                self.rng.pick(&["ops", "\"2\"", "canary", "\"on\""])
            );
            if self.rng.chance(50) {
                let _ = writeln!(k, "  includeSelectors: {}", self.rng.chance(50));
            }
            if self.rng.chance(50) {
                let templates = self.maybe(Feature::LabelTemplates, 50);
                let _ = writeln!(k, "  includeTemplates: {templates}");
            }
            if self.maybe(Feature::LabelFields, 40) {
                k.push_str("  fields:\n  - path: metadata/annotations\n    create: true\n  - kind: Deployment\n    path: spec/template/metadata/annotations\n    create: true\n");
            }
        }
    }

    fn images(&mut self, k: &mut String) {
        k.push_str("images:\n");
        match self.rng.below(3) {
            0 => k.push_str("- name: registry.lan/app\n  newTag: \"2.0\"\n"),
            1 => k.push_str("- name: registry.lan/app\n  newName: mirror.lan/app\n"),
            _ => k.push_str("- name: postgres\n  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n"),
        }
        if self.rng.chance(50) {
            k.push_str("- name: busybox\n  newName: mirror.lan/busybox\n  newTag: \"1.37\"\n");
        }
    }

    fn patches(&mut self, dir: &str, k: &mut String) {
        let count = self.rng.below(3);
        if count == 0 {
            return;
        }
        k.push_str("patches:\n");
        for i in 0..count {
            let json = self.rng.chance(50);
            let patch = if json {
                json_ops(&mut self.rng)
            } else {
                smp_patch(&mut self.rng)
            };
            let target = if json || self.rng.chance(40) {
                match self.target() {
                    Some(target) => Some(target),
                    None => continue,
                }
            } else {
                None
            };
            if self.rng.chance(50) {
                let name = format!("patch-{i}.yaml");
                self.file(format!("{dir}{name}"), patch);
                let _ = writeln!(k, "- path: {name}");
            } else {
                let _ = writeln!(k, "- patch: |-\n{}", indent(&patch, 4));
            }
            if let Some(target) = target {
                let _ = writeln!(k, "  target:\n{}", indent(&target, 4));
            }
            if self.maybe(Feature::PatchOptions, 20) {
                k.push_str("  options:\n    allowNameChange: true\n");
            }
        }
    }

    /// A patch target that selects the Deployment `app` one way or another,
    /// or, with [`Feature::PatchTargetMatchingNothing`], nothing; `None`
    /// when the tree has no Deployment and targets must match.
    fn target(&mut self) -> Option<String> {
        let nothing = self.on(Feature::PatchTargetMatchingNothing);
        if nothing && self.rng.chance(20) {
            return Some("kind: DaemonSet".into());
        }
        if !self.has_deployment && !nothing {
            return None;
        }
        Some(match self.rng.below(4) {
            0 => "kind: Deployment".into(),
            1 => "group: apps\nversion: v1\nkind: Deployment\nname: app".into(),
            2 => "kind: Deployment\nlabelSelector: app=app".into(),
            _ => "name: app\nkind: Deployment".into(),
        })
    }

    /// Fields only the top kustomization carries.
    fn top_only(&mut self, dir: &str, k: &mut String) {
        if self.maybe(Feature::Components, 40) {
            let component = "components/monitoring/";
            self.file(
                format!("{dir}{component}kustomization.yaml"),
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- monitor.yaml\ncommonAnnotations:\n  monitored: \"true\"\n".into(),
            );
            self.file(
                format!("{dir}{component}monitor.yaml"),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: monitor\ndata:\n  interval: 30s\n".into(),
            );
            k.push_str("components:\n- components/monitoring\n");
        }
        if self.maybe(Feature::Replacements, 30) {
            k.push_str("replacements:\n- source:\n    kind: ConfigMap\n    name: settings\n    fieldPath: metadata.name\n  targets:\n  - select:\n      kind: Deployment\n    reject:\n    - name: nothing\n    fieldPaths:\n    - metadata.annotations.settings\n    options:\n      create: true\n  - select:\n      kind: CronJob\n    fieldPaths:\n    - spec.jobTemplate.spec.template.spec.containers.0.image\n    options:\n      delimiter: \":\"\n      index: 1\n");
        }
        if self.maybe(Feature::Configurations, 40) {
            self.file(
                format!("{dir}widget-config.yaml"),
                "nameReference:\n- kind: ConfigMap\n  fieldSpecs:\n  - kind: Widget\n    path: spec/settings\ncommonLabels:\n- kind: Widget\n  path: spec/selector\n  create: true\n".into(),
            );
            k.push_str("configurations:\n- widget-config.yaml\n");
        }
        if self.maybe(Feature::SortOptions, 30) {
            if self.rng.chance(50) {
                k.push_str("sortOptions:\n  order: fifo\n");
            } else {
                k.push_str("sortOptions:\n  order: legacy\n  legacySortOptions:\n    orderFirst: [ConfigMap, Deployment]\n    orderLast: [Service]\n");
            }
        }
        if self.maybe(Feature::BuildMetadata, 20) {
            k.push_str("buildMetadata: [originAnnotations, managedByLabel]\n");
        }
    }

    fn generators(&mut self, dir: &str, level: Level, k: &mut String) {
        let behavior = if level == Level::Base {
            "create"
        } else if self.maybe(Feature::GeneratorBehavior, 50) {
            self.rng.pick(&["merge", "replace"])
        } else {
            "create"
        };
        // An overlay's create must not collide with the base's generated
        // object, so it generates another name.
        let name = if behavior == "create" && level != Level::Base {
            "settings-overlay"
        } else {
            "settings"
        };
        if self.maybe(Feature::ConfigMapGenerator, 50) {
            let value = self.scalar();
            let _ = writeln!(
                k,
                "configMapGenerator:\n- name: {name}\n  behavior: {behavior}\n  literals:\n  - LEVEL={value}\n  - MODE=on"
            );
            match self.rng.below(3) {
                0 => {
                    self.file(
                        format!("{dir}app.properties"),
                        "color=blue\nsize: 10\n".into(),
                    );
                    k.push_str("  files:\n  - app.properties\n");
                }
                1 => {
                    self.file(format!("{dir}app.properties"), "color=blue\n".into());
                    k.push_str("  files:\n  - config.txt=app.properties\n");
                }
                _ => {
                    self.file(
                        format!("{dir}vars.env"),
                        "# env\nDEBUG=yes\nRATIO=0.5\n".into(),
                    );
                    k.push_str("  envs:\n  - vars.env\n");
                }
            }
            if self.maybe(Feature::GeneratorOptions, 30) {
                k.push_str("  options:\n    labels:\n      generated: \"yes\"\n");
            }
        }
        if self.maybe(Feature::SecretGenerator, 40) {
            let name = if name == "settings" {
                "token"
            } else {
                "token-overlay"
            };
            let _ = writeln!(
                k,
                "secretGenerator:\n- name: {name}\n  behavior: {behavior}\n  literals:\n  - token=s3cr3t"
            );
        }
        if self.maybe(Feature::GeneratorOptions, 30) {
            k.push_str("generatorOptions:\n  disableNameSuffixHash: true\n  annotations:\n    note: \"on\"\n");
        }
    }
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn smp_patch(rng: &mut Rng) -> String {
    let mut patch = String::from("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n");
    match rng.below(3) {
        0 => {
            let _ = writeln!(patch, "spec:\n  replicas: {}", rng.below(4));
        }
        1 => patch.push_str(
            "spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: PATCHED\n          value: \"yes\"\n",
        ),
        _ => patch.push_str(
            "spec:\n  template:\n    metadata:\n      annotations:\n        patched: \"on\"\n    spec:\n      containers:\n      - name: sidecar\n        $patch: delete\n",
        ),
    }
    patch
}

fn json_ops(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("- op: add\n  path: /spec/replicas\n  value: {}\n", rng.below(4)),
        1 => "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: registry.lan/app:9\n".into(),
        _ => "- op: add\n  path: /metadata/annotations\n  value:\n    json: \"1:30\"\n".into(),
    }
}

type Make = fn(&mut Gen) -> Option<String>;

/// The pool; each entry may decline (its feature is off).
const POOL: &[Make] = &[
    config_map,
    |_| {
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  EXTRA: \"1\"\n"
                .into(),
        )
    },
    |_| {
        Some(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: abc\n"
                .into(),
        )
    },
    |_| {
        Some("apiVersion: v1\nkind: Secret\nmetadata:\n  name: pull\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: e30=\n".into())
    },
    |_| {
        Some("apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: c\n  tls.key: k\n".into())
    },
    |_| {
        Some("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n".into())
    },
    |_| {
        Some("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\nimagePullSecrets:\n- name: pull\n".into())
    },
    deployment,
    |_| {
        Some("apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector:\n    app: app\n  ports:\n  - port: 80\n    targetPort: 8080\n".into())
    },
    |_| {
        Some("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: reader\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: reader\nsubjects:\n- kind: ServiceAccount\n  name: app\n".into())
    },
    cluster_role_binding,
    stateful_set,
    |_| {
        Some("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  tls:\n  - hosts: [web.example.org]\n    secretName: tls\n  rules:\n  - host: web.example.org\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: app\n            port:\n              number: 80\n".into())
    },
    |_| {
        Some("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: app\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: app\n  minReplicas: 1\n  maxReplicas: 4\n".into())
    },
    |_| {
        Some("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: backup\nspec:\n  schedule: \"0 2 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: backup\n            image: busybox:1.36\n            envFrom:\n            - configMapRef:\n                name: settings\n          volumes:\n          - name: data\n            persistentVolumeClaim:\n              claimName: data\n".into())
    },
    |_| Some("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n".into()),
    |_| {
        Some("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector:\n    matchLabels:\n      app: app\n  policyTypes: [Ingress]\n".into())
    },
    |_| {
        Some("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: app\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: app\n".into())
    },
    |g| {
        g.on(Feature::CustomResources).then(|| "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.org\nspec:\n  group: example.org\n  names:\n    kind: Widget\n    plural: widgets\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n---\napiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: gadget\nspec:\n  settings: settings\n  size: 3\n".into())
    },
    |g| {
        g.on(Feature::AdmissionPolicy).then(|| "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: limits\nspec:\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [apps]\n      apiVersions: [v1]\n      operations: [CREATE]\n      resources: [deployments]\n  validations:\n  - expression: \"true\"\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: limits\nspec:\n  policyName: limits\n  validationActions: [Warn]\n".into())
    },
    |g| {
        (!g.diamond || g.on(Feature::AmbiguousReferences)).then(|| "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: hook\nwebhooks:\n- name: check.example.org\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig:\n    service:\n      name: app\n      namespace: default\n      path: /check\n".into())
    },
];

fn config_map(g: &mut Gen) -> Option<String> {
    let mut text =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n");
    for key in ["level", "mode", "window"] {
        let value = g.scalar();
        let _ = writeln!(text, "  {key}: {value}");
    }
    Some(text)
}

fn deployment(g: &mut Gen) -> Option<String> {
    g.has_deployment = true;
    let note = g.scalar();
    Some(format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app: app
  annotations:
    note: {note}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      serviceAccountName: app
      imagePullSecrets:
      - name: pull
      initContainers:
      - name: init
        image: busybox:1.36
        envFrom:
        - secretRef:
            name: token
      containers:
      - name: app
        image: registry.lan/app:1.0
        env:
        - name: LEVEL
          valueFrom:
            configMapKeyRef:
              name: settings
              key: level
        - name: TOKEN
          valueFrom:
            secretKeyRef:
              name: token
              key: token
        envFrom:
        - configMapRef:
            name: extra
        volumeMounts:
        - name: data
          mountPath: /data
      - name: sidecar
        image: busybox
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data
      - name: settings
        configMap:
          name: settings
      - name: bundle
        projected:
          sources:
          - configMap:
              name: extra
          - secret:
              name: token
"
    ))
}

fn cluster_role_binding(g: &mut Gen) -> Option<String> {
    let mut text = String::from(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: viewer\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [list]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: viewer\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: viewer\nsubjects:\n- kind: ServiceAccount\n  name: app\n  namespace: default\n- kind: ServiceAccount\n  name: app\n  namespace: elsewhere\n",
    );
    if g.on(Feature::NonServiceAccountSubjects) {
        text.push_str("- kind: User\n  apiGroup: rbac.authorization.k8s.io\n  name: app\n");
    }
    Some(text)
}

fn stateful_set(g: &mut Gen) -> Option<String> {
    let mut text = String::from(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  clusterIP: None\n  selector:\n    app: db\n  ports:\n  - port: 5432\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 1\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      containers:\n      - name: db\n        image: postgres:16\n",
    );
    if !g.on(Feature::StatefulSetWithoutClaimTemplates) {
        text.push_str("  volumeClaimTemplates:\n  - metadata:\n      name: pgdata\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n");
    }
    Some(text)
}
