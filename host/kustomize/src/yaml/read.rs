//! Parser events to JSON values.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Value};

use super::resolve::{resolve_plain, resolve_plain_yaml11, timestamp};
use super::Schema;

/// A problem in the parsed text.
pub(super) struct Failure {
    /// 1-based line.
    pub line: usize,
    /// 0-based column.
    pub col: usize,
    pub message: String,
}

impl From<ScanError> for Failure {
    fn from(err: ScanError) -> Self {
        Failure {
            line: err.marker().line(),
            col: err.marker().col(),
            message: err.info().to_string(),
        }
    }
}

/// Nesting deeper than this is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 256;
/// Nodes one text may expand to through aliases (a "billion laughs" file
/// would otherwise take all memory).
const MAX_NODES: usize = 2_000_000;

/// A plain scalar kustomize keeps as text in places: its field (mapping
/// keys from the document) and its text.
pub(crate) type PlainText = (Vec<String>, String);

/// Reads every document of `text`, each with the [`PlainText`]s of its
/// annotations and `data` values that do not read as strings.
pub(super) fn read_documents(
    text: &str,
    schema: Schema,
) -> Result<Vec<(Value, Vec<PlainText>)>, Failure> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
        schema,
        keys: Vec::new(),
        plain: Vec::new(),
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                let value = reader.node(event, span, 0)?.0;
                documents.push((value, std::mem::take(&mut reader.plain)));
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            _ => return Err(failure(span, "unexpected parser event")),
        }
    }
}

struct Reader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// Anchored values with their node counts.
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    /// How plain scalars are typed.
    schema: Schema,
    /// The mapping keys leading to the node being read (lists add none).
    keys: Vec<String>,
    /// The current document's [`PlainText`]s.
    plain: Vec<PlainText>,
}

