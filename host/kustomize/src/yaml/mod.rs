//! YAML in and out.
//!
//! # Reading
//!
//! Scalars are typed as kustomize types them, because what a kustomize build
//! (`kubectl kustomize`, Flux) hands to the cluster is its reading of the
//! input: kustomize reads resources with go-yaml v3 and prints them through
//! JSON. So, checked with `kubectl kustomize` (v5.5): quoted scalars are
//! strings; plain `on`, `yes`, `y` are strings too (YAML 1.1 would say
//! booleans; kustomize prints them quoted); `0755` is 493; `1_000` is 1000;
//! `2026-01-01` is `"2026-01-01T00:00:00Z"`; `1.0` is 1; `1:30` is a string.
//! [`resolve_plain`](resolve::resolve_plain) has the rules. Mapping keys keep
//! their text (`on: x` has the key "on"). Tags: `!!str`, `!!int`, `!!float`,
//! `!!bool`, `!!null` and `!!timestamp` set the type (a scalar that does not
//! fit is an error), other `!!` tags on scalars are refused, and local tags
//! (`!foo`) are dropped, which leaves a string.
//!
//! The parser is `saphyr-parser`, a maintained pure-Rust YAML 1.2 event
//! parser: unlike serde_yaml_ng it reports each scalar's style (plain or
//! quoted) and tag, which the typing above depends on, and the position of
//! every event. Anchors, aliases and `<<` merge keys are resolved here.
//!
//! A multi-document file is split at its `---` markers before parsing, so each
//! document knows the line it starts on (for [`crate::Origin`]) and parser
//! errors can be reported with the line in the whole file. Splitting at a
//! column-0 `---` is exact: YAML forbids document markers inside content.
//!
//! # Writing
//!
//! [`to_yaml`] quotes every string that go-yaml v2 or v3, PyYAML or a YAML
//! 1.2 core reader would read as something else (see [`write`]), so the text
//! means the same objects to each of them.

mod read;
mod resolve;
mod write;

pub(crate) use read::PlainText;
pub(crate) use resolve::resolve_plain;

#[cfg(test)]
mod scalar_tests;

use std::path::Path;

use serde_json::Value;

use crate::Error;

/// One document's text and where it sits in the file.
struct Chunk<'a> {
    text: &'a str,
    /// 1-based line of the chunk's first line in the file.
    first_line: usize,
    /// Columns taken on the first line by the `---` marker before `text`.
    first_column_offset: usize,
}

/// How plain scalars are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    /// As kustomize reads resources (go-yaml v3): [`resolve::resolve_plain`].
    Kustomize,
    /// As Kubernetes' decoder reads a kustomization file (YAML 1.1):
    /// [`resolve::resolve_plain_yaml11`].
    Yaml11,
}

/// Parses every document of a multi-document YAML text into JSON values,
/// each with the 1-based line where its content starts. Empty documents are
/// skipped; `<<` merge keys are applied; scalars are typed as kustomize
/// types them (see the crate documentation, "Scalars").
pub fn parse_yaml_documents(text: &str, file: &Path) -> Result<Vec<(Value, usize)>, Error> {
    Ok(parse_documents(text, file, Schema::Kustomize)?
        .into_iter()
        .map(|(value, line, _)| (value, line))
        .collect())
}

/// [`parse_yaml_documents`] with the given typing of plain scalars.
/// Each document comes with its line and its [`read::PlainText`]s.
pub(crate) fn parse_documents(
    text: &str,
    file: &Path,
    schema: Schema,
) -> Result<Vec<(Value, usize, Vec<PlainText>)>, Error> {
    let mut documents = Vec::new();
    for chunk in split(text.strip_prefix('\u{feff}').unwrap_or(text)) {
        let Some(start) = content_start(&chunk) else {
            continue;
        };
        let values = read::read_documents(chunk.text, schema).map_err(|failure| {
            let (line, column) = chunk.file_position(failure.line, failure.col + 1);
            Error::Yaml {
                file: file.to_path_buf(),
                line,
                column,
                message: failure.message,
            }
        })?;
        documents.extend(
            values
                .into_iter()
                .filter(|(value, _)| !value.is_null())
                .map(|(value, plain)| (value, start, plain)),
        );
    }
    Ok(documents)
}

/// Renders objects as one multi-document YAML text, documents separated by
/// `---` lines, keys in the objects' own order. Strings are quoted wherever
/// a YAML 1.1 or 1.2 reader would otherwise read another type.
pub fn to_yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(write::document)
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Renders one value as a YAML document (no `---`), as [`to_yaml`] does.
pub fn to_yaml_document(value: &Value) -> String {
    write::document(value)
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

impl Chunk<'_> {
    /// The file position of a 1-based line and column in the chunk.
    fn file_position(&self, line: usize, column: usize) -> (usize, usize) {
        let column = if line == 1 {
            column + self.first_column_offset
        } else {
            column
        };
        (self.first_line + line - 1, column)
    }
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
