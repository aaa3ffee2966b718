//! Output order: kustomize's `legacy` sort.
//!
//! This mirrors kustomize's `orderFirst`/`orderLast` lists (kyaml
//! `resid/gvk.go`, used by `api/internal/builtins/SortOrderTransformer.go`):
//! kinds that others depend on come first (Namespace before what lives in
//! it, CRDs before custom resources, ServiceAccounts and RBAC before
//! workloads), admission webhooks last so they cannot block the objects
//! applied with them. Other kinds sit in between, ordered by
//! group/version/kind; objects of one kind are ordered by namespace and name,
//! exactly as kustomize does, so `kustomize build` and rekon agree.

use std::cmp::Ordering;

use crate::object::{Item, ResId};

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Where `kind` sorts in kustomize's legacy order: negative for the kinds
/// that go first (Namespace lowest), 0 for unlisted kinds, positive for the
/// webhooks that go last. The apply stages of rekon use the same order.
pub fn kind_rank(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        i as i64 - ORDER_FIRST.len() as i64
    } else if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        1 + i as i64
    } else {
        0
    }
}

fn gvk_string(id: &ResId) -> String {
    let or = |s: &str, missing: &str| {
        if s.is_empty() {
            missing.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&id.group, "~G"),
        or(&id.version, "~V"),
        or(&id.kind, "~K")
    )
}

fn compare(a: &ResId, b: &ResId) -> Ordering {
    let same_gvk = a.group == b.group && a.version == b.version && a.kind == b.kind;
    if !same_gvk {
        let by_rank = kind_rank(&a.kind).cmp(&kind_rank(&b.kind));
        if by_rank != Ordering::Equal {
            return by_rank;
        }
        // kustomize puts the core Namespace before same-named kinds of
        // other groups.
        if a.kind == "Namespace"
            && b.kind == "Namespace"
            && (a.group.is_empty() || b.group.is_empty())
        {
            return gvk_string(b).cmp(&gvk_string(a));
        }
        return gvk_string(a).cmp(&gvk_string(b));
    }
    let key = |id: &ResId| {
        let ns = if id.namespace.is_empty() {
            "~X"
        } else {
            &id.namespace
        };
        let name = if id.name.is_empty() { "~N" } else { &id.name };
        format!("{ns}|{name}")
    };
    key(a).cmp(&key(b))
}

/// Sorts the items in kustomize's legacy order.
pub(crate) fn sort(items: &mut [Item]) {
    items.sort_by_cached_key(|item| SortKey(item.id()));
}

/// [`compare`] as an `Ord`, so ids are computed once per item.
#[derive(PartialEq, Eq)]
struct SortKey(ResId);

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(api_version: &str, kind: &str, namespace: &str, name: &str) -> ResId {
        ResId::of(&serde_json::json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}
        }))
    }

    #[test]
    fn legacy_order() {
        let mut ids = vec![
            id(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "",
                "v",
            ),
            id("apps/v1", "Deployment", "web", "b"),
            id("networking.k8s.io/v1", "Ingress", "web", "i"),
            id("apps/v1", "Deployment", "web", "a"),
            id("v1", "Service", "web", "s"),
            id("example.com/v1", "Namespace", "", "other"),
            id("v1", "Namespace", "", "web"),
            id("v1", "ConfigMap", "", "c"),
            id("batch/v1", "Job", "web", "j"),
        ];
        ids.sort_by(compare);
        let kinds: Vec<String> = ids
            .iter()
            .map(|i| format!("{}/{}", i.kind, i.name))
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace/web",
                "Namespace/other",
                "ConfigMap/c",
                "Service/s",
                "Deployment/a",
                "Deployment/b",
                "Job/j",
                "Ingress/i",
                "ValidatingWebhookConfiguration/v"
            ]
        );
    }
}
