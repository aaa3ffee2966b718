//! Kubernetes objects as they flow through a build: identity, scope, origin.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::{Error, Origin};

/// The identity kustomize gives an object (its `ResId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResId {
    pub fn of(object: &Value) -> ResId {
        let (group, version) = split_api_version(str_at(object, &["apiVersion"]));
        ResId {
            group: group.to_string(),
            version: version.to_string(),
            kind: str_at(object, &["kind"]).to_string(),
            namespace: str_at(object, &["metadata", "namespace"]).to_string(),
            name: str_at(object, &["metadata", "name"]).to_string(),
        }
    }

    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.group, &self.kind)
    }

    /// The namespace for comparisons: kustomize treats an unset namespace as
    /// `default` for namespaced kinds and ignores it for cluster-scoped ones.
    pub fn effective_namespace(&self) -> &str {
        if self.is_cluster_scoped() {
            ""
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        write!(f, " ")?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        write!(f, "{}", self.name)
    }
}

/// An object being built, with where it came from and the identities it had
/// before transformers renamed or moved it (kustomize's "previous ids"), so
/// patches and `replicas` in an overlay can still use the base's names.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub object: Value,
    pub origin: Origin,
    pub previous: Vec<ResId>,
    /// Set on objects made by a `configMapGenerator`/`secretGenerator`
    /// (kustomize keeps this in build annotations, which never reach the
    /// output).
    pub generated: Option<Generated>,
}

/// What a build remembers about a generated object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generated {
    /// The name gets a content hash suffix at the end of the build (unless
    /// `disableNameSuffixHash`). The generator's `behavior` is not kept: it
    /// only matters when the object is first added to its kustomization.
    pub needs_hash: bool,
}

impl Item {
    pub fn id(&self) -> ResId {
        ResId::of(&self.object)
    }

    /// Every identity the object has had, the current one last.
    pub fn ids(&self) -> Vec<ResId> {
        let mut ids = self.previous.clone();
        ids.push(self.id());
        ids
    }

    /// Records the current identity before a transformer changes it.
    pub fn remember_id(&mut self) {
        let id = self.id();
        if self.previous.last() != Some(&id) {
            self.previous.push(id);
        }
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The string at a path of object keys, or `""`.
fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Built-in cluster-scoped kinds, by API group, as in kyaml's
/// `precomputedIsNamespaceScoped` (every other kind, including custom
/// resources, is treated as namespaced, like kustomize does).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
];

pub(crate) fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&(group, kind))
}

/// Turns parsed documents into objects: flattens `List` kinds into their
/// items (as kustomize does for any kind ending in `List` that has `items`)
/// and refuses anything that is not an object with apiVersion, kind and name.
pub(crate) fn items_from_documents(
    documents: Vec<(Value, usize)>,
    file: &Path,
) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    for (value, line) in documents {
        push_object(value, file, line, &mut items)?;
    }
    Ok(items)
}

fn push_object(value: Value, file: &Path, line: usize, items: &mut Vec<Item>) -> Result<(), Error> {
    let not_an_object = |message: String| Error::NotAnObject {
        file: file.to_path_buf(),
        line,
        message,
    };
    let Value::Object(mut map) = value else {
        return Err(not_an_object(format!(
            "document is not a Kubernetes object: expected a mapping, found {}",
            json_type(&value)
        )));
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        let Some(Value::Array(list)) = map.remove("items") else {
            unreachable!("checked above")
        };
        for item in list {
            push_object(item, file, line, items)?;
        }
        return Ok(());
    }
    let object = Value::Object(map);
    let origin = Origin {
        file: file.to_path_buf(),
        line,
    };
    check_object(&object, &origin)?;
    items.push(Item {
        object,
        origin,
        previous: Vec::new(),
        generated: None,
    });
    Ok(())
}

/// Checks that an object (as loaded, or after patches) has the fields every
/// Kubernetes object needs.
pub(crate) fn check_object(object: &Value, origin: &Origin) -> Result<(), Error> {
    for (path, field) in [
        (&["apiVersion"][..], "apiVersion"),
        (&["kind"][..], "kind"),
        (&["metadata", "name"][..], "metadata.name"),
    ] {
        if str_at(object, path).is_empty() {
            return Err(Error::NotAnObject {
                file: origin.file.clone(),
                line: origin.line,
                message: format!("document is not a Kubernetes object: missing '{field}'"),
            });
        }
    }
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Refuses two objects with the same group, kind, namespace and name.
pub(crate) fn check_duplicates(items: &[Item]) -> Result<(), Error> {
    let mut seen: HashMap<(String, String, String, String), usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let id = item.id();
        let key = (
            id.group.clone(),
            id.kind.clone(),
            id.effective_namespace().to_string(),
            id.name.clone(),
        );
        if let Some(&first) = seen.get(&key) {
            let first = &items[first].origin;
            return Err(Error::Duplicate {
                file: item.origin.file.clone(),
                line: item.origin.line,
                id: id.to_string(),
                first_file: first.file.clone(),
                first_line: first.line,
            });
        }
        seen.insert(key, index);
    }
    Ok(())
}
