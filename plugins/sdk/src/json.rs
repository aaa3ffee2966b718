//! Read and write JSON fields by path.
//!
//! A path is what a Kubernetes user writes and what rekon shows in violations:
//! keys separated by `.`, list positions as `[i]`, and keys that contain `.`, `[`,
//! `]`, `"` or nothing at all in brackets and double quotes:
//!
//! ```text
//! spec.template.spec.containers[0].image
//! metadata.annotations["traefik.ingress.kubernetes.io/router.priority"]
//! ```
//!
//! Inside `["..."]` a `\"` is a quote and `\\` a backslash. The empty path (`""`)
//! is the value itself.
//!
//! ```
//! use rekon_plugin_sdk::json;
//! use serde_json::json;
//!
//! let mut deployment = json!({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}});
//! assert_eq!(
//!     json::get(&deployment, "spec.template.spec.containers[0].name"),
//!     Some(&json!("web"))
//! );
//! json::set(&mut deployment, "metadata.labels.team", json!("web")).unwrap();
//! assert_eq!(deployment["metadata"]["labels"]["team"], "web");
//! ```

use serde_json::{Map, Value};
use std::fmt;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A key of a JSON object.
    Key(String),
    /// A position in a JSON array (0-based).
    Index(usize),
}

/// A parsed field path such as `spec.template.spec.containers[0].image`.
///
/// Build one with [`FieldPath::parse`] or step by step with [`FieldPath::key`] and
/// [`FieldPath::index`]; its `Display` is the path text (what violation paths use).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

impl FieldPath {
    /// The empty path: the value itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses path text (see the [module docs](self) for the syntax).
    pub fn parse(text: &str) -> Result<Self, String> {
        Parser { text, pos: 0 }
            .parse()
            .map(|segments| Self { segments })
            .map_err(|e| format!("invalid field path `{text}`: {e}"))
    }

    /// This path followed by object key `key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.segments.push(Segment::Key(key.into()));
        self
    }

    /// This path followed by array position `index`.
    pub fn index(mut self, index: usize) -> Self {
        self.segments.push(Segment::Index(index));
        self
    }

    /// This path followed by all segments of `other`.
    pub fn join(mut self, other: &FieldPath) -> Self {
        self.segments.extend(other.segments.iter().cloned());
        self
    }

    /// The segments, first to last.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is the empty path.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The value at this path in `value`, if every step exists.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(value, |current, segment| match segment {
                Segment::Key(key) => current.as_object()?.get(key),
                Segment::Index(i) => current.as_array()?.get(*i),
            })
    }

    /// The value at this path in `value`, mutable, if every step exists.
    pub fn get_mut<'a>(&self, value: &'a mut Value) -> Option<&'a mut Value> {
        self.segments
            .iter()
            .try_fold(value, |current, segment| match segment {
                Segment::Key(key) => current.as_object_mut()?.get_mut(key),
                Segment::Index(i) => current.as_array_mut()?.get_mut(*i),
            })
    }

    /// Sets the value at this path, creating missing objects on the way (a `null`
    /// on the way counts as missing), and returns the value it replaced.
    ///
    /// Fails, changing nothing, when a step meets a value of the wrong type
    /// (a key into a string, an index into an object) or an index past the end of
    /// an array: arrays are never grown, since the elements before a new position
    /// would have to be invented. Setting the root replaces `value` itself.
    pub fn set(&self, value: &mut Value, new: Value) -> Result<Option<Value>, String> {
        // Check the whole way first so a failing call leaves `value` untouched.
        self.check_settable(value)?;
        let mut current = value;
        for (i, segment) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            match segment {
                Segment::Key(key) => {
                    if current.is_null() {
                        *current = Value::Object(Map::new());
                    }
                    let map = current.as_object_mut().expect("checked above");
                    if last {
                        return Ok(map.insert(key.clone(), new));
                    }
                    current = map.entry(key.clone()).or_insert(Value::Null);
                }
                Segment::Index(index) => {
                    let list = current.as_array_mut().expect("checked above");
                    if last {
                        return Ok(Some(std::mem::replace(&mut list[*index], new)));
                    }
                    current = &mut list[*index];
                }
            }
        }
        Ok(Some(std::mem::replace(current, new)))
    }

    /// Removes the value at this path and returns it; `None` when it was not there.
    /// Removing an array element shifts the later ones. The root cannot be removed.
    pub fn remove(&self, value: &mut Value) -> Option<Value> {
        let (last, parent) = self.segments.split_last()?;
        let parent = FieldPath {
            segments: parent.to_vec(),
        }
        .get_mut(value)?;
        match last {
            Segment::Key(key) => parent.as_object_mut()?.shift_remove(key),
            Segment::Index(i) => {
                let list = parent.as_array_mut()?;
                (*i < list.len()).then(|| list.remove(*i))
            }
        }
    }

    fn check_settable(&self, value: &Value) -> Result<(), String> {
        let mut current = Some(value);
        for (i, segment) in self.segments.iter().enumerate() {
            let at = FieldPath {
                segments: self.segments[..i].to_vec(),
            };
            let here = if at.is_root() {
                "the root".to_string()
            } else {
                format!("`{at}`")
            };
            current = match (segment, current) {
                // Everything below a missing step gets created.
                (Segment::Key(_), None | Some(Value::Null)) => None,
                (Segment::Key(key), Some(Value::Object(map))) => map.get(key),
                (Segment::Key(key), Some(other)) => {
                    return Err(format!(
                        "cannot set `{self}`: {here} is {}, not an object (key `{key}`)",
                        kind_of(other)
                    ))
                }
                (Segment::Index(index), Some(Value::Array(list))) => {
                    if *index >= list.len() {
                        return Err(format!(
                            "cannot set `{self}`: {here} has {} elements, no [{index}]",
                            list.len()
                        ));
                    }
                    list.get(*index)
                }
                (Segment::Index(index), other) => {
                    return Err(format!(
                        "cannot set `{self}`: {here} is {}, not a list (index [{index}])",
                        other.map_or("missing", kind_of)
                    ))
                }
            };
        }
        Ok(())
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) if is_plain_key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Key(key) => {
                    f.write_str("[\"")?;
                    for c in key.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"]")?;
                }
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

