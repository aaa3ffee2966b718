//! Kubernetes helpers: object identity, pod templates of workloads, containers,
//! labels and name globs.
//!
//! ```
//! use rekon_plugin_sdk::k8s;
//! use serde_json::json;
//!
//! let deployment = json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "frontend", "namespace": "website"},
//!     "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}
//! });
//! assert_eq!(k8s::ObjectId::of(&deployment).to_string(), "apps/v1 Deployment website/frontend");
//! assert_eq!(k8s::pod_template_path(&deployment).unwrap().to_string(), "spec.template");
//! let containers = k8s::containers(&deployment);
//! assert_eq!(containers[0].path.to_string(), "spec.template.spec.containers[0]");
//! assert_eq!(containers[0].name(), "web");
//! ```

use crate::json::FieldPath;
use crate::ObjectRef;
use serde_json::{Map, Value};
use std::fmt;

/// Who an object is: `apiVersion`, `kind`, `metadata.namespace`, `metadata.name`
/// (each empty when the object lacks it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// `apiVersion`, e.g. `apps/v1` or `v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.namespace`; empty for cluster-scoped objects (and for namespaced
    /// ones that leave it to the default namespace).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectId {
    /// The identity of `object`.
    pub fn of(object: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let metadata = object.get("metadata");
        Self {
            api_version: text(object.get("apiVersion")),
            kind: text(object.get("kind")),
            namespace: text(metadata.and_then(|m| m.get("namespace"))),
            name: text(metadata.and_then(|m| m.get("name"))),
        }
    }

    /// The API group: the part of `apiVersion` before `/`, empty for the core
    /// group (`v1`).
    pub fn group(&self) -> &str {
        api_group(&self.api_version)
    }
}

impl fmt::Display for ObjectId {
    /// `apps/v1 Deployment website/frontend`, or `v1 Namespace website` when
    /// cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.api_version, self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}

/// The API group of `api_version`: `apps` for `apps/v1`, empty for `v1`.
pub fn api_group(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or("", |(group, _version)| group)
}

/// The WIT `object-ref` of the object at position `index` of a render.
pub fn object_ref(index: usize, object: &Value) -> ObjectRef {
    let id = ObjectId::of(object);
    ObjectRef {
        // A render never has 4 billion objects; saturate rather than wrap.
        index: u32::try_from(index).unwrap_or(u32::MAX),
        api_version: id.api_version,
        kind: id.kind,
        namespace: id.namespace,
        name: id.name,
    }
}

/// Where the pod template of a workload is: the path of the object that has the
/// pod's `metadata` and `spec`.
///
/// | kind (API group) | path |
/// | --- | --- |
/// | `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet` (`apps`, legacy `extensions`) | `spec.template` |
/// | `ReplicationController` (core) | `spec.template` |
/// | `Job` (`batch`) | `spec.template` |
/// | `CronJob` (`batch`) | `spec.jobTemplate.spec.template` |
/// | `Pod` (core) | the root: the pod is its own template |
///
/// `None` for every other object, including custom resources that reuse one of
/// these kind names in another group (their shape is unknown). The path is
/// returned even when the object lacks the fields; [`pod_spec_path`] adds `spec`.
pub fn pod_template_path(object: &Value) -> Option<FieldPath> {
    // Read in place: this runs for every object of a render.
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let template = FieldPath::root().key("spec").key("template");
    match (api_group(text("apiVersion")), text("kind")) {
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            Some(template)
        }
        ("", "ReplicationController") | ("batch", "Job") => Some(template),
        ("batch", "CronJob") => Some(
            FieldPath::root()
                .key("spec")
                .key("jobTemplate")
                .key("spec")
                .key("template"),
        ),
        ("", "Pod") => Some(FieldPath::root()),
        _ => None,
    }
}

/// The pod template of a workload and its path (see [`pod_template_path`]);
/// `None` for other objects and for workloads that lack the template.
///
/// Over all objects of a render:
///
/// ```
/// # use rekon_plugin_sdk::k8s;
/// # let objects: Vec<serde_json::Value> = vec![];
/// for (index, object) in objects.iter().enumerate() {
///     if let Some((path, template)) = k8s::pod_template(object) {
///         println!("object {index}: pod template at {path}: {template}");
///     }
/// }
/// ```
pub fn pod_template(object: &Value) -> Option<(FieldPath, &Value)> {
    let path = pod_template_path(object)?;
    let template = path.get(object)?;
    Some((path, template))
}

