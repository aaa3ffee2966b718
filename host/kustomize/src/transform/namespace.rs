//! `namespace`: kustomize's namespace transformer.

use serde_json::Value;

use super::fieldspec::{group_kind, visit, FieldSpec};
use crate::object::{Item, ResId};

/// Namespace fields of cluster-scoped kinds (kustomize's `namespaceFieldSpecs`
/// minus the `APIService` entry's `create`, which would invent a service for
/// local API services).
const CLUSTER_SCOPED_FIELDS: &[FieldSpec] = &[
    group_kind(
        "apiregistration.k8s.io",
        "APIService",
        "spec/service/namespace",
        false,
    ),
    group_kind(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    ),
];

/// Sets `metadata.namespace` of namespaced objects; like kustomize it also
/// renames a `v1` Namespace object to the namespace, sets the namespace of
/// (Cluster)RoleBinding subjects named `default`, and of service references
/// in APIServices and CRD conversion webhooks. ServiceAccount subjects that
/// refer to service accounts of the build follow them through
/// [`super::names::update_references`].
pub(crate) fn apply(items: &mut [Item], namespace: &str) {
    let set = &mut |value: &mut Value| *value = Value::String(namespace.to_string());
    for item in items {
        let id = ResId::of(&item.object);
        if id.is_cluster_scoped() {
            if id.kind == "Namespace" && item.object["apiVersion"] == "v1" {
                visit(&mut item.object, &["metadata", "name"], true, set);
            }
            for spec in CLUSTER_SCOPED_FIELDS {
                spec.apply(&mut item.object, set);
            }
        } else {
            visit(&mut item.object, &["metadata", "namespace"], true, set);
        }
        if id.group == "rbac.authorization.k8s.io"
            && (id.kind == "RoleBinding" || id.kind == "ClusterRoleBinding")
        {
            if let Some(Value::Array(subjects)) = item.object.get_mut("subjects") {
                for subject in subjects.iter_mut().filter(|s| s["name"] == "default") {
                    visit(subject, &["namespace"], true, set);
                }
            }
        }
    }
}
