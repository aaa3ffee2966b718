//! Chart values as Flux computes them: the `valuesFrom` entries in order,
//! then `spec.values` on top, each merged into the last with a deep merge of
//! maps (Flux's `chartutil.MergeMaps`: a map merges into a map, anything else
//! replaces what was there).

use serde_json::{Map, Value};

/// Merges `top` into `base` as Flux's `MergeMaps` does. Key order: `base`'s
/// keys where they were, new keys after them.
pub fn merge(base: &mut Map<String, Value>, top: Map<String, Value>) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(top_inner)) => merge(inner, top_inner),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Sets `value` at `path` as Helm's `--set path=value` does (Flux's
/// `targetPath`), for the part of `--set`'s syntax rekon reads: keys
/// separated by `.`, and a value that is one scalar. Without `literal` the
/// value is typed as `--set` types it (`true`/`false`, `null`, integers
/// without a leading zero; anything else a string) unless it is wrapped in
/// quotes, which are taken off and leave a string; with `literal` it is the
/// string as it is.
///
/// An error for syntax beyond that (`[n]` indexes, `\` escapes, `{a,b}`
/// lists, several assignments split by `,`), rather than a guess.
pub fn set_path(
    values: &mut Map<String, Value>,
    path: &str,
    raw: &str,
    literal: bool,
) -> Result<(), String> {
    if path.is_empty() || path.contains(['[', ']', '\\', ',', '=', '{', '}']) {
        return Err(format!(
            "targetPath `{path}`: rekon reads only dot-separated keys (no `[n]`, `\\`, `,`, `=`, `{{`, `}}`)"
        ));
    }
    let value = if literal {
        Value::String(raw.to_string())
    } else {
        let quoted = raw.len() >= 2
            && ((raw.starts_with('"') && raw.ends_with('"'))
                || (raw.starts_with('\'') && raw.ends_with('\'')));
        // Flux trims every leading and trailing quote of a quoted value.
        let text = if quoted {
            raw.trim_matches(['"', '\''])
        } else {
            raw
        };
        if text.contains([',', '\\']) || (!quoted && text.starts_with('{')) {
            return Err(format!(
                "targetPath `{path}`: the value holds `,`, `\\` or starts with `{{`, which Helm's --set syntax splits or parses; rekon does not (set `literal: true` to use the text as it is)"
            ));
        }
        if quoted {
            Value::String(text.to_string())
        } else {
            typed(text)
        }
    };
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("targetPath `{path}`: an empty key"));
    }
    let (last, parents) = keys.split_last().expect("split of a non-empty path");
    let mut map = values;
    for (depth, key) in parents.iter().enumerate() {
        let slot = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            _ => {
                return Err(format!(
                    "targetPath `{path}`: `{}` is not a map in the values merged so far",
                    keys[..=depth].join(".")
                ))
            }
        };
    }
    map.insert(last.to_string(), value);
    Ok(())
}

/// A `--set` value typed as Helm's strvals types it.
fn typed(text: &str) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::from(0);
    }
    if !text.starts_with('0') {
        if let Ok(n) = text.parse::<i64>() {
            return Value::from(n);
        }
    }
    Value::String(text.to_string())
}

/// Parses the YAML of a values file. Helm reads values with YAML 1.1 rules,
/// where a plain `yes`, `no`, `on`, `off`, `y` or `n` is a boolean; rekon's
/// parser reads YAML 1.2, where it is a string, and cannot tell afterwards
/// whether it was quoted. So such a string is refused rather than passed on
/// with a meaning Helm would not give it.
pub fn parse_yaml(text: &str) -> Result<Map<String, Value>, String> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let map = match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => return Err("not a YAML map".into()),
    };
    let mut path = Vec::new();
    for (key, value) in &map {
        path.push(key.clone());
        check_yaml11(value, &mut path)?;
        path.pop();
    }
    Ok(map)
}

/// `a.b[0].c` from its segments (indexes are kept as `[n]`).
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

const YAML11_BOOLS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

fn check_yaml11(value: &Value, path: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::String(s) if YAML11_BOOLS.contains(&s.as_str()) => Err(format!(
            "`{}: {s}` is a boolean to Helm (YAML 1.1) unless quoted, and rekon cannot tell whether it was; write true or false, or move the value into spec.values",
            dotted(path)
        )),
        Value::Object(map) => {
            for (key, value) in map {
                path.push(key.clone());
                check_yaml11(value, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                check_yaml11(value, path)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn deep_merge_of_maps_lists_replaced() {
        let mut base = map(json!({"a": {"x": 1, "y": [1, 2]}, "b": "keep", "c": {"z": 1}}));
        merge(
            &mut base,
            map(json!({"a": {"y": [3], "w": true}, "c": "scalar", "d": null})),
        );
        assert_eq!(
            serde_json::to_string(&base).unwrap(),
            r#"{"a":{"x":1,"y":[3],"w":true},"b":"keep","c":"scalar","d":null}"#
        );
    }

    #[test]
    fn target_path_types_values_as_set_does() {
        let mut v = map(json!({"controller": {"kind": "Deployment"}}));
        set_path(&mut v, "controller.replicaCount", "3", false).unwrap();
        set_path(&mut v, "controller.enabled", "TRUE", false).unwrap();
        set_path(&mut v, "controller.zip", "0123", false).unwrap();
        set_path(&mut v, "controller.port", "'8080'", false).unwrap();
        set_path(&mut v, "controller.raw", "a,b\\c", true).unwrap();
        set_path(&mut v, "new.deep.key", "x", false).unwrap();
        assert_eq!(
            Value::Object(v.clone()),
            json!({"controller": {"kind": "Deployment", "replicaCount": 3, "enabled": true,
                   "zip": "0123", "port": "8080", "raw": "a,b\\c"},
                   "new": {"deep": {"key": "x"}}})
        );
        assert_eq!(
            set_path(&mut v, "hosts[0]", "a", false).unwrap_err(),
            "targetPath `hosts[0]`: rekon reads only dot-separated keys (no `[n]`, `\\`, `,`, `=`, `{`, `}`)"
        );
        assert!(set_path(&mut v, "a", "x,y", false)
            .unwrap_err()
            .contains("set `literal: true`"));
        assert_eq!(
            set_path(&mut v, "controller.kind.name", "x", false).unwrap_err(),
            "targetPath `controller.kind.name`: `controller.kind` is not a map in the values merged so far"
        );
    }

    #[test]
    fn yaml11_booleans_are_refused() {
        assert_eq!(
            parse_yaml("a:\n  b: [1, true, 'x']\n").unwrap(),
            map(json!({"a": {"b": [1, true, "x"]}}))
        );
        assert_eq!(
            parse_yaml("a:\n  list: [ok, 'on']\n").unwrap_err(),
            "`a.list[1]: on` is a boolean to Helm (YAML 1.1) unless quoted, and rekon cannot tell whether it was; write true or false, or move the value into spec.values"
        );
        assert_eq!(parse_yaml("- a").unwrap_err(), "not a YAML map");
        assert!(parse_yaml("").unwrap().is_empty());
    }
}
