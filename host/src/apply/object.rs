//! Objects as the cluster knows them: identity, apply stage and order, the
//! ownership marks rekon sets, and the normal form two versions of an object
//! are compared in.

use std::fmt;

use serde_json::Value;

/// Label rekon sets on every object it applies: the kustomization that owns it.
/// Only objects carrying it (with the kustomization's name) are ever pruned.
pub const OWNER_LABEL: &str = "rekon.dev/kustomization";
/// Annotation that keeps an object from ever being pruned (value `disabled`).
pub const PRUNE_ANNOTATION: &str = "rekon.dev/prune";
/// The field manager of every rekon write.
pub const FIELD_MANAGER: &str = "rekon";

/// Which object: `apiVersion`, `kind`, namespace and name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectRef {
    /// `group/version` or `version`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`None` when cluster-scoped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// The identity of `object`, or what is missing.
    pub fn of(object: &Value) -> Result<ObjectRef, String> {
        let field = |pointer: &str, name: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("missing `{name}`"))
        };
        Ok(ObjectRef {
            api_version: field("/apiVersion", "apiVersion")?,
            kind: field("/kind", "kind")?,
            namespace: object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            name: field("/metadata/name", "metadata.name")?,
        })
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version.split_once('/').map_or("", |(g, _)| g)
    }

    /// The API version without the group.
    pub fn version(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// Identity across API versions (an object keeps it when its kind moves
    /// from `v1beta1` to `v1`): group, kind, namespace, name.
    pub fn key(&self) -> (&str, &str, Option<&str>, &str) {
        (
            self.group(),
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }

    /// The apply stage of this kind.
    pub fn stage(&self) -> Stage {
        stage_of(&self.kind)
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped (as `rekon
    /// render --explain` names objects).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Apply stages, as Flux stages them: definitions other objects need first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// CustomResourceDefinitions and Namespaces, applied (and CRDs
    /// established) before anything else.
    Definitions,
    /// Everything else.
    Objects,
}

fn stage_of(kind: &str) -> Stage {
    match kind {
        "CustomResourceDefinition" | "Namespace" => Stage::Definitions,
        _ => Stage::Objects,
    }
}

/// Sort key of apply order: stage, then kustomize's legacy kind order
/// (which Flux follows too), stable for the rest.
pub fn apply_order(kind: &str) -> (Stage, i64) {
    (stage_of(kind), rekon_kustomize::kind_rank(kind))
}

/// Metadata the server maintains; left out when comparing and diffing.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
];

/// `object` without `status` and server-maintained metadata: two objects
/// with equal normal forms need no apply.
pub fn normalize(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for key in SERVER_METADATA {
                meta.remove(*key);
            }
        }
    }
    o
}

/// The value of label `key`.
pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// The value of annotation `key`.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_puts_definitions_first_and_webhooks_last() {
        let mut kinds = vec![
            "ValidatingWebhookConfiguration",
            "Deployment",
            "IngressRoute",
            "Service",
            "CustomResourceDefinition",
            "Namespace",
        ];
        kinds.sort_by_key(|k| apply_order(k));
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "Service",
                "Deployment",
                "IngressRoute",
                "ValidatingWebhookConfiguration"
            ]
        );
    }

    #[test]
    fn normal_form_ignores_server_fields() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "1", "resourceVersion": "9", "managedFields": []}, "data": {"k": "v"}, "status": {}});
        let desired = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        assert_eq!(normalize(&live), normalize(&desired));
    }

    #[test]
    fn display_and_key() {
        let o = ObjectRef::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "site"}})).unwrap();
        assert_eq!(o.to_string(), "Deployment/site/web");
        assert_eq!(o.key(), ("apps", "Deployment", Some("site"), "web"));
        assert_eq!(
            ObjectRef::of(&json!({"kind": "X"})).unwrap_err(),
            "missing `apiVersion`"
        );
    }
}