/// A key that can be written without brackets.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && !key.contains(['.', '[', ']', '"', '\\'])
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn parse(mut self) -> Result<Vec<Segment>, String> {
        let mut segments = Vec::new();
        let mut expect_key = true;
        while let Some(c) = self.peek() {
            match c {
                '[' => {
                    segments.push(self.bracket()?);
                    expect_key = false;
                }
                '.' if !expect_key => {
                    self.pos += 1;
                    expect_key = true;
                    if self.peek().is_none() {
                        return Err("ends with `.`".into());
                    }
                    if self.peek() == Some('[') {
                        return Err(format!("`.` before `[` at {}", self.pos));
                    }
                }
                _ if expect_key => {
                    let start = self.pos;
                    while let Some(c) = self.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        if c == ']' || c == '"' {
                            return Err(format!("unexpected `{c}` at {}", self.pos));
                        }
                        self.pos += c.len_utf8();
                    }
                    if self.pos == start {
                        return Err(format!("empty key at {start}"));
                    }
                    segments.push(Segment::Key(self.text[start..self.pos].to_string()));
                    expect_key = false;
                }
                _ => return Err(format!("expected `.` or `[` at {}", self.pos)),
            }
        }
        Ok(segments)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// `[3]` or `["key"]`, starting at the `[`.
    fn bracket(&mut self) -> Result<Segment, String> {
        let open = self.pos;
        self.pos += 1;
        if self.peek() == Some('"') {
            self.pos += 1;
            let mut key = String::new();
            loop {
                match self.peek() {
                    None => return Err(format!("unterminated `[\"` at {open}")),
                    Some('\\') => {
                        self.pos += 1;
                        match self.peek() {
                            Some(c @ ('"' | '\\')) => {
                                key.push(c);
                                self.pos += 1;
                            }
                            _ => return Err(format!("bad escape at {}", self.pos)),
                        }
                    }
                    Some('"') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        key.push(c);
                        self.pos += c.len_utf8();
                    }
                }
            }
            if self.peek() != Some(']') {
                return Err(format!("expected `]` at {}", self.pos));
            }
            self.pos += 1;
            return Ok(Segment::Key(key));
        }
        let start = self.pos;
        while matches!(self.peek(), Some('0'..='9')) {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.is_empty() || self.peek() != Some(']') {
            return Err(format!(
                "expected a number or a quoted key after `[` at {open}"
            ));
        }
        self.pos += 1;
        digits
            .parse()
            .map(Segment::Index)
            .map_err(|_| format!("index `{digits}` is too large"))
    }
}

/// The value at `path` in `value`; `None` when a step is missing or `path` is
/// not a valid path.
pub fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    FieldPath::parse(path).ok()?.get(value)
}

