//! Kustomize's "field specs": where in which kinds a transformer reads or
//! writes, and the walk to those fields.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A field of the objects of some kinds, as in kustomize's `FieldSpec`
/// (and in `configurations` files). An empty group, version or kind matches
/// any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    /// Keys separated by `/` (`\/` is a slash inside a key); a key ending in
    /// `[]` names a list and is never created; lists on the way are entered
    /// element by element.
    #[serde(default)]
    pub path: String,
    /// Create the field (and missing mappings on the way) when absent.
    #[serde(default)]
    pub create: bool,
}

/// What a walk creates at the end of a field spec's path when the spec says
/// `create` and the field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Never create (name references, images).
    Never,
    /// An empty mapping (labels, annotations).
    Map,
    /// An empty string (names, namespaces, counts).
    Scalar,
}

impl FieldSpec {
    /// Whether an id with this group, version and kind is selected by the
    /// spec's group, version and kind (kustomize's `Gvk.IsSelected`).
    pub fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }

    /// Whether the spec applies to `object`, by its current apiVersion and
    /// kind.
    pub fn matches(&self, object: &Value) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.selects(group, version, object["kind"].as_str().unwrap_or(""))
    }

    /// The keys of the path, with `\/` unescaped.
    pub fn segments(&self) -> Vec<String> {
        split_path(&self.path)
    }

    /// Calls `f` on each value at this spec's path in `object`, if the spec
    /// applies to the object. With `create` (and the spec's `create`), an
    /// absent field is created as `create` says before `f` sees it; `f` may
    /// see `null` for a field that is present but null.
    pub fn apply(&self, object: &mut Value, create: Create, f: &mut dyn FnMut(&mut Value)) {
        if self.matches(object) {
            let create = if self.create { create } else { Create::Never };
            visit(object, &self.segments(), create, f);
        }
    }
}

/// Splits a field spec path on `/`, keeping `\/` as a slash inside a key
/// (kyaml's `PathSplitter`).
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                segments.last_mut().expect("never empty").push('/');
            }
            '/' => segments.push(String::new()),
            c => segments.last_mut().expect("never empty").push(c),
        }
    }
    segments
}

/// Walks `path` under `value` as kustomize's field spec filter does: lists
/// are entered element by element, `key[]` is looked up but never created,
/// and with `create` absent mappings on the way and the last field are
/// created.
pub(crate) fn visit(
    value: &mut Value,
    path: &[String],
    create: Create,
    f: &mut dyn FnMut(&mut Value),
) {
    let Some((head, rest)) = path.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Array(items) => {
            for item in items {
                visit(item, path, create, f);
            }
        }
        Value::Object(map) => {
            let (key, is_list) = match head.strip_suffix("[]") {
                Some(key) => (key, true),
                None => (head.as_str(), false),
            };
            let created = if create == Create::Never || is_list {
                None
            } else if rest.is_empty() {
                Some(match create {
                    Create::Map => Value::Object(Map::new()),
                    _ => Value::String(String::new()),
                })
            } else {
                Some(Value::Object(Map::new()))
            };
            match (map.get_mut(key), created) {
                (Some(child), Some(empty)) if child.is_null() => *child = empty,
                (Some(_), _) => {}
                (None, Some(empty)) => {
                    map.insert(key.to_string(), empty);
                }
                (None, None) => return,
            }
            if let Some(child) = map.get_mut(key) {
                if !rest.is_empty() && child.is_null() {
                    return;
                }
                visit(child, rest, create, f);
            }
        }
        _ => {}
    }
}

/// Sets `pairs` into the mapping `value`, as the label and annotation
/// transformers do.
pub(crate) fn set_pairs(value: &mut Value, pairs: &[(String, String)]) {
    if let Value::Object(map) = value {
        for (key, val) in pairs {
            map.insert(key.clone(), Value::String(val.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            path: path.into(),
            create,
        }
    }

    #[test]
    fn escaped_slashes_stay_in_keys() {
        assert_eq!(
            split_path(r"metadata/annotations/a.io\/b"),
            ["metadata", "annotations", "a.io/b"]
        );
    }

    #[test]
    fn list_markers_are_never_created() {
        let mut object = json!({"kind": "StatefulSet", "spec": {}});
        let spec = spec("spec/volumeClaimTemplates[]/metadata/labels", true);
        spec.apply(&mut object, Create::Map, &mut |v| {
            set_pairs(v, &[("a".into(), "b".into())])
        });
        assert_eq!(object["spec"], json!({}));
        let mut object = json!({"kind": "X", "spec": {"t": [{"name": "d"}, {"metadata": null}]}});
        spec_at(&mut object, "spec/t[]/metadata/labels");
        assert_eq!(
            object["spec"]["t"],
            json!([{"name": "d", "metadata": {"labels": {"a": "b"}}}, {"metadata": {"labels": {"a": "b"}}}])
        );
    }

    fn spec_at(object: &mut Value, path: &str) {
        spec(path, true).apply(object, Create::Map, &mut |v| {
            set_pairs(v, &[("a".into(), "b".into())])
        });
    }

    #[test]
    fn without_create_only_present_fields_are_visited() {
        let mut object = json!({"kind": "X", "spec": {"selector": null}});
        let mut seen = 0;
        spec("spec/selector/matchLabels", false)
            .apply(&mut object, Create::Map, &mut |_| seen += 1);
        spec("spec/other", false).apply(&mut object, Create::Map, &mut |_| seen += 1);
        assert_eq!(seen, 0);
        assert_eq!(object, json!({"kind": "X", "spec": {"selector": null}}));
    }
}
