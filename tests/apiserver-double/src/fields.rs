//! Field sets: which fields of an object a field manager owns.
//!
//! A simplified `fieldsV1`: a set is the leaf paths (map keys only) of what a
//! manager wrote. Scalars, lists and empty maps are leaves, so a list is owned
//! whole (the real server tracks list items by their merge keys, `k:{...}`).
//! Rendered as the real nested `{"f:spec": {"f:replicas": {}}}` form, without
//! the `"."` entries the real server adds for owned maps.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A path of map keys from the object's root.
pub type Path = Vec<String>;

/// The fields one manager owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// Top-level fields no manager owns.
const UNTRACKED_TOP: &[&str] = &["apiVersion", "kind", "status"];
/// Metadata fields no manager owns (identity and server-set bookkeeping).
const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
];

impl FieldSet {
    /// The leaves `object` sets (nulls excluded), without untracked fields.
    pub fn of(object: &Value) -> FieldSet {
        let mut set = BTreeSet::new();
        if let Value::Object(map) = object {
            for (key, value) in map {
                if UNTRACKED_TOP.contains(&key.as_str()) {
                    continue;
                }
                if key == "metadata" {
                    if let Value::Object(meta) = value {
                        for (k, v) in meta {
                            if !UNTRACKED_METADATA.contains(&k.as_str()) {
                                leaves(v, vec![key.clone(), k.clone()], &mut set);
                            }
                        }
                    }
                    continue;
                }
                leaves(value, vec![key.clone()], &mut set);
            }
        }
        FieldSet(set)
    }

    /// The `fieldsV1` rendering.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for key in path {
                node = node
                    .entry(format!("f:{key}"))
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("field set nodes are maps");
            }
        }
        Value::Object(root)
    }

    /// Whether any path of the set overlaps `path`.
    pub fn overlaps(&self, path: &Path) -> bool {
        self.0.iter().any(|p| overlap(p, path))
    }
}

fn leaves(value: &Value, path: Path, set: &mut BTreeSet<Path>) {
    match value {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut p = path.clone();
                p.push(k.clone());
                leaves(v, p, set);
            }
        }
        _ => {
            set.insert(path);
        }
    }
}

/// One path is a prefix of the other (or they are equal).
pub fn overlap(a: &Path, b: &Path) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// The shorter of two overlapping paths.
pub fn shorter<'a>(a: &'a Path, b: &'a Path) -> &'a Path {
    if a.len() <= b.len() {
        a
    } else {
        b
    }
}

/// The value at `path`.
pub fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Remove the value at `path`, then every map left empty on the way up
/// (except the top-level ones such as `metadata` and `spec`).
pub fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(Value::Object(parent)) = get_mut(value, parents) else {
        return;
    };
    parent.remove(last);
    if parent.is_empty() && parents.len() > 1 {
        remove(value, parents);
    }
}

fn get_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| v.get_mut(key))
}

/// Server-side apply's merge as the double models it: maps merge key by key,
/// lists and scalars replace, nulls are ignored.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("just made a map");
    for (key, value) in patch {
        match value {
            Value::Null => {}
            Value::Object(_) => merge(target.entry(key.clone()).or_insert(Value::Null), value),
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// JSON merge patch (RFC 7386): like [`merge`], but a null deletes the key.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("just made a map");
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) => {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value)
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The null leaves of a merge patch: the paths it deletes.
pub fn deletions(patch: &Value, path: Path, out: &mut Vec<Path>) {
    if let Value::Object(map) = patch {
        for (k, v) in map {
            let mut p = path.clone();
            p.push(k.clone());
            if v.is_null() {
                out.push(p);
            } else {
                deletions(v, p, out);
            }
        }
    }
}

/// `.spec.replicas`, as the real server writes a field in conflict messages.
pub fn render(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_skip_identity_and_status() {
        let set = FieldSet::of(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"x": "1"}},
            "data": {"k": "v"}, "status": {"s": 1}, "list": [1, 2]
        }));
        let paths: Vec<String> = set.0.iter().map(|p| render(p)).collect();
        assert_eq!(paths, [".data.k", ".list", ".metadata.labels.x"]);
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:data": {"f:k": {}}, "f:list": {}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
    }

    #[test]
    fn remove_prunes_empty_parents_but_not_top_level() {
        let mut v = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": {"y": 1}}});
        remove(&mut v, &["metadata".into(), "labels".into(), "a".into()]);
        remove(&mut v, &["spec".into(), "x".into(), "y".into()]);
        assert_eq!(v, json!({"metadata": {}, "spec": {}}));
    }

    #[test]
    fn merge_patch_deletes_on_null() {
        let mut v = json!({"a": {"b": 1, "c": 2}});
        merge_patch(&mut v, &json!({"a": {"b": null, "d": [1]}}));
        assert_eq!(v, json!({"a": {"c": 2, "d": [1]}}));
    }
}