/// Like [`pod_template`], mutable.
pub fn pod_template_mut(object: &mut Value) -> Option<(FieldPath, &mut Value)> {
    let path = pod_template_path(object)?;
    let template = path.get_mut(object)?;
    Some((path, template))
}

/// The path of the pod spec of a workload (`spec.template.spec`, `spec` for a
/// Pod); see [`pod_template_path`].
pub fn pod_spec_path(object: &Value) -> Option<FieldPath> {
    pod_template_path(object).map(|path| path.key("spec"))
}

/// Which list of the pod spec a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `initContainers` (run before the others, or sidecars with `restartPolicy: Always`).
    Init,
    /// `containers`.
    App,
    /// `ephemeralContainers` (debug containers; rare in manifests).
    Ephemeral,
}

impl ContainerKind {
    /// The pod spec field of this list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::App => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    const ALL: [ContainerKind; 3] = [
        ContainerKind::Init,
        ContainerKind::App,
        ContainerKind::Ephemeral,
    ];
}

/// One container of a workload, read-only; see [`containers`].
#[derive(Clone, Debug)]
pub struct ContainerRef<'a> {
    /// Path of the container in the object, e.g. `spec.template.spec.containers[0]`.
    pub path: FieldPath,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// The container object.
    pub value: &'a Value,
}

impl ContainerRef<'_> {
    /// The container's `name` (empty when missing).
    pub fn name(&self) -> &str {
        self.value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// One container of a workload, mutable; see [`containers_mut`].
#[derive(Debug)]
pub struct ContainerMut<'a> {
    /// Path of the container in the object, e.g. `spec.template.spec.containers[0]`.
    pub path: FieldPath,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// The container object.
    pub value: &'a mut Value,
}

