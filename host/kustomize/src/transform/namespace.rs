//! `namespace`: kustomize's namespace transformer.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::fieldspec::{visit, Create, FieldSpec};
use crate::object::{Item, ResId};
use crate::Error;

/// Sets `namespace` as kustomize does: `metadata.namespace` of every
/// namespaced object (created when absent), the configured `namespace`
/// field specs (by default: the name of a `v1` Namespace, an APIService's
/// `spec.service.namespace`, created, and a CRD conversion webhook's service
/// namespace, when present) and the namespace of (Cluster)RoleBinding
/// subjects named `default`. Every object's identity is remembered first.
/// Two objects ending with one identity is an error naming `file`.
pub(crate) fn apply(
    items: &mut [Item],
    namespace: &str,
    specs: &[FieldSpec],
    file: &Path,
) -> Result<(), Error> {
    let set = &mut |value: &mut Value| *value = Value::String(namespace.to_string());
    // How many objects hold each identity now, kept up to date as objects
    // move, so each move is checked against all the others in constant time.
    let mut held: HashMap<Key, usize> = HashMap::new();
    for item in items.iter() {
        *held.entry(key(&item.id())).or_default() += 1;
    }
    for index in 0..items.len() {
        let item = &mut items[index];
        item.remember_id();
        let id = item.id();
        if let Some(count) = held.get_mut(&key(&id)) {
            *count -= 1;
        }
        let api_version = item.object["apiVersion"].as_str().unwrap_or("").to_string();
        if !id.is_cluster_scoped() {
            let path = ["metadata".to_string(), "namespace".to_string()];
            visit(&mut item.object, &path, Create::Scalar, set);
        }
        let binding = id.kind == "RoleBinding" || id.kind == "ClusterRoleBinding";
        if binding {
            if let Some(Value::Array(subjects)) = item.object.get_mut("subjects") {
                for subject in subjects.iter_mut().filter(|s| s["name"] == "default") {
                    if let Value::Object(subject) = subject {
                        subject.insert("namespace".into(), Value::String(namespace.into()));
                    }
                }
            }
        }
        for spec in specs {
            // metadata.namespace is handled above; metadata.name only for a
            // v1 object; RoleBinding subjects only by name (as kustomize).
            if spec.path == "metadata/namespace"
                || (spec.path == "metadata/name" && api_version != "v1")
                || (binding
                    && spec.path == "subjects/namespace"
                    && (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding"))
            {
                continue;
            }
            spec.apply(&mut item.object, Create::Scalar, set);
        }
        let id = items[index].id();
        let moved = key(&id);
        if held.get(&moved).is_some_and(|&count| count > 0) {
            let other = (0..items.len())
                .find(|&i| i != index && same_id(&items[i].id(), &id))
                .expect("another object holds the identity");
            let place =
                |item: &Item| format!("{}:{}", item.origin.file.display(), item.origin.line);
            return Err(Error::NamespaceConflict {
                file: file.to_path_buf(),
                id: id.to_string(),
                objects: vec![place(&items[other]), place(&items[index])],
            });
        }
        *held.entry(moved).or_default() += 1;
    }
    Ok(())
}

/// What [`same_id`] compares.
type Key = (String, String, String, String, String);

fn key(id: &ResId) -> Key {
    (
        id.group.clone(),
        id.version.clone(),
        id.kind.clone(),
        id.name.clone(),
        id.effective_namespace().to_string(),
    )
}

/// kustomize's `ResId.Equals`: group, version, kind, name and effective
/// namespace.
fn same_id(a: &ResId, b: &ResId) -> bool {
    a.group == b.group
        && a.version == b.version
        && a.kind == b.kind
        && a.name == b.name
        && a.effective_namespace() == b.effective_namespace()
}
