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
//!
//! While it builds, the parser also learns whether each text is exactly what
//! serde_json writes for its value ([`Parsed::compact`]), so a mutator's
//! changed objects need not be read again to tell a change from a text that
//! was only written differently. It adds up, token by token, the length
//! serde_json would write: no token can be written shorter than serde_json
//! writes it, and whitespace only adds, so a text of exactly that length is
//! serde_json's text. That holds where the shortest form of a token is the
//! only one, which leaves out floats (`1.5` and `15e-1`), duplicate keys
//! (serde_json keeps one) and control characters that have no two-byte escape
//! (`\u001f` and `\u001F`): a text with any of these counts as not compact,
//! which is always safe (the caller then compares values). Scanning each
//! changed text again for the answer cost more: a call over 1,000 changed
//! Deployments is 2-9% faster this way (docs/PERFORMANCE.md).

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Entries and items of the maps and arrays being parsed, innermost last,
/// reused from one object to the next; and what the text parsed so far
/// tells of its form.
pub(crate) struct Stack {
    entries: Vec<(String, Value)>,
    items: Vec<Value>,
    /// Bytes serde_json writes for the tokens parsed so far.
    written: usize,
    /// No token so far has a form of serde_json's length other than its own.
    exact: bool,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            entries: Vec::new(),
            items: Vec::new(),
            written: 0,
            exact: true,
        }
    }
}

/// The objects of a call, parsed.
pub(crate) struct Parsed {
    /// The values, in the order of the texts.
    pub(crate) values: Vec<Value>,
    /// For each text, whether it is exactly what serde_json writes for its
    /// value. `false` can also mean "not known" (see the module doc).
    pub(crate) compact: Vec<bool>,
}

