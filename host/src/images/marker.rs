//! Image policy markers: `# {"$imagepolicy": "NAMESPACE:NAME[:FIELD]"}` at
//! the end of a YAML line, and the value each one points at.
//!
//! A marker is the comment ending a `key: value` or `- value` line whose
//! text contains the literal `"$imagepolicy"`. A comment-only line, a line
//! inside a block scalar (`|`, `>`), and `#` inside a quoted value are never
//! markers; see the line scan in `yaml_lines.rs`.

use std::fmt;
use std::ops::Range;

use super::yaml_lines::{Scanner, Slot};

/// The text every marker contains. Files without it have no marker, so the
/// setters skip them without parsing.
pub const MARKER_LITERAL: &str = "\"$imagepolicy\"";

/// Which part of the image a marker sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `NS:NAME`: the whole reference, `name:tag` or `name:tag@digest`.
    Full,
    /// `NS:NAME:tag`: only the tag (kustomize `newTag`, Helm `tag`).
    Tag,
    /// `NS:NAME:name`: only the repository name (kustomize `newName`).
    Name,
    /// `NS:NAME:digest`: only the digest, `sha256:…` (kustomize `digest`).
    Digest,
}

impl Field {
    /// The suffix in the marker (`tag`, `name`, `digest`), none for [`Field::Full`].
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Field::Full => None,
            Field::Tag => Some("tag"),
            Field::Name => Some("name"),
            Field::Digest => Some("digest"),
        }
    }
}

/// How a scalar value is written; a setter keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// `value`
    Plain,
    /// `'value'`
    Single,
    /// `"value"`
    Double,
}

/// A parsed marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The image policy, `NAMESPACE:NAME`.
    pub policy: String,
    /// What the marker sets.
    pub field: Field,
}

impl Marker {
    /// Parse a comment's text (after the `#`). The marker must start the
    /// comment; text after the JSON object is allowed (a note for humans).
    /// Spacing inside the object is free: `{"$imagepolicy":"ns:name"}`.
    pub fn parse(comment: &str) -> Result<Self, String> {
        const FORM: &str = r#"expected # {"$imagepolicy": "NAMESPACE:NAME[:tag|:name|:digest]"}"#;
        let body = comment.trim_start();
        if !body.starts_with('{') {
            return Err(format!("the marker must start the comment; {FORM}"));
        }
        let value = match serde_json::Deserializer::from_str(body)
            .into_iter::<serde_json::Value>()
            .next()
        {
            Some(Ok(value)) => value,
            Some(Err(err)) => return Err(format!("not JSON ({err}); {FORM}")),
            None => return Err(FORM.to_owned()),
        };
        let spec = value
            .get("$imagepolicy")
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("\"$imagepolicy\" must be a string; {FORM}"))?;
        let parts: Vec<&str> = spec.split(':').collect();
        let (namespace, name, field) = match parts[..] {
            [namespace, name] => (namespace, name, Field::Full),
            [namespace, name, "tag"] => (namespace, name, Field::Tag),
            [namespace, name, "name"] => (namespace, name, Field::Name),
            [namespace, name, "digest"] => (namespace, name, Field::Digest),
            [_, _, other] => {
                return Err(format!(
                    "unknown field {other:?} in {spec:?}: use tag, name or digest"
                ))
            }
            _ => return Err(format!("{spec:?}: {FORM}")),
        };
        for (what, part) in [("namespace", namespace), ("name", name)] {
            if !is_kubernetes_name(part) {
                return Err(format!(
                    "{spec:?}: {what} {part:?} is not a Kubernetes name (lowercase letters, digits, '-', '.')"
                ));
            }
        }
        Ok(Self {
            policy: format!("{namespace}:{name}"),
            field,
        })
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.policy)?;
        if let Some(suffix) = self.field.suffix() {
            write!(f, ":{suffix}")?;
        }
        Ok(())
    }
}

