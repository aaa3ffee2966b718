//! The `kustomization.yaml` schema rekon implements.
//!
//! Parsing is two passes over a small file: the first checks top-level keys
//! against [`SUPPORTED_FIELDS`] so an unimplemented field (a generator, helm,
//! components...) is an error naming it and its line, never silently
//! ignored; the second deserializes with `deny_unknown_fields` everywhere so
//! typos inside entries are caught too. The second pass reads the text
//! directly (not the first pass's values) so `newTag: 1.10` stays `"1.10"`, as
//! with kustomize's Go YAML decoder.

use std::fmt;
use std::path::Path;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::Error;

/// The top-level fields rekon understands, in the order it documents them.
pub(crate) const SUPPORTED_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
];

const API_VERSION: &str = "kustomize.config.k8s.io/v1beta1";

/// A parsed kustomization file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Kustomization {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// Accepted because kustomize accepts it; it has no effect on a build.
    #[serde(default, rename = "metadata")]
    _metadata: Option<IgnoredAny>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// Deprecated alias of `resources`, still common in older trees.
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name_prefix: Option<String>,
    #[serde(default)]
    pub name_suffix: Option<String>,
    #[serde(default)]
    pub common_labels: StringMap,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub common_annotations: StringMap,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default)]
    pub patches_json6902: Vec<Json6902Patch>,
    #[serde(default)]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub generator_options: Option<GeneratorOptions>,
}

/// A `configMapGenerator` or `secretGenerator` entry (kustomize's
/// `ConfigMapArgs`/`SecretArgs`; `type` is for Secrets only, checked by
/// [`Kustomization::parse`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeneratorArgs {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub behavior: Option<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    /// The older, single form of `envs`; kustomize reads it after `envs`.
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub options: Option<GeneratorOptions>,
    #[serde(default, rename = "type")]
    pub secret_type: Option<String>,
}

/// `generatorOptions`, or a generator's own `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GeneratorOptions {
    #[serde(default)]
    pub labels: StringMap,
    #[serde(default)]
    pub annotations: StringMap,
    #[serde(default)]
    pub disable_name_suffix_hash: bool,
    #[serde(default)]
    pub immutable: bool,
}

/// A `labels` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Label {
    #[serde(default)]
    pub pairs: StringMap,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub include_volume_claim_templates: bool,
}

/// An `images` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Image {
    pub name: String,
    #[serde(default)]
    pub new_name: Option<String>,
    #[serde(default)]
    pub new_tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// A `replicas` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replica {
    pub name: String,
    pub count: i64,
}

/// A `patches` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Patch {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default)]
    pub target: Option<Target>,
}

/// A `patchesJson6902` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Json6902Patch {
    pub target: Target,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub patch: Option<String>,
}

/// A patch `target` (kustomize's `Selector`); group, version, kind, name and
/// namespace are anchored regular expressions.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Target {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub label_selector: String,
    #[serde(default)]
    pub annotation_selector: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (key, value) in [
            ("group", &self.group),
            ("version", &self.version),
            ("kind", &self.kind),
            ("name", &self.name),
            ("namespace", &self.namespace),
            ("labelSelector", &self.label_selector),
            ("annotationSelector", &self.annotation_selector),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key}={value}"));
            }
        }
        write!(f, "target {{{}}}", parts.join(", "))
    }
}

/// A string-to-string map in file order. Scalars are taken as written
/// (`version: 1.10` is `"1.10"`), as Go's `map[string]string` decoding does.
#[derive(Debug, Default)]
pub(crate) struct StringMap(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings to strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut pairs = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    pairs.push((key, value));
                }
                Ok(StringMap(pairs))
            }
        }
        deserializer.deserialize_any(MapVisitor)
    }
}

