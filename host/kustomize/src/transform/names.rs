//! `namePrefix` / `nameSuffix`, and the references that must follow objects
//! renamed or moved by a kustomization.

use serde_json::Value;

use super::fieldspec::visit;
use crate::object::{is_cluster_scoped, Item, ResId};

/// Kinds kustomize never renames: their names are fixed by what they define.
fn keeps_name(id: &ResId) -> bool {
    id.kind == "CustomResourceDefinition"
        || id.kind == "Namespace"
        || (id.group == "apiregistration.k8s.io" && id.kind == "APIService")
}

/// Adds `prefix` and `suffix` to the name of every object that can be renamed.
pub(crate) fn apply(items: &mut [Item], prefix: &str, suffix: &str) {
    for item in items {
        if keeps_name(&item.id()) {
            continue;
        }
        visit(
            &mut item.object,
            &["metadata", "name"],
            false,
            &mut |name| {
                if let Value::String(name) = name {
                    *name = format!("{prefix}{name}{suffix}");
                }
            },
        );
    }
}

const CORE: &str = "";
const APPS: &str = "apps";
const RBAC: &str = "rbac.authorization.k8s.io";

/// Where the pod spec sits in each workload kind.
const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Name fields inside a pod spec, with the kind they name.
const POD_SPEC_NAMES: &[(&str, &str, &str)] = &[
    (CORE, "ConfigMap", "volumes/configMap/name"),
    (
        CORE,
        "ConfigMap",
        "volumes/projected/sources/configMap/name",
    ),
    (
        CORE,
        "ConfigMap",
        "containers/env/valueFrom/configMapKeyRef/name",
    ),
    (
        CORE,
        "ConfigMap",
        "initContainers/env/valueFrom/configMapKeyRef/name",
    ),
    (CORE, "ConfigMap", "containers/envFrom/configMapRef/name"),
    (
        CORE,
        "ConfigMap",
        "initContainers/envFrom/configMapRef/name",
    ),
    (CORE, "Secret", "volumes/secret/secretName"),
    (CORE, "Secret", "volumes/projected/sources/secret/name"),
    (CORE, "Secret", "containers/env/valueFrom/secretKeyRef/name"),
    (
        CORE,
        "Secret",
        "initContainers/env/valueFrom/secretKeyRef/name",
    ),
    (CORE, "Secret", "containers/envFrom/secretRef/name"),
    (CORE, "Secret", "initContainers/envFrom/secretRef/name"),
    (CORE, "Secret", "imagePullSecrets/name"),
    (CORE, "ServiceAccount", "serviceAccountName"),
    (
        CORE,
        "PersistentVolumeClaim",
        "volumes/persistentVolumeClaim/claimName",
    ),
    ("scheduling.k8s.io", "PriorityClass", "priorityClassName"),
];

/// Name fields outside pod specs: (referrer kind, path, referenced group, kind).
const OTHER_NAMES: &[(&str, &str, &str, &str)] = &[
    ("StatefulSet", "spec/serviceName", CORE, "Service"),
    (
        "Ingress",
        "spec/rules/http/paths/backend/service/name",
        CORE,
        "Service",
    ),
    (
        "Ingress",
        "spec/defaultBackend/service/name",
        CORE,
        "Service",
    ),
    ("Ingress", "spec/tls/secretName", CORE, "Secret"),
    ("ServiceAccount", "imagePullSecrets/name", CORE, "Secret"),
];

/// (group, kind) pairs an object reference may point to.
type GroupKinds = &'static [(&'static str, &'static str)];

/// Reference mappings: (referrer kind, path, candidate kinds, the mapping
/// carries its own namespace).
const MAPPINGS: &[(&str, &str, GroupKinds, bool)] = &[
    (
        "RoleBinding",
        "roleRef",
        &[(RBAC, "Role"), (RBAC, "ClusterRole")],
        false,
    ),
    (
        "ClusterRoleBinding",
        "roleRef",
        &[(RBAC, "ClusterRole")],
        false,
    ),
    ("RoleBinding", "subjects", &[(CORE, "ServiceAccount")], true),
    (
        "ClusterRoleBinding",
        "subjects",
        &[(CORE, "ServiceAccount")],
        true,
    ),
    (
        "HorizontalPodAutoscaler",
        "spec/scaleTargetRef",
        &[
            (APPS, "Deployment"),
            (APPS, "StatefulSet"),
            (APPS, "ReplicaSet"),
            (CORE, "ReplicationController"),
        ],
        false,
    ),
    (
        "ValidatingWebhookConfiguration",
        "webhooks/clientConfig/service",
        &[(CORE, "Service")],
        true,
    ),
    (
        "MutatingWebhookConfiguration",
        "webhooks/clientConfig/service",
        &[(CORE, "Service")],
        true,
    ),
    ("APIService", "spec/service", &[(CORE, "Service")], true),
];