/// A DNS-1123 subdomain: `[a-z0-9]([-a-z0-9.]*[a-z0-9])?`, at most 253.
fn is_kubernetes_name(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 253
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter().all(|&c| edge(c) || c == b'-' || c == b'.')
}

/// The value a marker points at: byte offsets into the whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSlot {
    /// The value's content bytes (inside the quotes, if quoted).
    pub range: Range<usize>,
    /// How the value is written.
    pub quoting: Quoting,
}

/// A marker found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMarker {
    /// 1-based line.
    pub line: usize,
    /// The marker, or why it is malformed.
    pub marker: Result<Marker, String>,
    /// The one-line scalar it sets, or why its value cannot be set in place
    /// (a block scalar, a flow collection, an empty value, …).
    pub slot: Result<ValueSlot, &'static str>,
}

/// Every marker in `text`, in order. Lines may end in `\n` or `\r\n`; a
/// leading byte-order mark is skipped.
pub fn find_markers(text: &str) -> Vec<FoundMarker> {
    let mut scanner = Scanner::new();
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let mut line = raw.strip_suffix('\n').unwrap_or(raw);
        line = line.strip_suffix('\r').unwrap_or(line);
        let mut start = offset;
        if index == 0 {
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                start += '\u{feff}'.len_utf8();
                line = rest;
            }
        }
        offset += raw.len();
        let Some(commented) = scanner.line(line) else {
            continue;
        };
        let comment = &line[commented.comment];
        if !comment.contains(MARKER_LITERAL) {
            continue;
        }
        found.push(FoundMarker {
            line: index + 1,
            marker: Marker::parse(comment),
            slot: match commented.slot {
                Slot::Scalar { range, quoting } => Ok(ValueSlot {
                    range: start + range.start..start + range.end,
                    quoting,
                }),
                Slot::Unsupported(why) => Err(why),
            },
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_with_any_spacing() {
        for (comment, policy, field) in [
            (
                r#" {"$imagepolicy": "flux-system:frontend"}"#,
                "flux-system:frontend",
                Field::Full,
            ),
            (r#"{"$imagepolicy":"a:b:tag"}"#, "a:b", Field::Tag),
            (
                r#"  { "$imagepolicy" :  "a:b:name" }  "#,
                "a:b",
                Field::Name,
            ),
            (
                r#" {"$imagepolicy": "a:b.c:digest"} # pinned by hand"#,
                "a:b.c",
                Field::Digest,
            ),
        ] {
            let m = Marker::parse(comment).unwrap();
            assert_eq!((m.policy.as_str(), m.field), (policy, field), "{comment}");
        }
        assert_eq!(
            Marker::parse(r#"{"$imagepolicy":"a:b:tag"}"#)
                .unwrap()
                .to_string(),
            "a:b:tag"
        );
    }

    #[test]
    fn malformed_markers_say_why() {
        for (comment, expected) in [
            (r#" {"$imagepolicy": "a:b""#, "not JSON"),
            (r#" {"$imagepolicy": 3}"#, "must be a string"),
            (r#" {"$imagepolicy": "ab"}"#, "expected"),
            (
                r#" {"$imagepolicy": "a:b:version"}"#,
                "unknown field \"version\"",
            ),
            (r#" {"$imagepolicy": "a:B"}"#, "not a Kubernetes name"),
            (r#" see {"$imagepolicy": "a:b"}"#, "must start the comment"),
        ] {
            let err = Marker::parse(comment).unwrap_err();
            assert!(err.contains(expected), "{comment}: {err}");
        }
    }

    #[test]
    fn slots_are_offsets_into_the_whole_text() {
        let text = "\u{feff}a: 1\r\nimage: 'x:1' # {\"$imagepolicy\": \"a:b\"}\r\n# c: d # {\"$imagepolicy\": \"a:b\"}\n";
        let found = find_markers(text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 2);
        let slot = found[0].slot.clone().unwrap();
        assert_eq!(&text[slot.range], "x:1");
        assert_eq!(slot.quoting, Quoting::Single);
    }
}
