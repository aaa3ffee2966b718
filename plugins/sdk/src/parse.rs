//! Parsing the objects of a call into [`serde_json::Value`]s that take no
//! more memory than they need.
//!
//! rekon runs every call in a fresh instance, so each byte a call touches is
//! a page the kernel faults in and zeroes, and with the SDK's
//! [`Bump`](crate::alloc::Bump) allocator nothing freed is used again.
//! serde_json's own `Value` parser starts each JSON object as an empty map
//! and grows it entry by entry: on wasm32 an entry of a `preserve_order` map
//! takes 64 bytes and the first growth already holds three, so the many
//! one- and two-key maps of a Kubernetes object (`labels`, `selector`,
//! `resources.limits`, ...) carry unused room, and a map that outgrows it
//! leaves the old block behind. This parser collects the entries of a map (the
//! items of an array) on a stack shared by the whole call and builds each map
//! or array at its final size. A call over 1,000 Deployments grows its memory
//! by about 2 MiB less (of 7) and takes 12-17% less time (docs/PERFORMANCE.md).
//!
//! The result is the value serde_json builds, with keys in the same order
//! (a key given twice keeps its first place and its last value, as
//! `Map::insert` does), numbers and the nesting limit the same: the JSON is
//! read by serde_json's own deserializer; only the building is done here.
//!
//! For the same reason the SDK [`leave`]s the parsed objects at the end of a
//! call rather than dropping them.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Entries and items of the maps and arrays being parsed, innermost last;
/// reused from one object to the next.
#[derive(Default)]
pub(crate) struct Stack {
    entries: Vec<(String, Value)>,
    items: Vec<Value>,
}

/// Parses the objects of a call; errors name the position of the bad one.
pub(crate) fn objects(texts: &[String]) -> Result<Vec<Value>, String> {
    let mut stack = Stack::default();
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            value(text, &mut stack).map_err(|e| format!("object {i} is not valid JSON: {e}"))
        })
        .collect()
}

/// Leaves `values` to the end of the instance instead of dropping them: the
/// host runs every call in a fresh instance and throws it away afterwards,
/// so walking every parsed object to free it (with [`Bump`](crate::alloc::Bump),
/// to free nothing) is time spent for nothing. Natively (tests) they are
/// dropped as usual.
pub(crate) fn leave<T>(values: T) {
    #[cfg(target_arch = "wasm32")]
    std::mem::forget(values);
    #[cfg(not(target_arch = "wasm32"))]
    drop(values);
}

/// Parses one JSON text; the error is serde_json's.
pub(crate) fn value(text: &str, stack: &mut Stack) -> Result<Value, serde_json::Error> {
    let mut parser = serde_json::Deserializer::from_str(text);
    let value = Build(&mut *stack)
        .deserialize(&mut parser)
        .inspect_err(|_| {
            // What the maps and arrays left open had collected.
            stack.entries.clear();
            stack.items.clear();
        })?;
    parser.end()?;
    Ok(value)
}

/// Builds one value, leaving `stack` as it found it.
struct Build<'s>(&'s mut Stack);

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, parser: D) -> Result<Value, D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    /// As serde_json: a number no `f64` holds is `null`.
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let start = self.0.items.len();
        while let Some(item) = seq.next_element_seed(Build(&mut *self.0))? {
            self.0.items.push(item);
        }
        // `collect` from a drain allocates exactly once, at the final size.
        Ok(Value::Array(self.0.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.0.entries.len();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Build(&mut *self.0))?;
            self.0.entries.push((key, value));
        }
        let mut object = Map::with_capacity(self.0.entries.len() - start);
        for (key, value) in self.0.entries.drain(start..) {
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same value and same key order as serde_json, or the same error.
    fn same_as_serde_json(text: &str) {
        let mut stack = Stack::default();
        let ours = value(text, &mut stack).map_err(|e| e.to_string());
        let theirs = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
        assert_eq!(ours, theirs, "{text}");
        if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
            // Equality of maps ignores order; the written text does not.
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
        assert!(stack.entries.is_empty() && stack.items.is_empty(), "{text}");
    }

    #[test]
    fn builds_what_serde_json_builds() {
        for text in [
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"template":{"spec":{"containers":[{"name":"web","ports":[{"containerPort":8080}]}]}}}}"#,
            r#"{"z":1,"a":2,"m":{"y":[],"b":{}}}"#,
            // A key given twice: first place, last value.
            r#"{"a":1,"b":2,"a":3}"#,
            r#"[1,-1,0,-0,18446744073709551615,-9223372036854775808,1.5,1e300,1e400,-0.0,2.50]"#,
            r#"["\u00e9\ud83d\ude00","tab\tquote\"slash\\/",""]"#,
            r#"[[[[]]],[{}],[null,true,false]]"#,
            " { \"spaced\" : [ 1 , 2 ] } ",
            "null",
            "\"just a string\"",
            // Errors: serde_json's message and position.
            r#"{"a":1"#,
            r#"{"a":1} trailing"#,
            r#"{"a":}"#,
            r#"[1,]"#,
            "",
        ] {
            same_as_serde_json(text);
        }
    }

    #[test]
    fn keeps_serde_jsons_nesting_limit() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        same_as_serde_json(&deep);
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        same_as_serde_json(&fine);
    }

    #[test]
    fn the_stack_is_left_empty_after_an_error() {
        let mut stack = Stack::default();
        value(r#"{"a":[1,2,3],"b":{"c":4}}"#, &mut stack).unwrap();
        assert!(value(r#"{"a":[1,2,{"b":true,"c":"#, &mut stack).is_err());
        assert!(stack.entries.is_empty() && stack.items.is_empty());
        assert_eq!(
            value(r#"{"x":[true]}"#, &mut stack).unwrap(),
            serde_json::json!({"x": [true]})
        );
    }
}
