//! The transformer configuration: which fields each built-in transformer
//! touches, as data (kustomize's `TransformerConfig`).
//!
//! The defaults are `default_config.yaml`, in the format of the files a
//! kustomization lists under `configurations`. A kustomization's
//! configuration is the defaults merged with its `configurations` files and
//! with the configurations of everything it includes (kustomize merges a
//! sub-kustomization's configuration into its parent's), and the
//! configuration of the whole build drives the final name-reference pass.

use std::path::Path;
use std::sync::LazyLock;

use cap_std::fs::Dir;
use serde::{Deserialize, Deserializer};

use super::fieldspec::FieldSpec;
use crate::Error;

/// Where a referral kind is named (kustomize's `NameBackReferences`): the
/// group, version and kind of the referred objects, and the fields of other
/// objects that hold their names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NameBackReference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub field_specs: Vec<FieldSpec>,
}

/// A transformer configuration, as in a `configurations` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TransformerConfig {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name_prefix: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name_suffix: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub namespace: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub common_labels: Vec<FieldSpec>,
    /// Added to every `labels` entry's fields.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: Vec<FieldSpec>,
    /// Where `labels` entries with `includeTemplates` go.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub template_labels: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub common_annotations: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name_reference: Vec<NameBackReference>,
    /// Accepted and merged like the others; it has no effect because `vars`
    /// are refused.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub var_reference: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub images: Vec<FieldSpec>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub replicas: Vec<FieldSpec>,
}

/// A YAML `null` (`commonLabels:` with nothing after it) is an empty list,
/// as for Go's decoder.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

static DEFAULT: LazyLock<TransformerConfig> = LazyLock::new(|| {
    serde_yaml_ng::from_str(include_str!("default_config.yaml"))
        .expect("the embedded default configuration is valid")
});

impl TransformerConfig {
    /// kustomize's built-in configuration.
    pub fn builtin() -> TransformerConfig {
        DEFAULT.clone()
    }

    /// Merges `other` into `self` as kustomize does: a field spec equal to
    /// one already there (same path, and the existing spec selected by the
    /// new one's group, version and kind) is dropped, unless their `create`
    /// differ, which is an error naming the section and the path; name
    /// references to the same group, version and kind join their fields.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<(), String> {
        let sections: [(&str, &mut Vec<FieldSpec>, &Vec<FieldSpec>); 10] = [
            ("namePrefix", &mut self.name_prefix, &other.name_prefix),
            ("nameSuffix", &mut self.name_suffix, &other.name_suffix),
            ("namespace", &mut self.namespace, &other.namespace),
            (
                "commonLabels",
                &mut self.common_labels,
                &other.common_labels,
            ),
            ("labels", &mut self.labels, &other.labels),
            (
                "templateLabels",
                &mut self.template_labels,
                &other.template_labels,
            ),
            (
                "commonAnnotations",
                &mut self.common_annotations,
                &other.common_annotations,
            ),
            (
                "varReference",
                &mut self.var_reference,
                &other.var_reference,
            ),
            ("images", &mut self.images, &other.images),
            ("replicas", &mut self.replicas, &other.replicas),
        ];
        for (section, specs, incoming) in sections {
            merge_specs(specs, incoming).map_err(|path| conflict(section, &path))?;
        }
        for reference in &other.name_reference {
            match self.name_reference.iter_mut().find(|r| {
                r.group == reference.group
                    && r.version == reference.version
                    && r.kind == reference.kind
            }) {
                Some(existing) => merge_specs(&mut existing.field_specs, &reference.field_specs)
                    .map_err(|path| {
                        conflict(&format!("nameReference of {}", reference.kind), &path)
                    })?,
                None => self.name_reference.push(reference.clone()),
            }
        }
        Ok(())
    }

    /// The built-in configuration merged with the `configurations` files
    /// `entries` of the kustomization `file` in `dir` (read inside the root).
    pub fn load(root: &Dir, dir: &Path, file: &Path, entries: &[String]) -> Result<Self, Error> {
        let mut config = TransformerConfig::builtin();
        for entry in entries {
            let resolved = crate::fs::resolve(root, dir, file, "configuration", entry)?;
            let invalid = |line: Option<usize>, message: String| Error::InvalidConfiguration {
                file: resolved.path.clone(),
                line,
                message,
            };
            if resolved.is_dir {
                return Err(invalid(
                    None,
                    "a directory, not a configuration file".into(),
                ));
            }
            let text = crate::fs::read(root, &resolved.path)?;
            let parsed: Option<TransformerConfig> =
                serde_yaml_ng::from_str(&text).map_err(|err| {
                    let line = err.location().map(|l| l.line());
                    let message = err.to_string();
                    let message = message
                        .rsplit_once(" at line ")
                        .map_or(message.as_str(), |(m, _)| m)
                        .to_string();
                    invalid(line, message)
                })?;
            if let Some(parsed) = parsed {
                config
                    .merge(&parsed)
                    .map_err(|message| invalid(None, message))?;
            }
        }
        Ok(config)
    }
}

pub(crate) fn conflict(section: &str, path: &str) -> String {
    format!("conflicting field specs in {section}: path '{path}' is given both with and without 'create'")
}

/// kustomize's `FsSlice.MergeAll`; the error is the conflicting path.
pub(crate) fn merge_specs(
    specs: &mut Vec<FieldSpec>,
    incoming: &[FieldSpec],
) -> Result<(), String> {
    for spec in incoming {
        match specs
            .iter()
            .find(|s| s.path == spec.path && spec.selects(&s.group, &s.version, &s.kind))
        {
            Some(existing) if existing.create != spec.create => return Err(spec.path.clone()),
            Some(_) => {}
            None => specs.push(spec.clone()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_configuration_has_kustomizes_tables() {
        let config = TransformerConfig::builtin();
        assert_eq!(config.common_labels.len(), 32);
        assert_eq!(config.template_labels.len(), 10);
        assert_eq!(config.common_annotations.len(), 9);
        assert_eq!(config.name_reference.len(), 16);
        let secret = config
            .name_reference
            .iter()
            .find(|r| r.kind == "Secret")
            .unwrap();
        assert!(secret.field_specs.iter().any(|s| s.segments()
            == [
                "metadata",
                "annotations",
                "nginx.ingress.kubernetes.io/auth-secret"
            ]));
    }

    #[test]
    fn merging_dedupes_and_refuses_conflicting_create() {
        let mut config = TransformerConfig::builtin();
        let extra: TransformerConfig = serde_yaml_ng::from_str(
            "commonLabels:\n- {path: metadata/labels, create: true}\n- {kind: Widget, path: spec/selector, create: true}\nnameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - {kind: Widget, path: spec/config}\n",
        )
        .unwrap();
        config.merge(&extra).unwrap();
        assert_eq!(config.common_labels.len(), 33);
        let config_map = config
            .name_reference
            .iter()
            .find(|r| r.kind == "ConfigMap")
            .unwrap();
        assert_eq!(config_map.field_specs.last().unwrap().path, "spec/config");
        let conflicting: TransformerConfig =
            serde_yaml_ng::from_str("commonLabels:\n- {path: metadata/labels}\n").unwrap();
        assert_eq!(
            config.merge(&conflicting).unwrap_err(),
            "conflicting field specs in commonLabels: path 'metadata/labels' is given both with and without 'create'"
        );
    }
}
