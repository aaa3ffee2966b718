//! kustomize's content hash for generated names (`api/hasher/hasher.go`).
//!
//! The facts, checked against `kubectl kustomize` (kustomize v5.5.0):
//!
//! * The hashed text is the compact JSON (Go `encoding/json`: keys sorted,
//!   `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u....`, `\b` and `\f`
//!   short, other control characters `\u00xx`) of a mapping with
//!   `kind`, `name` and `data`, plus `binaryData` when it is a mapping, for
//!   a ConfigMap; `kind`, `type`, `name` and `data`, plus `stringData` when
//!   it is a mapping, for a Secret.
//! * `name` is always `""`: kustomize looks the name up with the single
//!   field name `metadata/name`, which no object has. So neither the name
//!   nor a prefix, suffix, namespace, label or annotation changes the hash;
//!   only the kind, the data and a Secret's type do.
//! * A field that is absent is `""`; a scalar is its text.
//! * The suffix is the first 10 hex digits of the SHA-256 of that text, with
//!   `0`, `1`, `3`, `a`, `e` replaced by `g`, `h`, `k`, `m`, `t` (a trick
//!   kustomize took from kubectl, to keep suffixes from spelling words).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The suffix kustomize appends (after a `-`) to a generated ConfigMap or
/// Secret; `None` for any other kind.
pub(crate) fn suffix(object: &Value) -> Option<String> {
    let input = hash_input(object)?;
    let digest = Sha256::digest(input.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(
        hex[..10]
            .chars()
            .map(|c| match c {
                '0' => 'g',
                '1' => 'h',
                '3' => 'k',
                'a' => 'm',
                'e' => 't',
                other => other,
            })
            .collect(),
    )
}

/// The text that is hashed.
fn hash_input(object: &Value) -> Option<String> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    let (scalars, optional_map) = match kind {
        "ConfigMap" => (&["data"][..], "binaryData"),
        "Secret" => (&["data", "type"][..], "stringData"),
        _ => return None,
    };
    let mut fields: Vec<(&str, Value)> = vec![
        ("kind", Value::String(kind.to_string())),
        ("name", Value::String(String::new())),
    ];
    for field in scalars {
        fields.push((field, node_value(object.get(*field))));
    }
    // Go includes the optional map when its value has map type, which a
    // list (decoded into a nil map) has too.
    if let Some(value @ (Value::Object(_) | Value::Array(_))) = object.get(optional_map) {
        fields.push((optional_map, node_value(Some(value))));
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("{");
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(&mut out, key);
        out.push(':');
        write_json(&mut out, value);
    }
    out.push('}');
    Some(out)
}

/// A field as kustomize's hasher reads it: absent (or null) is `""`, a
/// scalar is its text, a mapping is kept, a list does not decode into the
/// map Go expects and is `null`.
fn node_value(value: Option<&Value>) -> Value {
    match value {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Bool(b)) => Value::String(b.to_string()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(Value::Array(_)) => Value::Null,
    }
}

/// Writes `value` as Go's `json.Marshal` does for decoded JSON (maps with
/// sorted keys, numbers as float64).
fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => write_string(out, s),
        Value::Array(list) => {
            out.push('[');
            for (index, element) in list.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(out, element);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_json(out, &map[key]);
            }
            out.push('}');
        }
    }
}

/// Go's JSON text of a float64: shortest digits, exponent form below 1e-6
/// or from 1e21 up (`1e-7`, `1e+21`).
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => text,
        }
    } else {
        format!("{f}")
    }
}

/// A JSON string as Go's encoder writes it with HTML escaping on.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Every expected suffix below is what `kubectl kustomize` (kustomize
    // v5.5.0) appended for a generator producing the same object.

    #[test]
    fn empty_config_map() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty"}});
        assert_eq!(
            hash_input(&cm).unwrap(),
            r#"{"data":"","kind":"ConfigMap","name":""}"#
        );
        assert_eq!(suffix(&cm).unwrap(), "6ct58987ht");
    }

    #[test]
    fn name_labels_and_namespace_do_not_count() {
        let a = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"new": "2"}});
        let b = json!({"kind": "ConfigMap", "metadata": {"name": "p-b", "namespace": "x",
            "labels": {"l": "1"}}, "data": {"new": "2"}});
        assert_eq!(suffix(&a).unwrap(), "g588d7kf6d");
        assert_eq!(suffix(&b).unwrap(), "g588d7kf6d");
    }

    #[test]
    fn escapes_follow_go() {
        let cm = json!({"kind": "ConfigMap", "data": {
            "x": "<&>\u{2028}é\u{8}\u{c}\u{1}\t", "a/b": "x\n", "a b": "1"}});
        assert_eq!(
            hash_input(&cm).unwrap(),
            r#"{"data":{"a b":"1","a/b":"x\n","x":"\u003c\u0026\u003e\u2028é\b\f\u0001\t"},"kind":"ConfigMap","name":""}"#
        );
        assert_eq!(suffix(&cm).unwrap(), "ftt8tmbm4b");
    }

    #[test]
    fn binary_data_counts_when_present() {
        let cm = json!({"kind": "ConfigMap", "data": {"a": "1", "b": "3", "c": "4"}});
        assert_eq!(suffix(&cm).unwrap(), "fbcmkbc66h");
        let cm = json!({"kind": "ConfigMap", "binaryData": {"b.bin": "/".repeat(70) + "\n" + &"/".repeat(10) + "\n"}});
        assert_eq!(suffix(&cm).unwrap(), "k59g4dtc6t");
    }

    #[test]
    fn secrets_hash_their_type() {
        let s = json!({"kind": "Secret", "type": "Opaque", "data": {}});
        assert_eq!(
            hash_input(&s).unwrap(),
            r#"{"data":{},"kind":"Secret","name":"","type":"Opaque"}"#
        );
        assert_eq!(suffix(&s).unwrap(), "46f8b28mk5");
        let tls = json!({"kind": "Secret", "type": "kubernetes.io/tls", "data": {}});
        assert_eq!(suffix(&tls).unwrap(), "694464d966");
        // A merge that leaves no data removes the field: `"data":""`.
        let merged = json!({"kind": "Secret", "type": "Opaque"});
        assert_eq!(suffix(&merged).unwrap(), "8226t8dd99");
    }

    #[test]
    fn patched_values_keep_their_json_type() {
        // JSON patches added a number, a float and a boolean to the data,
        // and `stringData` to the Secret.
        let cm = json!({"kind": "ConfigMap", "data": {"a": "1", "n": 5, "f": 1.5, "t": true}});
        assert_eq!(suffix(&cm).unwrap(), "c7m9592hbh");
        let s = json!({"kind": "Secret", "type": "Opaque", "data": {"a": "MQ=="},
            "stringData": {"x": "y"}});
        assert_eq!(suffix(&s).unwrap(), "mkt5c64b95");
    }

    #[test]
    fn other_kinds_have_no_suffix() {
        assert_eq!(suffix(&json!({"kind": "Deployment"})), None);
    }

    #[test]
    fn go_numbers() {
        assert_eq!(go_float(5.0), "5");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e-7), "1e-7");
        assert_eq!(go_float(0.0), "0");
    }
}
