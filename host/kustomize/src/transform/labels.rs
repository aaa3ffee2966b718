//! `commonLabels`, `labels` and `commonAnnotations`.
//!
//! The field lists mirror kustomize's built-in configuration
//! (`api/internal/konfig/builtinpluginconsts`: `commonlabels.go`,
//! `metadatalabels.go`, `volumeclaimmetadatalabels.go`,
//! `commonannotations.go`), so selectors keep matching the pods they select.

use super::fieldspec::{any, group_kind, kind, FieldSpec};
use crate::kustomization::{Label, StringMap};
use crate::object::Item;

/// Object labels plus pod (and job) template labels: kustomize's
/// `metadataLabelsFieldSpecs`, also its `templateLabels`.
const METADATA_LABELS: &[FieldSpec] = &[
    any("metadata/labels", true),
    group_kind(
        "",
        "ReplicationController",
        "spec/template/metadata/labels",
        true,
    ),
    kind("Deployment", "spec/template/metadata/labels", true),
    kind("ReplicaSet", "spec/template/metadata/labels", true),
    kind("DaemonSet", "spec/template/metadata/labels", true),
    group_kind("apps", "StatefulSet", "spec/template/metadata/labels", true),
    group_kind("batch", "Job", "spec/template/metadata/labels", true),
    group_kind("batch", "CronJob", "spec/jobTemplate/metadata/labels", true),
    group_kind(
        "batch",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ),
];

const VOLUME_CLAIM_TEMPLATE_LABELS: &[FieldSpec] = &[group_kind(
    "apps",
    "StatefulSet",
    "spec/volumeClaimTemplates/metadata/labels",
    true,
)];

/// Selectors that must keep matching the labels above (`commonLabels` only).
const SELECTOR_LABELS: &[FieldSpec] = &[
    group_kind("", "Service", "spec/selector", true),
    group_kind("", "ReplicationController", "spec/selector", true),
    kind("Deployment", "spec/selector/matchLabels", true),
    group_kind("apps", "Deployment", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    group_kind("apps", "Deployment", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    group_kind("apps", "Deployment", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    group_kind("apps", "Deployment", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    group_kind("apps", "Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    kind("ReplicaSet", "spec/selector/matchLabels", true),
    kind("DaemonSet", "spec/selector/matchLabels", true),
    group_kind("apps", "StatefulSet", "spec/selector/matchLabels", true),
    group_kind("apps", "StatefulSet", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    group_kind("apps", "StatefulSet", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    group_kind("apps", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    group_kind("apps", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    group_kind("apps", "StatefulSet", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    group_kind("batch", "Job", "spec/selector/matchLabels", false),
    group_kind("batch", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    group_kind("policy", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    group_kind("networking.k8s.io", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    group_kind("networking.k8s.io", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
    group_kind("networking.k8s.io", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
];

const ANNOTATIONS: &[FieldSpec] = &[
    any("metadata/annotations", true),
    group_kind(
        "",
        "ReplicationController",
        "spec/template/metadata/annotations",
        true,
    ),
    kind("Deployment", "spec/template/metadata/annotations", true),
    kind("ReplicaSet", "spec/template/metadata/annotations", true),
    kind("DaemonSet", "spec/template/metadata/annotations", true),
    kind("StatefulSet", "spec/template/metadata/annotations", true),
    group_kind("batch", "Job", "spec/template/metadata/annotations", true),
    group_kind(
        "batch",
        "CronJob",
        "spec/jobTemplate/metadata/annotations",
        true,
    ),
    group_kind(
        "batch",
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/annotations",
        true,
    ),
];

/// Applies one `labels` entry: metadata only, plus templates and volume
/// claim templates when asked, or everything `commonLabels` touches with
/// `includeSelectors`.
pub(crate) fn apply_label(items: &mut [Item], label: &Label) {
    let mut specs: Vec<FieldSpec> = vec![any("metadata/labels", true)];
    if label.include_selectors {
        specs = common_label_specs();
    } else {
        if label.include_templates {
            specs.extend_from_slice(METADATA_LABELS);
        }
        if label.include_volume_claim_templates {
            specs.extend_from_slice(VOLUME_CLAIM_TEMPLATE_LABELS);
        }
    }
    apply(items, &specs, &label.pairs);
}

/// Applies `commonLabels` to objects, templates and selectors.
pub(crate) fn apply_common_labels(items: &mut [Item], labels: &StringMap) {
    apply(items, &common_label_specs(), labels);
}

/// Applies `commonAnnotations` to objects and templates.
pub(crate) fn apply_annotations(items: &mut [Item], annotations: &StringMap) {
    apply(items, ANNOTATIONS, annotations);
}

fn common_label_specs() -> Vec<FieldSpec> {
    [
        SELECTOR_LABELS,
        METADATA_LABELS,
        VOLUME_CLAIM_TEMPLATE_LABELS,
    ]
    .concat()
}

fn apply(items: &mut [Item], specs: &[FieldSpec], pairs: &StringMap) {
    if pairs.0.is_empty() {
        return;
    }
    for item in items {
        for spec in specs {
            spec.apply(&mut item.object, &mut |value| {
                super::fieldspec::set_pairs(value, &pairs.0)
            });
        }
    }
}
