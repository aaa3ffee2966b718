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

use crate::transform::fieldspec::FieldSpec;
use crate::Error;

/// The top-level fields rekon understands, in the order it documents them.
pub(crate) const SUPPORTED_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
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
    "configurations",
    "replacements",
    "sortOptions",
    "buildMetadata",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
];

const API_VERSION: &str = "kustomize.config.k8s.io/v1beta1";
/// Components have their own (still alpha) API version in kustomize v5.
const COMPONENT_API_VERSION: &str = "kustomize.config.k8s.io/v1alpha1";

/// What a kustomization file declares itself to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `kind: Kustomization` (the default): built on its own.
    Kustomization,
    /// `kind: Component`: applied to a parent's accumulated objects.
    Component,
}

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
    /// Kustomizations of kind `Component` applied to what this one has
    /// accumulated (after its resources and generators, before its
    /// transformers), as kustomize v5 does.
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default, deserialize_with = "strict_option")]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "strict_option")]
    pub name_prefix: Option<String>,
    #[serde(default, deserialize_with = "strict_option")]
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
    /// Transformer configuration files (field specs), merged with the
    /// built-in configuration.
    #[serde(default)]
    pub configurations: Vec<String>,
    #[serde(default)]
    pub replacements: Vec<ReplacementField>,
    #[serde(default)]
    pub sort_options: Option<SortOptions>,
    #[serde(default)]
    pub build_metadata: Vec<BuildMetadataOption>,
    #[serde(default)]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub generator_options: Option<GeneratorOptions>,
}

/// A `replacements` entry: inline, or `path` to a file holding one
/// replacement or a list of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplacementField {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub source: Option<ReplacementSource>,
    #[serde(default)]
    pub targets: Option<Vec<ReplacementTarget>>,
}

/// One replacement, as written in a `replacements` file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replacement {
    #[serde(default)]
    pub source: Option<ReplacementSource>,
    #[serde(default)]
    pub targets: Option<Vec<ReplacementTarget>>,
}

/// A replacement `source`: one object, selected by exact group, version,
/// kind, name and namespace, and the field to read.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReplacementSource {
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
    pub field_path: Option<String>,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// A replacement target: the objects selected (exact ids, label and
/// annotation selectors), minus the rejected ones, and the fields to set.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReplacementTarget {
    #[serde(default)]
    pub select: Option<Target>,
    #[serde(default)]
    pub reject: Vec<Target>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// Replacement `options`. kustomize's `encoding` is not implemented by
/// kustomize either, so it is refused as unknown.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldOptions {
    #[serde(default)]
    pub delimiter: String,
    #[serde(default)]
    pub index: i64,
    #[serde(default)]
    pub create: bool,
}

/// `sortOptions`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SortOptions {
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// A `buildMetadata` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum BuildMetadataOption {
    OriginAnnotations,
    TransformerAnnotations,
    ManagedByLabel,
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
    /// Extra field specs for this entry's pairs.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// An `images` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Image {
    #[serde(deserialize_with = "strict")]
    pub name: String,
    #[serde(default, deserialize_with = "strict_option")]
    pub new_name: Option<String>,
    #[serde(default, deserialize_with = "strict_option")]
    pub new_tag: Option<String>,
    #[serde(default, deserialize_with = "strict_option")]
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
    #[serde(default)]
    pub options: PatchOptions,
}

/// A `patches` entry's `options` (they only affect strategic-merge patches,
/// as in kustomize).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PatchOptions {
    /// Let the patch's `metadata.name` rename the object.
    #[serde(default)]
    pub allow_name_change: bool,
    /// Let the patch's `kind` change the object's kind.
    #[serde(default)]
    pub allow_kind_change: bool,
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

/// A string-to-string map in file order. As for kustomize (Go's JSON decoding
/// of `map[string]string`), a value must be a string: `null` is `""`, and a
/// number or boolean is refused (checked against `kubectl kustomize`).
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
                while let Some((key, value)) = map.next_entry::<String, StrictString>()? {
                    pairs.push((key, value.0));
                }
                Ok(StringMap(pairs))
            }
        }
        deserializer.deserialize_any(MapVisitor)
    }
}

