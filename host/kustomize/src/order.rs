//! Output order: kustomize's `legacy` sort, or `fifo` (load order) when the
//! built kustomization's `sortOptions` ask for it.
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

use crate::kustomization::SortOptions;
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

/// The order of the built kustomization's `sortOptions`. Only the
/// kustomization being built counts; kustomize ignores those of the
/// kustomizations it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Order {
    /// Kinds in `first` go first, in that order, then unlisted kinds, then
    /// kinds in `last`; within a rank, by group/version/kind, namespace and
    /// name.
    Legacy {
        first: Vec<String>,
        last: Vec<String>,
    },
    /// Load order, untouched.
    Fifo,
}

impl Default for Order {
    /// kustomize's default: the legacy order with its built-in lists.
    fn default() -> Self {
        let owned = |kinds: &[&str]| kinds.iter().map(|k| k.to_string()).collect();
        Order::Legacy {
            first: owned(ORDER_FIRST),
            last: owned(ORDER_LAST),
        }
    }
}

impl Order {
    /// Reads `sortOptions`, refusing what kustomize refuses (with its
    /// wording).
    pub fn from_options(options: &SortOptions) -> Result<Order, String> {
        match (options.order.as_deref(), &options.legacy_sort_options) {
            (Some("fifo"), None) => Ok(Order::Fifo),
            (Some("fifo"), Some(_)) => Err("the field 'sortOptions.legacySortOptions' is set \
                 but the selected sort order is 'fifo', not 'legacy'"
                .into()),
            (Some("legacy"), None) => Ok(Order::default()),
            (Some("legacy"), Some(legacy)) => Ok(Order::Legacy {
                first: legacy.order_first.clone(),
                last: legacy.order_last.clone(),
            }),
            _ => Err("the field 'sortOptions.order' must be one of [fifo, legacy]".into()),
        }
    }
}

/// A kind's rank in custom legacy lists (as [`kind_rank`] for the default).
fn rank_in(kind: &str, first: &[String], last: &[String]) -> i64 {
    // As kustomize builds its map, a kind listed twice takes its last place.
    let mut rank = 0;
    for (i, k) in first.iter().enumerate() {
        if k == kind {
            rank = i as i64 - first.len() as i64;
        }
    }
    for (i, k) in last.iter().enumerate() {
        if k == kind {
            rank = 1 + i as i64;
        }
    }
    rank
}

fn compare_ranked(a: &ResId, b: &ResId, rank: &dyn Fn(&str) -> i64) -> Ordering {
    let same_gvk = a.group == b.group && a.version == b.version && a.kind == b.kind;
    if !same_gvk {
        let by_rank = rank(&a.kind).cmp(&rank(&b.kind));
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

/// Sorts the items in the given order.
pub(crate) fn sort(items: &mut Vec<Item>, order: &Order) {
    let Order::Legacy { first, last } = order else {
        return;
    };
    let rank = |kind: &str| rank_in(kind, first, last);
    let mut keyed: Vec<(ResId, Item)> = items.drain(..).map(|item| (item.id(), item)).collect();
    keyed.sort_by(|(a, _), (b, _)| compare_ranked(a, b, &rank));
    items.extend(keyed.into_iter().map(|(_, item)| item));
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
        ids.sort_by(|a, b| compare_ranked(a, b, &kind_rank));
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

    #[test]
    fn custom_legacy_lists_and_their_errors() {
        let first = vec!["Service".to_string(), "Service".to_string()];
        let last = vec!["Namespace".to_string()];
        assert_eq!(rank_in("Service", &first, &last), -1);
        assert_eq!(rank_in("Namespace", &first, &last), 1);
        assert_eq!(rank_in("Deployment", &first, &last), 0);
        let options = |order: Option<&str>, legacy: bool| SortOptions {
            order: order.map(str::to_string),
            legacy_sort_options: legacy.then(Default::default),
        };
        assert_eq!(
            Order::from_options(&options(Some("fifo"), false)),
            Ok(Order::Fifo)
        );
        assert_eq!(
            Order::from_options(&options(Some("legacy"), false)),
            Ok(Order::default())
        );
        assert!(Order::from_options(&options(Some("fifo"), true)).is_err());
        assert!(Order::from_options(&options(None, true)).is_err());
        assert!(Order::from_options(&options(Some("random"), false)).is_err());
    }
}
