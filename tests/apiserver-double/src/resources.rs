//! The kinds the double serves and the discovery documents describing them.
//! Built-in kinds are a fixed table; a CustomResourceDefinition adds its
//! served versions when it is stored and removes them when it is deleted.

use serde_json::{json, Value};

/// One served resource: a kind at one group/version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name used in paths, e.g. `deployments`.
    pub plural: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Set for kinds added by a CRD (list items then carry apiVersion/kind,
    /// as the real server's unstructured encoding does).
    pub custom: bool,
}

impl Resource {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or `plural`), as the real server names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind.group` (or `Kind`), as the real server names a kind in messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// (group, version, kind, plural, namespaced) of every built-in kind served.
const BUILTIN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "Endpoints", "endpoints", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    ("", "v1", "Pod", "pods", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "PersistentVolume", "persistentvolumes", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("helm.cattle.io", "v1", "HelmChart", "helmcharts", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    (
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    ("coordination.k8s.io", "v1", "Lease", "leases", true),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
    ),
];

/// Every resource the double serves right now.
#[derive(Debug, Clone)]
pub struct Resources {
    list: Vec<Resource>,
}

impl Resources {
    /// The built-in kinds.
    pub fn builtin() -> Self {
        let list = BUILTIN
            .iter()
            .map(|&(group, version, kind, plural, namespaced)| Resource {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                namespaced,
                // k3s installs the HelmChart CRD itself.
                custom: group == "helm.cattle.io",
            })
            .collect();
        Resources { list }
    }

    /// The resource served at `group/version/plural`.
    pub fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<&Resource> {
        self.list
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The resource of `apiVersion` + `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&Resource> {
        let (group, version) = split_api_version(api_version);
        self.list
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Serve the versions of a CustomResourceDefinition object.
    pub fn register_crd(&mut self, crd: &Value) {
        let Some((group, kind, plural, namespaced)) = crd_names(crd) else {
            return;
        };
        self.unregister(&group, &kind);
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for v in versions {
            if v.get("served").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            if let Some(version) = v.get("name").and_then(Value::as_str) {
                self.list.push(Resource {
                    group: group.clone(),
                    version: version.into(),
                    kind: kind.clone(),
                    plural: plural.clone(),
                    namespaced,
                    custom: true,
                });
            }
        }
    }

    /// Stop serving the kind a CustomResourceDefinition defined; returns (group, plural).
    pub fn unregister_crd(&mut self, crd: &Value) -> Option<(String, String)> {
        let (group, kind, plural, _) = crd_names(crd)?;
        self.unregister(&group, &kind);
        Some((group, plural))
    }

    fn unregister(&mut self, group: &str, kind: &str) {
        self.list
            .retain(|r| !(r.custom && r.group == group && r.kind == kind));
    }

    /// `GET /api`.
    pub fn core_versions(&self, server: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        })
    }

    /// `GET /apis`.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self.groups().into_iter().map(|g| self.group(&g)).collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/<group>`.
    pub fn group_doc(&self, group: &str) -> Option<Value> {
        self.groups()
            .iter()
            .any(|g| g == group)
            .then(|| self.group(group))
    }

    /// `GET /api/v1` or `GET /apis/<group>/<version>`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let mut resources = Vec::new();
        for r in self
            .list
            .iter()
            .filter(|r| r.group == group && r.version == version)
        {
            let verbs = [
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
            ];
            resources.push(json!({
                "name": r.plural,
                "singularName": r.kind.to_lowercase(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs,
            }));
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if resources.is_empty() {
            return None;
        }
        let group_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }))
    }

    fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for r in &self.list {
            if !r.group.is_empty() && !groups.contains(&r.group) {
                groups.push(r.group.clone());
            }
        }
        groups
    }

    fn group(&self, group: &str) -> Value {
        let mut versions: Vec<&str> = Vec::new();
        for r in self.list.iter().filter(|r| r.group == group) {
            if !versions.contains(&r.version.as_str()) {
                versions.push(&r.version);
            }
        }
        let version = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
        json!({
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions.iter().map(|v| version(v)).collect::<Vec<_>>(),
            "preferredVersion": version(versions[0]),
        })
    }
}

/// (group, version) of an apiVersion string.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

fn crd_names(crd: &Value) -> Option<(String, String, String, bool)> {
    let s = |p: &str| crd.pointer(p).and_then(Value::as_str).map(str::to_string);
    Some((
        s("/spec/group")?,
        s("/spec/names/kind")?,
        s("/spec/names/plural")?,
        s("/spec/scope").as_deref() != Some("Cluster"),
    ))
}
