//! `buildMetadata`: annotations telling where each object came from and what
//! changed it, and the `app.kubernetes.io/managed-by` label.
//!
//! kustomize records this while it builds, as annotations on the objects,
//! and removes at the end what the built kustomization did not ask for; rekon
//! does the same so selectors and transformers see the same objects:
//!
//! * `config.kubernetes.io/origin`: `path: FILE`, the resource file as the
//!   `resources` entries lead to it from the built kustomization's directory
//!   (`../base/deploy.yaml`). An object without one when a transformer runs
//!   (a generated object) gets that transformer as its origin instead:
//!   `configuredIn: KUSTOMIZATION` and `configuredBy: {apiVersion: builtin,
//!   kind: ...}`.
//! * `alpha.config.kubernetes.io/transformations`: one such entry per
//!   built-in transformer configured in each kustomization the object passed
//!   through, whether or not it changed the object (as kustomize).
//! * `app.kubernetes.io/managed-by: kustomize-v5.5.0`, on every object,
//!   after sorting.
//!
//! Only the built kustomization's `buildMetadata` counts: kustomize gives it
//! to every kustomization it includes.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::kustomization::BuildMetadataOption;
use crate::object::Item;

const ORIGIN: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// What the kustomize v5.5.0 release prints. `kubectl kustomize` prints
/// `kustomize-(devel)` (its embedded kustomize has no version stamp), which
/// is not a valid label value: the API server would refuse the objects.
const MANAGED_BY_VALUE: &str = "kustomize-v5.5.0";

/// Go's `filepath.Join(base, entry)`: joined and cleaned lexically, leading
/// `..` kept.
pub(crate) fn join(base: &Path, entry: &str) -> PathBuf {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in base.components().chain(Path::new(entry).components()) {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..".as_ref());
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    parts.iter().collect()
}

fn annotations(object: &mut Value) -> &mut Map<String, Value> {
    let meta = object
        .as_object_mut()
        .expect("objects are mappings")
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let annotations = meta
        .as_object_mut()
        .expect("made a mapping above")
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    annotations.as_object_mut().expect("made a mapping above")
}

fn yaml(value: &Value) -> String {
    serde_yaml_ng::to_string(value).expect("a JSON value always serializes to YAML")
}

/// Records the file objects were loaded from, as the path from the built
/// kustomization's directory.
pub(crate) fn set_origin(items: &mut [Item], path: &Path) {
    let text = yaml(&json!({"path": path.to_string_lossy()}));
    for item in items {
        annotations(&mut item.object).insert(ORIGIN.into(), Value::String(text.clone()));
    }
}

/// The origin annotation of an object, if it has one.
pub(crate) fn origin(item: &Item) -> Option<Value> {
    item.object["metadata"]["annotations"].get(ORIGIN).cloned()
}

/// Sets the origin annotation of an object to `origin` (from [`origin`]).
pub(crate) fn set_origin_text(item: &mut Item, origin: Value) {
    annotations(&mut item.object).insert(ORIGIN.into(), origin);
}

/// Records that the built-in transformer `kind` of the kustomization file
/// `configured_in` ran over `items`.
pub(crate) fn record_transformer(items: &mut [Item], configured_in: &Path, kind: &str) {
    let origin = json!({
        "configuredIn": configured_in.to_string_lossy(),
        "configuredBy": {"apiVersion": "builtin", "kind": kind},
    });
    let entry = yaml(&Value::Array(vec![origin.clone()]));
    let origin = yaml(&origin);
    for item in items {
        let annotations = annotations(&mut item.object);
        if !annotations.contains_key(ORIGIN) {
            annotations.insert(ORIGIN.into(), Value::String(origin.clone()));
            continue;
        }
        let mut text = annotations
            .get(TRANSFORMATIONS)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        text.push_str(&entry);
        annotations.insert(TRANSFORMATIONS.into(), Value::String(text));
    }
}

/// Adds the managed-by label if asked, and removes the annotations that
/// were not asked for (and `annotations` itself when left empty).
pub(crate) fn finish(items: &mut [Item], options: &[BuildMetadataOption]) {
    for item in items {
        if options.contains(&BuildMetadataOption::ManagedByLabel) {
            let meta = item.object["metadata"]
                .as_object_mut()
                .expect("objects have metadata");
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(labels) = labels {
                labels.insert(MANAGED_BY.into(), MANAGED_BY_VALUE.into());
            }
        }
        let Some(Value::Object(meta)) = item.object.get_mut("metadata") else {
            continue;
        };
        let Some(Value::Object(annotations)) = meta.get_mut("annotations") else {
            continue;
        };
        if !options.contains(&BuildMetadataOption::OriginAnnotations) {
            annotations.shift_remove(ORIGIN);
        }
        if !options.contains(&BuildMetadataOption::TransformerAnnotations) {
            annotations.shift_remove(TRANSFORMATIONS);
        }
        // kustomize rewrites every object's annotations as a string map when
        // it drops its build annotations, so `x: 2.4` leaves as `x: "2.4"`
        // (labels keep their types).
        for value in annotations.values_mut() {
            match value {
                Value::Null => *value = Value::String(String::new()),
                Value::Bool(b) => *value = Value::String(b.to_string()),
                Value::Number(n) => *value = Value::String(n.to_string()),
                Value::String(_) | Value::Array(_) | Value::Object(_) => {}
            }
        }
        if annotations.is_empty() {
            meta.shift_remove("annotations");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_cleans_like_go() {
        assert_eq!(join(Path::new(""), "res.yaml"), Path::new("res.yaml"));
        assert_eq!(
            join(Path::new("../base"), "./a/../b.yaml"),
            Path::new("../base/b.yaml")
        );
        assert_eq!(join(Path::new("x"), "../../y"), Path::new("../y"));
    }

    #[test]
    fn transformer_entries_append() {
        let mut items = vec![Item::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            crate::Origin {
                file: "c.yaml".into(),
                line: 1,
            },
        )];
        record_transformer(
            &mut items,
            Path::new("kustomization.yaml"),
            "PatchTransformer",
        );
        let annotations = &items[0].object["metadata"]["annotations"];
        assert_eq!(
            annotations[ORIGIN],
            "configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: PatchTransformer\n"
        );
        set_origin(&mut items, Path::new("../c.yaml"));
        record_transformer(&mut items, Path::new("kustomization.yaml"), "A");
        record_transformer(&mut items, Path::new("kustomization.yaml"), "B");
        let annotations = &items[0].object["metadata"]["annotations"];
        assert_eq!(
            annotations[TRANSFORMATIONS],
            "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: A\n\
             - configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: B\n"
        );
        finish(&mut items, &[]);
        assert_eq!(items[0].object["metadata"].get("annotations"), None);
    }
}
