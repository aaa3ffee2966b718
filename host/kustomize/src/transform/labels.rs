//! `commonLabels`, `labels` and `commonAnnotations`: kustomize's label and
//! annotation transformers, writing where the configuration's field specs
//! say and nowhere else.

use super::config::{conflict, merge_specs, TransformerConfig};
use super::fieldspec::{set_pairs, Create, FieldSpec};
use crate::kustomization::{Label, StringMap};
use crate::object::Item;

/// Applies one `labels` entry: its own `fields` plus the configuration's
/// `labels` specs, then everything `commonLabels` touches with
/// `includeSelectors`, or else the `templateLabels` specs with
/// `includeTemplates` and `metadata/labels`. A conflict between the
/// entry's fields and those specs is the error returned.
pub(crate) fn apply_label(
    items: &mut [Item],
    label: &Label,
    config: &TransformerConfig,
) -> Result<(), String> {
    let mut specs = label.fields.clone();
    let merge = |specs: &mut Vec<FieldSpec>, section: &str, incoming: &[FieldSpec]| {
        merge_specs(specs, incoming).map_err(|path| conflict(section, &path))
    };
    merge(&mut specs, "labels", &config.labels)?;
    if label.include_selectors {
        merge(&mut specs, "commonLabels", &config.common_labels)?;
    } else {
        if label.include_templates {
            merge(&mut specs, "templateLabels", &config.template_labels)?;
        }
        let metadata = FieldSpec {
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            path: "metadata/labels".into(),
            create: true,
        };
        merge(&mut specs, "labels", &[metadata])?;
    }
    apply(items, &specs, &label.pairs);
    Ok(())
}

/// Sets `pairs` at the mapping fields `specs` name (labels or annotations).
pub(crate) fn apply(items: &mut [Item], specs: &[FieldSpec], pairs: &StringMap) {
    if pairs.0.is_empty() {
        return;
    }
    for item in items {
        for spec in specs {
            spec.apply(&mut item.object, Create::Map, &mut |value| {
                set_pairs(value, &pairs.0)
            });
        }
    }
}
