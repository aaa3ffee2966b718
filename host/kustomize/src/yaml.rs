//! YAML in and out.
//!
//! A multi-document file is split at its `---` markers before parsing, so each
//! document knows the line it starts on (for [`crate::Origin`]) and parser
//! errors can be reported with the line in the whole file. Splitting at a
//! column-0 `---` is exact: YAML forbids document markers inside content.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as YamlValue;

use crate::Error;

/// One document's text and where it sits in the file.
struct Chunk<'a> {
    text: &'a str,
    /// 1-based line of the chunk's first line in the file.
    first_line: usize,
    /// Columns taken on the first line by the `---` marker before `text`.
    first_column_offset: usize,
}

/// Parses every document of a multi-document YAML text into JSON values,
/// each with the 1-based line where its content starts. Empty documents are
/// skipped; `<<` merge keys are applied; YAML tags are dropped.
pub fn parse_yaml_documents(text: &str, file: &Path) -> Result<Vec<(Value, usize)>, Error> {
    let mut documents = Vec::new();
    for chunk in split(text.strip_prefix('\u{feff}').unwrap_or(text)) {
        let Some(start) = content_start(&chunk) else {
            continue;
        };
        let mut value: YamlValue = serde_yaml_ng::from_str(chunk.text)
            .map_err(|err| yaml_error(&err, file, &chunk, start))?;
        value
            .apply_merge()
            .map_err(|err| yaml_error(&err, file, &chunk, start))?;
        let json = to_json(value).map_err(|message| Error::Yaml {
            file: file.to_path_buf(),
            line: start,
            column: 1,
            message,
        })?;
        if !json.is_null() {
            documents.push((json, start));
        }
    }
    Ok(documents)
}

/// Renders objects as one multi-document YAML text, documents separated by
/// `---` lines, keys in the objects' own order.
pub fn to_yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|object| {
            serde_yaml_ng::to_string(object).expect("a JSON value always serializes to YAML")
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut first_column_offset = 0;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        if is_marker(line, "---") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line,
                first_column_offset,
            });
            // The rest of the marker line belongs to the new document.
            start = offset + 3;
            first_line = line_no;
            first_column_offset = 3;
        } else if is_marker(line, "...") {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line,
                first_column_offset,
            });
            start = offset + line.len();
            first_line = line_no + 1;
            first_column_offset = 0;
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: &text[start..],
        first_line,
        first_column_offset,
    });
    chunks
}

/// The file line of the chunk's first content (not blank, not a comment).
fn content_start(chunk: &Chunk<'_>) -> Option<usize> {
    chunk.text.lines().enumerate().find_map(|(index, line)| {
        let trimmed = line.trim();
        (!trimmed.is_empty() && !trimmed.starts_with('#')).then_some(chunk.first_line + index)
    })
}

static MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"line (\d+) column (\d+)").expect("valid regex"));

/// Rewrites the parser's chunk-relative positions into file positions.
fn yaml_error(err: &serde_yaml_ng::Error, file: &Path, chunk: &Chunk<'_>, start: usize) -> Error {
    let to_file = |line: usize, column: usize| {
        let column = if line == 1 {
            column + chunk.first_column_offset
        } else {
            column
        };
        (chunk.first_line + line - 1, column)
    };
    let (line, column) = match err.location() {
        Some(loc) => to_file(loc.line(), loc.column()),
        None => (start, 1),
    };
    let message = err.to_string();
    let message = MARK.replace_all(&message, |caps: &regex::Captures<'_>| {
        let (l, c) = to_file(caps[1].parse().unwrap_or(1), caps[2].parse().unwrap_or(1));
        format!("line {l} column {c}")
    });
    // The position is already in front of the message; don't repeat it.
    let own = format!(" at line {line} column {column}");
    let message = match message.strip_suffix(&own) {
        Some(stripped) => stripped.to_string(),
        None => message.replacen(&format!("{own},"), ",", 1),
    };
    Error::Yaml {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Converts a parsed YAML value to JSON. Keys that are numbers or booleans
/// become strings (as Go's YAML-to-JSON does for Kubernetes manifests).
fn to_json(value: YamlValue) -> Result<Value, String> {
    Ok(match value {
        YamlValue::Null => Value::Null,
        YamlValue::Bool(b) => Value::Bool(b),
        YamlValue::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(
                    Number::from_f64(f)
                        .ok_or_else(|| format!("{f} cannot be represented in JSON"))?,
                )
            }
        }
        YamlValue::String(s) => Value::String(s),
        YamlValue::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        YamlValue::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (key, value) in mapping {
                let key = match key {
                    YamlValue::String(s) => s,
                    YamlValue::Bool(b) => b.to_string(),
                    YamlValue::Number(n) => n.to_string(),
                    YamlValue::Null => "null".to_string(),
                    other => return Err(format!("mapping key {other:?} is not a scalar")),
                };
                map.insert(key, to_json(value)?);
            }
            Value::Object(map)
        }
        YamlValue::Tagged(tagged) => to_json(tagged.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Vec<(Value, usize)> {
        parse_yaml_documents(text, Path::new("f.yaml")).unwrap()
    }

    #[test]
    fn documents_carry_their_start_line() {
        let text = "# header\na: 1\n---\n\n# c\nb: 2\n--- \n---\nc: [1, 2]\n...\n";
        assert_eq!(
            parse(text),
            vec![
                (json!({"a": 1}), 2),
                (json!({"b": 2}), 6),
                (json!({"c": [1, 2]}), 9)
            ]
        );
    }

    #[test]
    fn marker_line_content_belongs_to_the_document() {
        assert_eq!(parse("--- {a: 1}\n"), vec![(json!({"a": 1}), 1)]);
    }

    #[test]
    fn merge_keys_anchors_and_keys_are_resolved() {
        let text = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n1: one\ntrue: yes\n";
        assert_eq!(
            parse(text),
            vec![(
                json!({"base": {"x": 1, "y": 2}, "d": {"y": 3, "x": 1}, "1": "one", "true": "yes"}),
                1
            )]
        );
    }

    #[test]
    fn errors_report_the_line_in_the_whole_file() {
        let text = "a: 1\n---\nkind: x\nmetadata:\n  name: [unclosed\n";
        let err = parse_yaml_documents(text, Path::new("d/f.yaml")).unwrap_err();
        let Error::Yaml { line, .. } = &err else {
            panic!("{err}")
        };
        assert!(*line >= 5, "{err}");
        assert!(
            err.to_string().starts_with(&format!("d/f.yaml:{line}:")),
            "{err}"
        );
    }

    #[test]
    fn to_yaml_separates_documents_and_keeps_key_order() {
        let objects = vec![
            json!({"kind": "A", "apiVersion": "v1"}),
            json!({"z": 1, "a": 2}),
        ];
        assert_eq!(
            to_yaml(&objects),
            "kind: A\napiVersion: v1\n---\nz: 1\na: 2\n"
        );
    }
}
