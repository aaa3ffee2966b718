//! Field-level differences between two versions of an object, for
//! `rekon render --explain`: which plugin changed which field.

use serde_json::Value;

/// One changed field.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldChange {
    /// Dotted path with list indices, e.g. `spec.template.spec.containers[0].image`;
    /// keys containing `.` or `/` are bracketed: `metadata.annotations["a.b/c"]`.
    pub path: String,
    /// The value before (`None`: the field was added).
    pub before: Option<Value>,
    /// The value after (`None`: the field was removed).
    pub after: Option<Value>,
}

/// Every leaf that differs between `before` and `after`, in document order.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(String::new(), Some(before), Some(after), &mut out);
    out
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, va) in a {
                walk(join_key(&path, key), Some(va), b.get(key), out);
            }
            for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                walk(join_key(&path, key), None, Some(vb), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                walk(format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldChange {
            path,
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

fn join_key(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

/// A short rendering of a value for one line of output.
pub fn short(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 60 {
                format!("{}…", &text[..text.floor_char_boundary(57)])
            } else {
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changed_added_and_removed_leaves() {
        let a = json!({"spec": {"containers": [{"name": "web", "readinessProbe": {"initialDelaySeconds": 5}}]}, "metadata": {"annotations": {"x": "1"}}});
        let b = json!({"spec": {"containers": [{"name": "web", "readinessProbe": {"initialDelaySeconds": 10, "periodSeconds": 5}}]}, "metadata": {"annotations": {"traefik.io/p": "2000"}}});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.containers[0].readinessProbe.initialDelaySeconds",
                "spec.containers[0].readinessProbe.periodSeconds",
                "metadata.annotations.x",
                "metadata.annotations[\"traefik.io/p\"]",
            ]
        );
        assert_eq!(d[0].before, Some(json!(5)));
        assert_eq!(d[0].after, Some(json!(10)));
        assert_eq!(d[1].before, None);
        assert_eq!(d[2].after, None);
    }

    #[test]
    fn equal_values_have_no_changes() {
        let a = json!({"a": [1, {"b": null}]});
        assert!(diff(&a, &a.clone()).is_empty());
    }
}