/// The value at `path` in `value`, mutable; `None` when a step is missing or
/// `path` is not a valid path.
pub fn get_mut<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    FieldPath::parse(path).ok()?.get_mut(value)
}

/// The string at `path`, if there is one.
pub fn get_str<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    get(value, path)?.as_str()
}

/// Sets the value at `path` (see [`FieldPath::set`]) and returns the value it
/// replaced. Errors name the path and the step that failed.
pub fn set(value: &mut Value, path: &str, new: Value) -> Result<Option<Value>, String> {
    FieldPath::parse(path)?.set(value, new)
}

/// Removes the value at `path` (see [`FieldPath::remove`]).
pub fn remove(value: &mut Value, path: &str) -> Option<Value> {
    FieldPath::parse(path).ok()?.remove(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_prints_paths() {
        for text in [
            "",
            "spec",
            "spec.template.spec.containers[0].image",
            "items[2][3]",
            "[1].a",
            r#"metadata.annotations["traefik.ingress.kubernetes.io/router.priority"]"#,
            r#"a["with \"quote\" and \\"]"#,
            r#"a[""]"#,
        ] {
            let path = FieldPath::parse(text).unwrap();
            assert_eq!(path.to_string(), text);
        }
        assert_eq!(
            FieldPath::parse(r#"a["b"].c"#).unwrap().to_string(),
            "a.b.c",
            "plain keys print without brackets"
        );
    }

    #[test]
    fn rejects_bad_paths() {
        for text in [
            "a.", ".a", "a..b", "a[", "a[x]", "a[1", "a.[0]", r#"a["b"#, "a]b", "a[-1]",
        ] {
            assert!(FieldPath::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn builds_paths() {
        let path = FieldPath::root()
            .key("spec")
            .key("containers")
            .index(1)
            .key("a.b");
        assert_eq!(path.to_string(), r#"spec.containers[1]["a.b"]"#);
        assert_eq!(FieldPath::parse(&path.to_string()).unwrap(), path);
    }

    #[test]
    fn gets() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}, "d.e": true});
        assert_eq!(get(&v, "a.b[1].c"), Some(&json!("x")));
        assert_eq!(get_str(&v, "a.b[1].c"), Some("x"));
        assert_eq!(get(&v, r#"["d.e"]"#), Some(&json!(true)));
        assert_eq!(get(&v, "a.b[2]"), None);
        assert_eq!(get(&v, "a.b.c"), None);
        assert_eq!(get(&v, "a..b"), None);
        assert_eq!(get(&v, ""), Some(&v));
    }

    #[test]
    fn sets_creating_objects() {
        let mut v = json!({"a": {"b": [1, {"c": "x"}]}, "n": null});
        assert_eq!(
            set(&mut v, "a.b[1].c", json!("y")).unwrap(),
            Some(json!("x"))
        );
        assert_eq!(set(&mut v, "x.y.z", json!(1)).unwrap(), None);
        assert_eq!(set(&mut v, "n.m", json!(2)).unwrap(), None);
        assert_eq!(
            v,
            json!({"a": {"b": [1, {"c": "y"}]}, "n": {"m": 2}, "x": {"y": {"z": 1}}})
        );
    }

    #[test]
    fn failed_set_changes_nothing() {
        let mut v = json!({"a": {"b": [1]}, "s": "text"});
        let before = v.clone();
        let e = set(&mut v, "a.b[3]", json!(0)).unwrap_err();
        assert_eq!(e, "cannot set `a.b[3]`: `a.b` has 1 elements, no [3]");
        let e = set(&mut v, "s.x", json!(0)).unwrap_err();
        assert_eq!(
            e,
            "cannot set `s.x`: `s` is a string, not an object (key `x`)"
        );
        let e = set(&mut v, "q[0]", json!(0)).unwrap_err();
        assert_eq!(
            e,
            "cannot set `q[0]`: `q` is missing, not a list (index [0])"
        );
        assert_eq!(v, before);
    }

    #[test]
    fn removes() {
        let mut v = json!({"a": {"b": [1, 2, 3], "c": 1}});
        assert_eq!(remove(&mut v, "a.b[1]"), Some(json!(2)));
        assert_eq!(remove(&mut v, "a.c"), Some(json!(1)));
        assert_eq!(remove(&mut v, "a.zz"), None);
        assert_eq!(remove(&mut v, ""), None);
        assert_eq!(v, json!({"a": {"b": [1, 3]}}));
    }
}