/// An object's identity before and after this kustomization's namespace,
/// prefix and suffix.
struct Moved {
    before: ResId,
    after: ResId,
}

/// Rewrites references to objects whose name or namespace changed, given
/// each item's identity `before` the change (like kustomize's name reference
/// transformer, for the fields listed in the crate documentation).
pub(crate) fn update_references(items: &mut [Item], before: &[ResId]) {
    let moved: Vec<Moved> = before
        .iter()
        .zip(items.iter())
        .map(|(before, item)| Moved {
            before: before.clone(),
            after: item.id(),
        })
        .filter(|m| m.before != m.after)
        .collect();
    if moved.is_empty() {
        return;
    }
    for item in items {
        let referrer = item.id();
        let namespace = referrer.effective_namespace().to_string();
        let object = &mut item.object;
        for (_, prefix) in POD_SPECS.iter().filter(|(k, _)| *k == referrer.kind) {
            for (group, kind, field) in POD_SPEC_NAMES {
                let path = format!("{prefix}/{field}");
                update_names(object, &path, &moved, &[(group, kind)], &namespace);
            }
        }
        for (_, path, group, kind) in OTHER_NAMES.iter().filter(|r| r.0 == referrer.kind) {
            update_names(object, path, &moved, &[(group, kind)], &namespace);
        }
        for (_, path, kinds, explicit) in MAPPINGS.iter().filter(|r| r.0 == referrer.kind) {
            let segments: Vec<&str> = path.split('/').collect();
            visit(object, &segments, false, &mut |value| {
                update_mapping(value, &moved, kinds, *explicit, &namespace);
            });
        }
    }
}

fn update_names(
    object: &mut Value,
    path: &str,
    moved: &[Moved],
    kinds: &[(&str, &str)],
    namespace: &str,
) {
    let segments: Vec<&str> = path.split('/').collect();
    visit(object, &segments, false, &mut |value| {
        if let Some(name) = value.as_str() {
            if let Some(to) = find(moved, kinds, name, Scope::SameAs(namespace)) {
                *value = Value::String(to.name.clone());
            }
        }
    });
}

/// A `{kind?, name, namespace?}` reference such as `roleRef` or a subject.
fn update_mapping(
    value: &mut Value,
    moved: &[Moved],
    kinds: &[(&str, &str)],
    explicit: bool,
    namespace: &str,
) {
    let map = match value {
        Value::Object(map) => map,
        // A list of references, such as `subjects`.
        Value::Array(list) => {
            for element in list {
                update_mapping(element, moved, kinds, explicit, namespace);
            }
            return;
        }
        _ => return,
    };
    let Some(name) = map.get("name").and_then(Value::as_str) else {
        return;
    };
    let kinds: Vec<(&str, &str)> = match map.get("kind").and_then(Value::as_str) {
        Some(kind) => kinds.iter().copied().filter(|(_, k)| *k == kind).collect(),
        None => kinds.to_vec(),
    };
    let scope = if explicit {
        Scope::Explicit(map.get("namespace").and_then(Value::as_str).unwrap_or(""))
    } else {
        Scope::SameAs(namespace)
    };
    let Some(to) = find(moved, &kinds, name, scope) else {
        return;
    };
    let to = to.clone();
    map.insert("name".into(), Value::String(to.name));
    if explicit && !to.namespace.is_empty() {
        map.insert("namespace".into(), Value::String(to.namespace));
    }
}

enum Scope<'a> {
    /// The reference names its namespace (subjects, service references).
    Explicit(&'a str),
    /// The referenced object lives in the referrer's namespace.
    SameAs(&'a str),
}

/// The new identity of the one object the reference meant, if it moved.
fn find<'a>(
    moved: &'a [Moved],
    kinds: &[(&str, &str)],
    name: &str,
    scope: Scope<'_>,
) -> Option<&'a ResId> {
    let mut found: Option<&ResId> = None;
    for m in moved {
        let b = &m.before;
        if b.name != name || !kinds.contains(&(b.group.as_str(), b.kind.as_str())) {
            continue;
        }
        let in_scope = is_cluster_scoped(&b.group, &b.kind)
            || match scope {
                Scope::Explicit(ns) => {
                    b.effective_namespace() == if ns.is_empty() { "default" } else { ns }
                }
                Scope::SameAs(ns) => m.after.effective_namespace() == ns,
            };
        if !in_scope {
            continue;
        }
        if found.is_some_and(|f| f != &m.after) {
            // Ambiguous: leave the reference as written.
            return None;
        }
        found = Some(&m.after);
    }
    found
}
