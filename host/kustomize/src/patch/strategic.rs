//! Strategic-merge patches, as kustomize (kyaml `merge2`) applies them.
//!
//! Mappings merge recursively and `null` deletes a key. Lists merge by the
//! Kubernetes `patchMergeKey` of well-known fields; other lists whose
//! elements all carry `name` merge by `name` (kyaml infers the same key);
//! every other list is replaced. Merged lists hold the patch's elements
//! first, in the patch's order, then the target's remaining elements: this is
//! kustomize's `ListIncreaseDirection: Prepend`. The directives `$patch:
//! delete`, `$patch: replace` and `$patch: merge` are supported on mappings
//! and list elements; `$setElementOrder/...` (an ordering hint) is ignored.

use serde_json::{Map, Value};

/// What a merge asks of the parent of the merged value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Keep,
    /// `$patch: delete`: remove the value (or, at the top, the object).
    Delete,
}

/// Merge keys of well-known list fields (Kubernetes `patchMergeKey`),
/// with the default of a secondary key when it is absent.
fn merge_keys(
    field: &str,
    dest: &[Value],
    patch: &[Value],
) -> Option<&'static [(&'static str, Option<&'static str>)]> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => &[("name", None)],
        "volumeMounts" => &[("mountPath", None)],
        "volumeDevices" => &[("devicePath", None)],
        "hostAliases" => &[("ip", None)],
        "topologySpreadConstraints" => &[("topologyKey", None), ("whenUnsatisfiable", None)],
        "ports" => {
            let container = dest
                .iter()
                .chain(patch)
                .any(|e| e.get("containerPort").is_some());
            if container {
                &[("containerPort", None), ("protocol", Some("TCP"))]
            } else {
                &[("port", None), ("protocol", Some("TCP"))]
            }
        }
        // Lists Kubernetes replaces even though their elements may have names.
        "tolerations" | "args" | "command" => return None,
        _ => {
            let named = |e: &Value| e.get("name").is_some_and(|n| !n.is_null());
            if !patch.is_empty() && dest.iter().chain(patch).all(named) {
                &[("name", None)]
            } else {
                return None;
            }
        }
    })
}

/// Merges `patch` into `dest`.
pub(crate) fn merge(dest: &mut Value, patch: &Value) -> Result<Outcome, String> {
    merge_value(dest, patch, "")
}

fn directive(map: &Map<String, Value>) -> Result<Option<&str>, String> {
    match map.get("$patch") {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "delete" | "replace" | "merge") => {
            Ok(Some(s))
        }
        Some(other) => Err(format!("unknown $patch directive {other}")),
    }
}

fn merge_value(dest: &mut Value, patch: &Value, field: &str) -> Result<Outcome, String> {
    match patch {
        Value::Object(patch_map) => {
            match directive(patch_map)? {
                Some("delete") => return Ok(Outcome::Delete),
                Some("replace") => {
                    *dest = Value::Object(Map::new());
                    merge_map(dest, patch_map)?;
                    return Ok(Outcome::Keep);
                }
                _ => {}
            }
            if !dest.is_object() {
                *dest = Value::Object(Map::new());
            }
            merge_map(dest, patch_map)?;
        }
        Value::Array(patch_items) => {
            if !dest.is_array() {
                *dest = Value::Array(Vec::new());
            }
            let Value::Array(dest_items) = dest else {
                unreachable!("made an array above")
            };
            let merged = merge_list(field, std::mem::take(dest_items), patch_items)?;
            *dest_items = merged;
        }
        scalar => *dest = scalar.clone(),
    }
    Ok(Outcome::Keep)
}

fn merge_map(dest: &mut Value, patch: &Map<String, Value>) -> Result<(), String> {
    let Value::Object(dest) = dest else {
        unreachable!("callers pass a mapping")
    };
    for (key, value) in patch {
        if key == "$patch" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if key.starts_with('$') {
            return Err(format!("unsupported strategic-merge directive '{key}'"));
        }
        if value.is_null() {
            dest.shift_remove(key);
            continue;
        }
        let mut merged = dest.get(key).cloned().unwrap_or(Value::Null);
        match merge_value(&mut merged, value, key)? {
            Outcome::Keep => {
                dest.insert(key.clone(), merged);
            }
            Outcome::Delete => {
                dest.shift_remove(key);
            }
        }
    }
    Ok(())
}

