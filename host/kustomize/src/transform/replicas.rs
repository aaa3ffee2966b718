//! `replicas`: kustomize's replica count transformer.

use serde_json::Value;

use super::fieldspec::visit;
use crate::kustomization::Replica;
use crate::object::Item;

/// The kinds whose `spec.replicas` kustomize sets.
const KINDS: &[&str] = &[
    "Deployment",
    "ReplicationController",
    "ReplicaSet",
    "StatefulSet",
];

/// Sets `spec.replicas` of the objects named by each entry (by their current
/// or any earlier name). Returns the name of an entry that matches nothing,
/// which kustomize treats as an error.
pub(crate) fn apply(items: &mut [Item], replicas: &[Replica]) -> Result<(), String> {
    for replica in replicas {
        let mut found = false;
        for item in items.iter_mut() {
            let matches = item
                .ids()
                .iter()
                .any(|id| id.name == replica.name && KINDS.contains(&id.kind.as_str()));
            if matches {
                found = true;
                visit(
                    &mut item.object,
                    &["spec", "replicas"],
                    true,
                    &mut |value| {
                        *value = Value::from(replica.count);
                    },
                );
            }
        }
        if !found {
            return Err(replica.name.clone());
        }
    }
    Ok(())
}
