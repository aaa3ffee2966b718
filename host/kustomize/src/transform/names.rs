//! `namePrefix` / `nameSuffix`: kustomize's prefix and suffix transformers.

use serde_json::Value;

use super::fieldspec::{Create, FieldSpec};
use crate::object::{Item, ResId};

/// Kinds kustomize never renames: their names are fixed by what they define.
fn keeps_name(id: &ResId) -> bool {
    id.kind == "CustomResourceDefinition"
        || id.kind == "Namespace"
        || (id.group == "apiregistration.k8s.io" && id.kind == "APIService")
}

/// Which end of the name an affix goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Prefix,
    Suffix,
}

/// Adds `affix` at the configured field specs (by default `metadata.name`)
/// of every object that can be renamed, as kustomize does: the object's
/// original kind and group choose the specs, and for the `metadata/name`
/// spec its identity is remembered and the affix recorded (for the
/// prefix/suffix sieve of name references). Nothing happens for an empty
/// affix.
pub(crate) fn apply(items: &mut [Item], affix: &str, end: End, specs: &[FieldSpec]) {
    if affix.is_empty() {
        return;
    }
    for item in items {
        let original = item.ids().remove(0);
        if keeps_name(&original) {
            continue;
        }
        for spec in specs {
            if !spec.selects(&original.group, &original.version, &original.kind) {
                continue;
            }
            if spec.path == "metadata/name" {
                match end {
                    End::Prefix => item.prefixes.push(affix.to_string()),
                    End::Suffix => item.suffixes.push(affix.to_string()),
                }
                item.remember_id();
            }
            spec.apply(&mut item.object, Create::Scalar, &mut |value| {
                if let Value::String(name) = value {
                    *name = match end {
                        End::Prefix => format!("{affix}{name}"),
                        End::Suffix => format!("{name}{affix}"),
                    };
                }
            });
        }
    }
}
