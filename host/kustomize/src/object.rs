//! Kubernetes objects as they flow through a build: identity, scope, origin.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::yaml::PlainText;
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
        is_cluster_scoped(&self.group, &self.version, &self.kind)
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

/// An object being built, with where it came from and what kustomize keeps
/// in its build annotations (never written out here): the identities it had
/// before transformers renamed or moved it (its "previous ids"), so patches
/// and `replicas` in an overlay can still use the base's names and name
/// references can find it, and the prefixes and suffixes added to its name,
/// innermost first, which tell apart copies of one base renamed differently.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub object: Value,
    pub origin: Origin,
    pub previous: Vec<ResId>,
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Set on objects made by a `configMapGenerator`/`secretGenerator`
    /// (kustomize keeps this in build annotations, which never reach the
    /// output).
    pub generated: Option<Generated>,
    /// Annotations and `data` values written as plain scalars that do not
    /// read as the same string (`note: 0755`, `day: 2024-01-01`): kustomize keeps such a node's text,
    /// and writes it back as a string where it rewrites the map, until a
    /// JSON patch turns the object into JSON and back.
    pub plain: Vec<PlainText>,
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
    /// An object as loaded, with no history.
    pub fn new(object: Value, origin: Origin) -> Item {
        Item {
            object,
            origin,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            generated: None,
            plain: Vec::new(),
        }
    }

    pub fn id(&self) -> ResId {
        ResId::of(&self.object)
    }

    /// Every identity the object has had, the current one last.
    pub fn ids(&self) -> Vec<ResId> {
        let mut ids = self.previous.clone();
        ids.push(self.id());
        ids
    }

    /// What a JSON round trip does to the texts kustomize kept: annotations
    /// read from plain scalars become the JSON value's text (`0755` turns
    /// into `"493"` after a JSON patch), and nothing is kept any more.
    pub fn lose_plain_texts(&mut self) {
        for (keys, text) in std::mem::take(&mut self.plain) {
            let [m, a, key] = keys.as_slice() else {
                continue;
            };
            if m != "metadata" || a != "annotations" {
                continue;
            }
            let Some(value) = self.object["metadata"]["annotations"].get_mut(key) else {
                continue;
            };
            if value.as_str() == Some(text.as_str()) {
                *value = match crate::yaml::resolve_plain(&text) {
                    Ok(Value::String(s)) => Value::String(s),
                    Ok(Value::Null) => Value::String(String::new()),
                    Ok(other) => Value::String(other.to_string()),
                    Err(_) => continue,
                };
            }
        }
    }

    /// Records the current identity before a transformer may change it
    /// (kustomize's `StorePreviousId`: the namespace transformer does it for
    /// every object, the prefix and suffix transformers for each object they
    /// rename, a generator's hash suffix for what it generated). An object
    /// with no previous id is never the target of a name reference.
    pub fn remember_id(&mut self) {
        self.previous.push(self.id());
    }
}

/// The text a `data` value was written with, if kustomize keeps it (see
/// [`Item::plain`]).
pub(crate) fn plain_data<'a>(plain: &'a [PlainText], key: &str) -> Option<&'a str> {
    plain
        .iter()
        .find(|(keys, _)| matches!(keys.as_slice(), [d, k] if d == "data" && k == key))
        .map(|(_, text)| text.as_str())
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

/// Built-in cluster-scoped kinds by apiVersion, as in kyaml's
/// `precomputedIsNamespaceScoped` (kustomize v5.5): every other kind and
/// version, including custom resources and kinds newer than kyaml's schema
/// (such as ValidatingAdmissionPolicy), is treated as namespaced, like
/// kustomize does.
const CLUSTER_SCOPED: &[(&str, &[&str])] = &[
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    (
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
    ),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("apiregistration.k8s.io/v1beta1", &["APIService"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    (
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    ("networking.k8s.io/v1", &["IngressClass"]),
    ("networking.k8s.io/v1beta1", &["IngressClass"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("node.k8s.io/v1beta1", &["RuntimeClass"]),
    ("policy/v1beta1", &["PodSecurityPolicy"]),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding"],
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &["ClusterRole", "ClusterRoleBinding"],
    ),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("scheduling.k8s.io/v1beta1", &["PriorityClass"]),
    (
        "storage.k8s.io/v1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    ),
    (
        "v1",
        &[
            "ComponentStatus",
            "Namespace",
            "Node",
            "NodeProxyOptions",
            "PersistentVolume",
        ],
    ),
];

pub(crate) fn is_cluster_scoped(group: &str, version: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|(api_version, kinds)| {
        let matches = match api_version.rsplit_once('/') {
            Some((g, v)) => g == group && v == version,
            None => group.is_empty() && *api_version == version,
        };
        matches && kinds.contains(&kind)
    })
}

/// Turns parsed documents into objects: flattens `List` kinds into their
/// items (as kustomize does for any kind ending in `List` that has `items`)
/// and refuses anything that is not an object with apiVersion, kind and name.
pub(crate) fn items_from_documents(
    documents: Vec<(Value, usize, Vec<PlainText>)>,
    file: &Path,
) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    for (value, line, plain) in documents {
        let first = items.len();
        push_object(value, file, line, &mut items)?;
        // A document that is one object (not a List) keeps its texts.
        if let [item] = &mut items[first..] {
            item.plain = plain;
        }
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
    items.push(Item::new(object, origin));
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
