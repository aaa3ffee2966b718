//! `replicas`: kustomize's replica count transformer.

use serde_json::Value;

use super::fieldspec::{split_path, visit, Create, FieldSpec};
use crate::kustomization::Replica;
use crate::object::Item;

/// Sets the count at the configured `replicas` field specs (by default
/// `spec.replicas` of Deployments, ReplicationControllers, ReplicaSets and
/// StatefulSets) of the objects named by each entry, by their current or
/// any earlier name. Returns the name of an entry that matches nothing,
/// which kustomize treats as an error.
pub(crate) fn apply(
    items: &mut [Item],
    replicas: &[Replica],
    specs: &[FieldSpec],
) -> Result<(), String> {
    for replica in replicas {
        let mut found = false;
        for spec in specs {
            for item in items.iter_mut() {
                let matches = item.ids().iter().any(|id| {
                    id.name == replica.name && spec.selects(&id.group, &id.version, &id.kind)
                });
                if matches {
                    found = true;
                    let create = if spec.create {
                        Create::Scalar
                    } else {
                        Create::Never
                    };
                    visit(
                        &mut item.object,
                        &split_path(&spec.path),
                        create,
                        &mut |value| {
                            *value = Value::from(replica.count);
                        },
                    );
                }
            }
        }
        if !found {
            return Err(replica.name.clone());
        }
    }
    Ok(())
}