fn failure(span: Span, message: impl Into<String>) -> Failure {
    Failure {
        line: span.start.line(),
        col: span.start.col(),
        message: message.into(),
    }
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), Failure> {
        match self.parser.next_event() {
            Some(result) => Ok(result?),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    /// Whether the node being read is an annotation value of an object
    /// (`metadata.annotations.*` of a document or of a `List`'s item).
    fn in_annotations(&self) -> bool {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        self.schema == Schema::Kustomize
            && matches!(
                keys.as_slice(),
                ["metadata", "annotations", _] | ["items", "metadata", "annotations", _]
            )
    }

    /// Whether kustomize may later rewrite the node being read from its
    /// text: an annotation, or a `data` value (a ConfigMap's, merged by a
    /// generator).
    fn keeps_text(&self) -> bool {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        matches!(
            keys.as_slice(),
            ["metadata", "annotations", _] | ["data", _]
        )
    }

    /// Counts `count` more nodes against [`MAX_NODES`].
    fn spend(&mut self, count: usize, span: Span) -> Result<(), Failure> {
        self.nodes += count;
        if self.nodes > MAX_NODES {
            return Err(failure(
                span,
                format!("too many nodes (aliases expand beyond {MAX_NODES})"),
            ));
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, value: &Value, count: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), count));
        }
    }

    /// The node starting with `event`, and how many nodes it holds.
    fn node(
        &mut self,
        event: Event<'a>,
        span: Span,
        depth: usize,
    ) -> Result<(Value, usize), Failure> {
        if depth > MAX_DEPTH {
            return Err(failure(span, format!("nesting deeper than {MAX_DEPTH}")));
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.spend(1, span)?;
                if self.schema == Schema::Kustomize
                    && style == ScalarStyle::Plain
                    && tag.is_none()
                    && self.keeps_text()
                    && !resolve_plain(&text).is_ok_and(|v| v.as_str() == Some(&*text))
                {
                    self.plain.push((self.keys.clone(), text.to_string()));
                }
                let value = if self.in_annotations() {
                    // kustomize rewrites annotations from their text
                    // (`note: 0x1F` leaves as "0x1F", `~` as "~").
                    Value::String(text.to_string())
                } else {
                    scalar(&text, style, tag.as_deref(), self.schema)
                        .map_err(|m| failure(span, m))?
                };
                self.remember(anchor, &value, 1);
                Ok((value, 1))
            }
            Event::Alias(id) => {
                let count = self
                    .anchors
                    .get(&id)
                    .map(|(_, count)| *count)
                    .ok_or_else(|| failure(span, "alias to an unknown anchor"))?;
                // Counted before the copy is made.
                self.spend(count, span)?;
                Ok((self.anchors[&id].0.clone(), count))
            }
            Event::SequenceStart(anchor, _) => {
                self.spend(1, span)?;
                let (mut items, mut count) = (Vec::new(), 1);
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let (item, n) = self.node(event, span, depth + 1)?;
                    items.push(item);
                    count += n;
                }
                let value = Value::Array(items);
                self.remember(anchor, &value, count);
                Ok((value, count))
            }
            Event::MappingStart(anchor, _) => {
                self.spend(1, span)?;
                let (value, count) = self.mapping(depth)?;
                self.remember(anchor, &value, count);
                Ok((value, count))
            }
            _ => Err(failure(span, "unexpected parser event")),
        }
    }

    /// The entries of a mapping, after its start event. `<<` entries merge
    /// their mappings in after the mapping's own keys (YAML's merge key,
    /// which go-yaml supports); of several merged mappings the first wins.
    fn mapping(&mut self, depth: usize) -> Result<(Value, usize), Failure> {
        let (mut map, mut count) = (Map::new(), 1);
        let mut merged = Vec::new();
        loop {
            let (event, span) = self.next()?;
            let is_merge = match &event {
                Event::MappingEnd => break,
                Event::Scalar(text, style, _, tag) => {
                    text == "<<"
                        && match tag.as_deref() {
                            None => *style == ScalarStyle::Plain,
                            Some(tag) => tag.is_yaml_core_schema() && tag.suffix == "merge",
                        }
                }
                _ => false,
            };
            // Keys keep their text whatever it would resolve to: kustomize
            // prints `1.5: x` and `on: x` with the keys "1.5" and "on".
            let (key, n) = match event {
                Event::Scalar(text, style, anchor, tag) if !is_merge => {
                    self.spend(1, span)?;
                    if self.schema == Schema::Yaml11 && style == ScalarStyle::Plain && tag.is_none()
                    {
                        // Kubernetes' YAML (1.1) makes `on:` a boolean key,
                        // which kustomize cannot read a kustomization with.
                        let typed = resolve_plain_yaml11(&text).map_err(|m| failure(span, m))?;
                        if !typed.is_string() {
                            return Err(failure(
                                span,
                                format!(
                                    "the key `{text}` is not a string in YAML 1.1, as Kubernetes \
                                     reads it; quote it"
                                ),
                            ));
                        }
                    }
                    let key = text.into_owned();
                    self.remember(anchor, &Value::String(key.clone()), 1);
                    (Some(key), 1)
                }
                event => {
                    let (key, n) = self.node(event, span, depth + 1)?;
                    (key_text(key), n)
                }
            };
            count += n;
            let (event, value_span) = self.next()?;
            self.keys.push(key.clone().unwrap_or_default());
            let read = self.node(event, value_span, depth + 1);
            self.keys.pop();
            let (value, n) = read?;
            count += n;
            if is_merge {
                match value {
                    Value::Object(source) => merged.push(source),
                    Value::Array(sources) if sources.iter().all(Value::is_object) => {
                        merged.extend(sources.into_iter().filter_map(|s| match s {
                            Value::Object(source) => Some(source),
                            _ => None,
                        }));
                    }
                    _ => {
                        return Err(failure(
                            value_span,
                            "a `<<` merge key needs a mapping or a list of mappings",
                        ))
                    }
                }
                continue;
            }
            let key = key.ok_or_else(|| failure(span, "a mapping key must be a scalar"))?;
            if map.contains_key(&key) {
                return Err(failure(span, format!("duplicate mapping key `{key}`")));
            }
            map.insert(key, value);
        }
        for source in merged {
            for (key, value) in source {
                if !map.contains_key(&key) {
                    map.insert(key, value);
                }
            }
        }
        Ok((Value::Object(map), count))
    }
}

/// An aliased mapping key as a string, as Kubernetes' YAML-to-JSON turns
/// scalar keys into strings.
fn key_text(key: Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s),
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A scalar's value: quoted scalars are strings, plain ones are resolved,
/// core tags (`!!str`, `!!int`, ...) decide the type, and other tags are
/// ignored, which leaves a string (as go-yaml does).
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    schema: Schema,
) -> Result<Value, String> {
    let Some(tag) = tag.filter(|tag| tag.is_yaml_core_schema()) else {
        return match (style, tag, schema) {
            (ScalarStyle::Plain, None, Schema::Kustomize) => resolve_plain(text),
            (ScalarStyle::Plain, None, Schema::Yaml11) => resolve_plain_yaml11(text),
            _ => Ok(Value::String(text.to_string())),
        };
    };
    let resolved = resolve_plain(text);
    let fits = match tag.suffix.as_str() {
        "str" => return Ok(Value::String(text.to_string())),
        "timestamp" => {
            return timestamp(text)
                .map(Value::String)
                .ok_or_else(|| format!("cannot read `{text}` as a !!timestamp"));
        }
        "int" => resolved.as_ref().is_ok_and(|v| v.is_i64() || v.is_u64()),
        "float" => resolved.as_ref().is_ok_and(Value::is_number),
        "bool" => resolved.as_ref().is_ok_and(Value::is_boolean),
        "null" => resolved.as_ref().is_ok_and(Value::is_null),
        other => return Err(format!("unsupported tag !!{other}")),
    };
    if !fits {
        return Err(format!("cannot read `{text}` as a !!{}", tag.suffix));
    }
    resolved
}