impl ContainerMut<'_> {
    /// The container's `name` (empty when missing).
    pub fn name(&self) -> &str {
        self.value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Every container of a workload (see [`pod_template_path`] for which objects are
/// workloads): init containers first, then containers, then ephemeral containers,
/// each in list order. Empty for other objects.
pub fn containers(object: &Value) -> Vec<ContainerRef<'_>> {
    let Some(spec_path) = pod_spec_path(object) else {
        return Vec::new();
    };
    let Some(spec) = spec_path.get(object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for kind in ContainerKind::ALL {
        if let Some(list) = spec.get(kind.field()).and_then(Value::as_array) {
            for (i, value) in list.iter().enumerate() {
                found.push(ContainerRef {
                    path: spec_path.clone().key(kind.field()).index(i),
                    kind,
                    value,
                });
            }
        }
    }
    found
}

/// Like [`containers`], mutable.
pub fn containers_mut(object: &mut Value) -> Vec<ContainerMut<'_>> {
    let Some(spec_path) = pod_spec_path(object) else {
        return Vec::new();
    };
    let Some(spec) = spec_path.get_mut(object).and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    // One pass over the map hands out disjoint `&mut` to the three lists.
    let mut found = Vec::new();
    for (key, list) in spec.iter_mut() {
        let Some(kind) = ContainerKind::ALL.into_iter().find(|k| k.field() == key) else {
            continue;
        };
        if let Some(list) = list.as_array_mut() {
            for (i, value) in list.iter_mut().enumerate() {
                found.push(ContainerMut {
                    path: spec_path.clone().key(kind.field()).index(i),
                    kind,
                    value,
                });
            }
        }
    }
    // Same order as `containers`, whatever the key order of the object.
    found.sort_by_key(|c| c.kind);
    found
}

/// `metadata.labels` of `object` (`None` when it has none).
pub fn labels(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.get("labels")?.as_object()
}

/// `metadata.annotations` of `object` (`None` when it has none).
pub fn annotations(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.get("annotations")?.as_object()
}

/// Whether `object` has every label of `selector` with the same value (an
/// equality label selector; an empty selector matches every object).
///
/// `selector` is anything that iterates over key/value pairs of strings: a
/// `&BTreeMap<String, String>`, `[("app", "web")]`, ...
pub fn has_labels<K: AsRef<str>, V: AsRef<str>>(
    object: &Value,
    selector: impl IntoIterator<Item = (K, V)>,
) -> bool {
    let labels = labels(object);
    selector.into_iter().all(|(key, want)| {
        labels
            .and_then(|l| l.get(key.as_ref()))
            .and_then(Value::as_str)
            .is_some_and(|have| have == want.as_ref())
    })
}

/// Shell-style glob match of a whole name: `*` is any run of characters (also
/// none), `?` exactly one character, everything else itself.
///
/// ```
/// use rekon_plugin_sdk::k8s::glob_match;
/// assert!(glob_match("front*", "frontend"));
/// assert!(glob_match("*-api", "orders-api"));
/// assert!(glob_match("web-?", "web-1"));
/// assert!(!glob_match("front*", "backend"));
/// ```
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Greedy match with one backtrack point (the last `*`): linear for the
    // patterns people write, never exponential.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some('?') => {
                p += 1;
                n += 1;
            }
            Some(&c) if c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workload(api_version: &str, kind: &str) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
    }

    #[test]
    fn pod_template_paths() {
        let cases = [
            ("apps/v1", "Deployment", Some("spec.template")),
            ("apps/v1", "StatefulSet", Some("spec.template")),
            ("apps/v1", "DaemonSet", Some("spec.template")),
            ("apps/v1", "ReplicaSet", Some("spec.template")),
            ("extensions/v1beta1", "Deployment", Some("spec.template")),
            ("v1", "ReplicationController", Some("spec.template")),
            ("batch/v1", "Job", Some("spec.template")),
            (
                "batch/v1",
                "CronJob",
                Some("spec.jobTemplate.spec.template"),
            ),
            ("v1", "Pod", Some("")),
            ("v1", "Service", None),
            ("example.com/v1", "Deployment", None),
        ];
        for (api_version, kind, want) in cases {
            let got = pod_template_path(&workload(api_version, kind)).map(|p| p.to_string());
            assert_eq!(got.as_deref(), want, "{api_version} {kind}");
        }
    }

    #[test]
    fn pod_templates() {
        let mut cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
        let (path, template) = pod_template(&cronjob).unwrap();
        assert_eq!(path.to_string(), "spec.jobTemplate.spec.template");
        assert_eq!(template, &json!({"spec": {"containers": []}}));
        let (_, template) = pod_template_mut(&mut cronjob).unwrap();
        template["metadata"] = json!({"labels": {"a": "b"}});
        assert_eq!(
            cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["a"],
            "b"
        );
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {}});
        assert_eq!(pod_template_mut(&mut pod).unwrap().0, FieldPath::root());
        assert!(pod_template(&json!({"apiVersion": "apps/v1", "kind": "Deployment"})).is_none());
        assert!(
            pod_template(&json!({"apiVersion": "v1", "kind": "Service", "spec": {}})).is_none()
        );
    }

    #[test]
    fn lists_containers_in_order() {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {
                "containers": [{"name": "a"}, {"name": "b"}],
                "initContainers": [{"name": "i"}]
            }
        });
        let names: Vec<_> = containers(&pod)
            .iter()
            .map(|c| (c.path.to_string(), c.name().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("spec.initContainers[0]".to_string(), "i".to_string()),
                ("spec.containers[0]".to_string(), "a".to_string()),
                ("spec.containers[1]".to_string(), "b".to_string()),
            ]
        );
        for c in containers_mut(&mut pod) {
            let name = c.name().to_uppercase();
            c.value["name"] = json!(name);
        }
        assert_eq!(pod["spec"]["containers"][1]["name"], "B");
        assert_eq!(pod["spec"]["initContainers"][0]["name"], "I");
        let kinds: Vec<_> = containers_mut(&mut pod).iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ContainerKind::Init, ContainerKind::App, ContainerKind::App]
        );
    }

    #[test]
    fn identity_and_refs() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}});
        assert_eq!(ObjectId::of(&ns).to_string(), "v1 Namespace web");
        assert_eq!(ObjectId::of(&json!({})), ObjectId::default());
        let r = object_ref(3, &ns);
        assert_eq!(
            (r.index, r.kind.as_str(), r.namespace.as_str()),
            (3, "Namespace", "")
        );
        assert_eq!(api_group("networking.k8s.io/v1"), "networking.k8s.io");
        assert_eq!(api_group("v1"), "");
    }

    #[test]
    fn label_selectors() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        assert!(has_labels(&o, [("app", "web")]));
        assert!(!has_labels(&o, [("app", "web"), ("tier", "back")]));
        let map: std::collections::BTreeMap<String, String> =
            [("tier".to_string(), "front".to_string())].into();
        assert!(has_labels(&o, &map));
        assert!(has_labels(&json!({}), std::iter::empty::<(&str, &str)>()));
        assert!(!has_labels(&json!({}), [("app", "web")]));
    }

    #[test]
    fn globs() {
        for (p, n, want) in [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*a", "banana", true),
            ("**", "x", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("frontend", "frontend", true),
            ("frontend", "frontend-2", false),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} {n}");
        }
    }
}
