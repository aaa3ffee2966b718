//! Parser events to JSON values.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::{Map, Value};

use super::resolve::{resolve_plain, timestamp};

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

/// Reads every document of `text`.
pub(super) fn read_documents(text: &str) -> Result<Vec<Value>, Failure> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                documents.push(reader.node(event, span, 0)?.0);
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
                let value = scalar(&text, style, tag.as_deref()).map_err(|m| failure(span, m))?;
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
                Event::Scalar(text, _, anchor, _) if !is_merge => {
                    self.spend(1, span)?;
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
            let (value, n) = self.node(event, value_span, depth + 1)?;
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
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag.filter(|tag| tag.is_yaml_core_schema()) else {
        return match (style, tag) {
            (ScalarStyle::Plain, None) => resolve_plain(text),
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