fn merge_list(field: &str, dest: Vec<Value>, patch: &[Value]) -> Result<Vec<Value>, String> {
    let is_replace = |e: &Value| e.get("$patch").and_then(Value::as_str) == Some("replace");
    if patch.iter().any(is_replace) {
        return build_list(patch.iter().filter(|e| !is_replace(e)));
    }
    let Some(keys) = merge_keys(field, &dest, patch) else {
        return build_list(patch.iter());
    };
    let key_of = |element: &Value| -> Option<Vec<String>> {
        keys.iter()
            .map(|(key, default)| match element.get(*key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => default.map(str::to_string),
                Some(other) => Some(other.to_string()),
            })
            .collect()
    };
    let mut dest: Vec<Option<Value>> = dest.into_iter().map(Some).collect();
    let mut merged = Vec::new();
    for element in patch {
        let key = key_of(element);
        let position = key.as_ref().and_then(|key| {
            dest.iter()
                .position(|d| d.as_ref().is_some_and(|d| key_of(d).as_ref() == Some(key)))
        });
        let mut target = position.and_then(|i| dest[i].take()).unwrap_or(Value::Null);
        if merge_value(&mut target, element, field)? == Outcome::Keep {
            merged.push(target);
        }
    }
    merged.extend(dest.into_iter().flatten());
    Ok(merged)
}

/// A list made of patch elements alone (directives applied, nulls dropped).
fn build_list<'a>(elements: impl Iterator<Item = &'a Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for element in elements {
        let mut value = Value::Null;
        if merge_value(&mut value, element, "")? == Outcome::Keep {
            out.push(value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(mut dest: Value, patch: Value) -> Value {
        assert_eq!(merge(&mut dest, &patch).unwrap(), Outcome::Keep);
        dest
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        assert_eq!(
            merged(
                json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4}),
                json!({"b": {"c": null, "x": 1}, "e": null, "f": {"g": null, "h": 1}})
            ),
            json!({"a": 1, "b": {"d": 3, "x": 1}, "f": {"h": 1}})
        );
    }

    #[test]
    fn containers_merge_by_name_patch_first() {
        let dest = json!({"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "side:1"}
        ]});
        let patch = json!({"containers": [
            {"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
            {"name": "new", "image": "new:1"}
        ]});
        assert_eq!(
            merged(dest, patch),
            json!({"containers": [
                {"name": "app", "image": "app:1", "env": [
                    {"name": "B", "value": "20"}, {"name": "C", "value": "3"}, {"name": "A", "value": "1"}
                ]},
                {"name": "new", "image": "new:1"},
                {"name": "sidecar", "image": "side:1"}
            ]})
        );
    }

    #[test]
    fn well_known_keys_and_replaced_lists() {
        let dest = json!({
            "volumeMounts": [{"mountPath": "/a", "name": "x"}, {"mountPath": "/b", "name": "y"}],
            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}],
            "args": ["--a", "--b"],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "finalizers": ["x"]
        });
        let patch = json!({
            "volumeMounts": [{"mountPath": "/b", "name": "z"}],
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "web"}],
            "args": ["--c"],
            "tolerations": [{"key": "other", "operator": "Exists"}],
            "finalizers": ["y"]
        });
        assert_eq!(
            merged(dest, patch),
            json!({
                "volumeMounts": [{"mountPath": "/b", "name": "z"}, {"mountPath": "/a", "name": "x"}],
                "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
                "args": ["--c"],
                "tolerations": [{"key": "other", "operator": "Exists"}],
                "finalizers": ["y"]
            })
        );
    }

    #[test]
    fn patch_directives() {
        let dest = json!({
            "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],
            "env": [{"name": "X"}, {"name": "Y"}],
            "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
            "affinity": {"nodeAffinity": {}}
        });
        let patch = json!({
            "volumes": [{"name": "a", "$patch": "delete"}],
            "env": [{"$patch": "replace"}, {"name": "Z"}],
            "resources": {"$patch": "replace", "limits": {"memory": "1Gi"}},
            "affinity": {"$patch": "delete"}
        });
        assert_eq!(
            merged(dest, patch),
            json!({
                "volumes": [{"name": "b", "emptyDir": {}}],
                "env": [{"name": "Z"}],
                "resources": {"limits": {"memory": "1Gi"}}
            })
        );
        let mut object = json!({"kind": "Deployment"});
        assert_eq!(
            merge(&mut object, &json!({"$patch": "delete"})).unwrap(),
            Outcome::Delete
        );
        assert!(merge(&mut object, &json!({"$retainKeys": ["a"]})).is_err());
    }

    #[test]
    fn unnamed_lists_are_replaced() {
        assert_eq!(
            merged(
                json!({"rules": [{"host": "a"}]}),
                json!({"rules": [{"host": "b"}]})
            ),
            json!({"rules": [{"host": "b"}]})
        );
    }
}