/// A string value that refuses numbers and booleans, as Go's JSON decoding
/// into a `string` does; `null` is `""`.
struct StrictString(String);

impl<'de> Deserialize<'de> for StrictString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = StrictString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (quote numbers and booleans)")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<StrictString, E> {
                Ok(StrictString(value.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrictString, E> {
                Ok(StrictString(String::new()))
            }
        }
        deserializer.deserialize_any(StrVisitor)
    }
}

fn strict<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(StrictString::deserialize(deserializer)?.0)
}

fn strict_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StrictString>::deserialize(deserializer)?.map(|s| s.0))
}

impl Kustomization {
    /// Whether this is a Kustomization or a Component.
    pub fn kind(&self) -> Kind {
        match self.kind.as_deref() {
            Some("Component") => Kind::Component,
            _ => Kind::Kustomization,
        }
    }

    /// Parses the kustomization `file` (relative to the root) from `text`.
    pub fn parse(text: &str, file: &Path) -> Result<Kustomization, Error> {
        let invalid = |line: Option<usize>, message: String| Error::InvalidKustomization {
            file: file.to_path_buf(),
            line,
            message,
        };
        // kustomize reads a kustomization as Kubernetes reads YAML (1.1):
        // `newTag: 1.10` is a number, and a number in a string field is
        // refused, as kustomize refuses it.
        let documents = crate::yaml::parse_documents(text, file, crate::yaml::Schema::Yaml11)?;
        let top = match documents.as_slice() {
            [] => return Err(invalid(None, "the file is empty".into())),
            [(top, _, _)] => top,
            [_, (_, line, _), ..] => {
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
        let kustomization: Kustomization =
            serde_path_to_error::deserialize(top.clone()).map_err(|err| {
                let path = err.path().to_string();
                let line = field_line(text, &path);
                let inner = err.inner().to_string();
                // An unknown field's path ends with the field, which the
                // message names already.
                let shown = inner
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split('`').next())
                    .and_then(|unknown| path.strip_suffix(unknown))
                    .map_or(path.as_str(), |parent| parent.trim_end_matches('.'));
                let message = if shown.is_empty() || shown == "." {
                    inner
                } else {
                    format!("{shown}: {inner}")
                };
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
        let kind = match kustomization.kind.as_deref() {
            None | Some("Kustomization") => Kind::Kustomization,
            Some("Component") => Kind::Component,
            Some(other) => {
                return Err(invalid(
                    key_line(text, "kind"),
                    format!("kind '{other}' is neither Kustomization nor Component"),
                ))
            }
        };
        let expected = match kind {
            Kind::Kustomization => API_VERSION,
            Kind::Component => COMPONENT_API_VERSION,
        };
        if let Some(api_version) = &kustomization.api_version {
            if api_version != expected {
                return Err(invalid(
                    key_line(text, "apiVersion"),
                    format!("apiVersion '{api_version}' is not {expected}"),
                ));
            }
        }
        // kustomize refuses a file that declares nothing to build.
        if map
            .keys()
            .all(|k| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
        {
            return Err(invalid(None, "the kustomization is empty".into()));
        }
        Ok(kustomization)
    }
}

/// The line of the field at `path` (`patches[0].options.allowNameChange`):
/// the line of its top-level key, then of each further key on a later line
/// (a scan, as [`key_line`]; close enough for block-style kustomizations).
fn field_line(text: &str, path: &str) -> Option<usize> {
    let mut keys = path
        .split('.')
        .map(|segment| segment.split('[').next().unwrap_or_default())
        .filter(|key| !key.is_empty());
    let mut line = key_line(text, keys.next()?)?;
    for key in keys {
        let Some(found) = text.lines().skip(line).position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        }) else {
            break;
        };
        line += found + 1;
    }
    Some(line)
}

impl Kustomization {
    /// Adds `overlay`'s fields, as Flux edits the kustomization it builds.
    pub fn add_overlay(&mut self, overlay: &crate::Overlay) -> Result<(), Error> {
        let invalid = |message: String| Error::InvalidKustomization {
            file: overlay.origin.file.clone(),
            line: Some(overlay.origin.line),
            message,
        };
        if let Some(namespace) = &overlay.namespace {
            self.namespace = Some(namespace.clone());
        }
        if let Some(prefix) = &overlay.name_prefix {
            self.name_prefix = Some(prefix.clone());
        }
        if let Some(suffix) = &overlay.name_suffix {
            self.name_suffix = Some(suffix.clone());
        }
        for (index, value) in overlay.patches.iter().enumerate() {
            let patch =
                Patch::deserialize(value).map_err(|e| invalid(format!("patches[{index}]: {e}")))?;
            if patch.path.is_some() || patch.patch.is_none() {
                return Err(invalid(format!(
                    "patches[{index}]: give the patch inline in `patch`"
                )));
            }
            self.patches.push(patch);
        }
        for component in &overlay.components {
            if component.contains("://") || Path::new(component).is_absolute() {
                return Err(invalid(format!(
                    "component path '{component}' must be local and relative"
                )));
            }
            self.components.push(component.clone());
        }
        for (index, value) in overlay.images.iter().enumerate() {
            let image =
                Image::deserialize(value).map_err(|e| invalid(format!("images[{index}]: {e}")))?;
            match self.images.iter_mut().find(|i| i.name == image.name) {
                None => self.images.push(image),
                Some(existing) => {
                    if image.new_name.is_some() {
                        existing.new_name = image.new_name;
                    }
                    if image.new_tag.is_some() || image.digest.is_some() {
                        existing.new_tag = image.new_tag;
                        existing.digest = image.digest;
                    }
                }
            }
        }
        Ok(())
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
    fn string_fields_refuse_numbers_and_booleans() {
        // `kubectl kustomize` refuses these ("cannot unmarshal number into
        // Go struct field ... of type string"); quoted, they are strings,
        // and `null` is "".
        for text in [
            "images:\n- name: app\n  newTag: 1.10\n",
            "commonLabels:\n  v: 2.0\n",
            "commonAnnotations:\n  a: true\n",
            // YAML 1.1, as Kubernetes' decoder and so kustomize read it.
            "commonAnnotations:\n  a: on\n",
            "images:\n- name: app\n  newTag: yes\n",
            "namePrefix: 1\n",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("expected a string"), "{text}: {err}");
        }
        // kubectl kustomize fails on a boolean key ("json: unsupported type").
        let err = parse("commonLabels:\n  on: x\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "k/kustomization.yaml:2:3: invalid YAML: the key `on` is not a string in YAML 1.1, \
             as Kubernetes reads it; quote it"
        );
        let k = parse(
            "images:\n- name: app\n  newTag: '1.10'\ncommonLabels:\n  v: \"2.0\"\n  \"n\": null\n",
        )
        .unwrap();
        assert_eq!(k.images[0].new_tag.as_deref(), Some("1.10"));
        assert_eq!(
            k.common_labels.0,
            vec![("v".into(), "2.0".into()), ("n".into(), "".into())]
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
        let err = parse("patches:\n- path: p.yaml\n  options:\n    allowNameChanges: true\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("k/kustomization.yaml:4: invalid kustomization: patches[0].options: unknown field `allowNameChanges`"), "{msg}");
    }

    #[test]
    fn components_have_their_own_api_version() {
        let k = parse(
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [a.yaml]\n",
        )
        .unwrap();
        assert_eq!(k.kind(), Kind::Component);
        // kubectl kustomize: "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1".
        let err = parse(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\nresources: [a.yaml]\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("is not kustomize.config.k8s.io/v1alpha1"),
            "{err}"
        );
        let err = parse("kind: Overlay\nresources: [a.yaml]\n").unwrap_err();
        assert!(err.to_string().contains("kind 'Overlay'"), "{err}");
    }

    #[test]
    fn a_kustomization_that_declares_nothing_is_refused() {
        // kubectl kustomize: "kustomization.yaml is empty".
        let err = parse("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "k/kustomization.yaml: invalid kustomization: the kustomization is empty"
        );
        assert!(parse("resources: []\n").is_ok());
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