/// Parses the objects of a call; errors name the position of the bad one.
pub(crate) fn objects(texts: &[String]) -> Result<Parsed, String> {
    let mut stack = Stack::default();
    let mut parsed = Parsed {
        values: Vec::with_capacity(texts.len()),
        compact: Vec::with_capacity(texts.len()),
    };
    for (i, text) in texts.iter().enumerate() {
        let (value, compact) =
            value(text, &mut stack).map_err(|e| format!("object {i} is not valid JSON: {e}"))?;
        parsed.values.push(value);
        parsed.compact.push(compact);
    }
    Ok(parsed)
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

/// Parses one JSON text, and tells whether it is serde_json's compact form
/// (`false` when not known); the error is serde_json's.
pub(crate) fn value(text: &str, stack: &mut Stack) -> Result<(Value, bool), serde_json::Error> {
    stack.written = 0;
    stack.exact = true;
    let mut parser = serde_json::Deserializer::from_str(text);
    let value = Build(&mut *stack)
        .deserialize(&mut parser)
        .inspect_err(|_| {
            // What the maps and arrays left open had collected.
            stack.entries.clear();
            stack.items.clear();
        })?;
    parser.end()?;
    Ok((value, stack.exact && stack.written == text.len()))
}

impl Stack {
    /// Counts a string that came with escapes (`decoded` is its value) as
    /// serde_json writes it: `"`, `\\` and the control characters with a
    /// two-byte escape take two bytes, the rest as they are. Any other control
    /// character leaves the text's form unknown: serde_json writes it as
    /// `\u001f`, which another text may write as `\u001F`.
    fn escaped(&mut self, decoded: &str) {
        let mut written = 2 + decoded.len();
        for &byte in decoded.as_bytes() {
            match byte {
                b'"' | b'\\' | b'\x08' | b'\t' | b'\n' | b'\x0c' | b'\r' => written += 1,
                0..=0x1f => self.exact = false,
                _ => {}
            }
        }
        self.written += written;
    }

    /// Counts an integer: its digits and sign, the only way JSON writes it.
    fn integer(&mut self, magnitude: u64, negative: bool) {
        self.written +=
            usize::from(negative) + magnitude.checked_ilog10().unwrap_or(0) as usize + 1;
    }
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
        self.0.written += if v { 4 } else { 5 };
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        self.0.integer(v.unsigned_abs(), v < 0);
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        self.0.integer(v, false);
        Ok(Value::Number(v.into()))
    }

    /// As serde_json: a number no `f64` holds is `null`.
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        self.0.exact = false;
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    /// serde_json hands out a string as it lies in the text when it has no
    /// escapes (JSON allows no raw control character, `"` or `\\` in a
    /// string), so it is written back as it came.
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value, E> {
        self.0.written += v.len() + 2;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        self.0.escaped(v);
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        self.0.written += 4;
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let start = self.0.items.len();
        while let Some(item) = seq.next_element_seed(Build(&mut *self.0))? {
            self.0.items.push(item);
        }
        let len = self.0.items.len() - start;
        // Brackets and commas.
        self.0.written += 2 + len.saturating_sub(1);
        // `collect` from a drain allocates exactly once, at the final size.
        Ok(Value::Array(self.0.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.0.entries.len();
        // A key is built (and counted) as a string value.
        while let Some(key) = map.next_key_seed(Build(&mut *self.0))? {
            let Value::String(key) = key else {
                return Err(de::Error::custom("a key that is not a string"));
            };
            let value = map.next_value_seed(Build(&mut *self.0))?;
            self.0.entries.push((key, value));
        }
        let len = self.0.entries.len() - start;
        // Braces, colons and commas.
        self.0.written += 2 + len + len.saturating_sub(1);
        let mut object = Map::with_capacity(len);
        for (key, value) in self.0.entries.drain(start..) {
            object.insert(key, value);
        }
        // A key given twice: serde_json writes it once.
        if object.len() != len {
            self.0.exact = false;
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
        let ours = value(text, &mut stack)
            .map(|(value, _)| value)
            .map_err(|e| e.to_string());
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
            (serde_json::json!({"x": [true]}), true)
        );
    }

    /// Whether `text` parses as compact, checked against what serde_json
    /// writes for the value: compact means written back byte for byte.
    fn judged(text: &str) -> bool {
        let (parsed, compact) = value(text, &mut Stack::default()).unwrap();
        if compact {
            assert_eq!(parsed.to_string(), text, "judged compact");
        }
        compact
    }

    #[test]
    fn text_serde_json_writes_is_judged_compact() {
        for text in [
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","ports":[{"containerPort":8080}]}]}}}}"#,
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e f"},"g":-12,"h":[],"i":{}}"#,
            r#"{"s":"quote \" backslash \\ tab \t nl \n \b\f\r","u":"é ☃ 😀","slash":"/"}"#,
            r#"[0,9,10,99,100,18446744073709551615,-1,-9,-10,-9223372036854775808]"#,
            r#""""#,
            "[]",
            "{}",
            "null",
        ] {
            assert!(judged(text), "{text}");
        }
        // Every object the plugins' benches and suites might see, as the host
        // writes it.
        let written = serde_json::json!({"data": {"nginx.conf": "server {\n\tlisten 80;\n}\n", "quote": "say \"hi\""}}).to_string();
        assert!(judged(&written), "{written}");
    }

    #[test]
    fn text_serde_json_would_write_otherwise_is_not() {
        for text in [
            r#"{"a": 1}"#,
            " {\"a\":1}",
            "{\"a\":1}\n",
            r#"[1 ,2]"#,
            r#"{"a":1.0}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"\u0061":1}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u000a"}"#,
            r#"{"a":123456789012345678901234}"#,
            // serde_json writes one of the two.
            r#"{"a":1,"a":2}"#,
            // Six-byte escapes: serde_json writes lower case, so either
            // might be another text's; not judged.
            r#"{"a":"\u001f"}"#,
            r#"{"a":"\u001F"}"#,
        ] {
            assert!(!judged(text), "{text}");
        }
    }

    #[test]
    fn any_space_added_to_compact_text_is_seen() {
        let text = r#"{"kind":"Service","metadata":{"name":"a b","labels":{"x":"1"}},"spec":{"ports":[{"port":80},{"port":443}],"flag":true}}"#;
        assert!(judged(text));
        for at in 0..=text.len() {
            let spaced = format!("{} {}", &text[..at], &text[at..]);
            if let Ok((value, compact)) = value(&spaced, &mut Stack::default()) {
                // Inside a string the space changes the value, not the form.
                let written = value.to_string();
                assert_eq!(compact, written == spaced, "{spaced}");
            }
        }
    }
}