impl Kustomization {
    /// Parses the kustomization `file` (relative to the root) from `text`.
    pub fn parse(text: &str, file: &Path) -> Result<Kustomization, Error> {
        let invalid = |line: Option<usize>, message: String| Error::InvalidKustomization {
            file: file.to_path_buf(),
            line,
            message,
        };
        let documents = crate::yaml::parse_yaml_documents(text, file)?;
        let top = match documents.as_slice() {
            [] => return Err(invalid(None, "the file is empty".into())),
            [(top, _)] => top,
            [_, (_, line), ..] => {
                return Err(invalid(
                    Some(*line),
                    "a kustomization file holds a single YAML document".into(),
                ))
            }
        };
        let Some(map) = top.as_object() else {
            return Err(invalid(None, "expected a mapping of fields".into()));
        };
        if let Some(field) = map.keys().find(|k| !SUPPORTED_FIELDS.contains(&k.as_str())) {
            return Err(Error::UnsupportedField {
                file: file.to_path_buf(),
                line: key_line(text, field),
                field: field.clone(),
            });
        }
        let kustomization: Kustomization = serde_yaml_ng::from_str(text).map_err(|err| {
            let line = err.location().map(|l| l.line());
            let message = err.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_string();
            invalid(line, message)
        })?;
        if let Some(index) = kustomization
            .config_map_generator
            .iter()
            .position(|args| args.secret_type.is_some())
        {
            return Err(invalid(
                key_line(text, "configMapGenerator"),
                format!("configMapGenerator[{index}]: unknown field `type`, only secretGenerator entries have a type"),
            ));
        }
        if let Some(api_version) = &kustomization.api_version {
            if api_version != API_VERSION {
                return Err(invalid(
                    key_line(text, "apiVersion"),
                    format!("apiVersion '{api_version}' is not {API_VERSION}"),
                ));
            }
        }
        match kustomization.kind.as_deref() {
            None | Some("Kustomization") => {}
            Some("Component") => {
                return Err(invalid(
                    key_line(text, "kind"),
                    "kind 'Component': components are not supported".into(),
                ))
            }
            Some(other) => {
                return Err(invalid(
                    key_line(text, "kind"),
                    format!("kind '{other}' is not Kustomization"),
                ))
            }
        }
        Ok(kustomization)
    }
}

/// The line of a top-level key, found by scanning (the parsed value has no
/// positions).
pub(crate) fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let unquoted = line
                .strip_prefix(['"', '\''])
                .and_then(|rest| rest.strip_prefix(key))
                .and_then(|rest| rest.strip_prefix(['"', '\'']));
            unquoted
                .or_else(|| line.strip_prefix(key))
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Kustomization, Error> {
        Kustomization::parse(text, Path::new("k/kustomization.yaml"))
    }

    #[test]
    fn scalars_in_string_fields_keep_their_text() {
        let k =
            parse("images:\n- name: app\n  newTag: 1.10\ncommonLabels:\n  v: 2.0\n  on: true\n")
                .unwrap();
        assert_eq!(k.images[0].new_tag.as_deref(), Some("1.10"));
        assert_eq!(
            k.common_labels.0,
            vec![("v".into(), "2.0".into()), ("on".into(), "true".into())]
        );
    }

    #[test]
    fn unsupported_field_names_file_line_and_field() {
        let err = parse("resources:\n- a.yaml\nhelmCharts:\n- name: x\n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "k/kustomization.yaml:3: unsupported field 'helmCharts' \
                 (rekon supports: apiVersion, kind, metadata, resources,"
            ),
            "{msg}"
        );
    }

    #[test]
    fn unknown_nested_field_is_refused() {
        let err =
            parse("patches:\n- path: p.yaml\n  options:\n    allowNameChange: true\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("k/kustomization.yaml:3: invalid kustomization: patches[0]: unknown field `options`"), "{msg}");
    }

    #[test]
    fn components_and_foreign_kinds_are_refused() {
        let err =
            parse("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n").unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
        let err = parse("kind: Component\n").unwrap_err();
        assert!(
            err.to_string().contains("components are not supported"),
            "{err}"
        );
    }

    #[test]
    fn empty_file_is_refused() {
        let err = parse("# nothing\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "k/kustomization.yaml: invalid kustomization: the file is empty"
        );
    }
}
