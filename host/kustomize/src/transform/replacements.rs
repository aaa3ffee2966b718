//! `replacements`: copy one field of one object into fields of others.
//!
//! This is kustomize's `ReplacementTransformer` (the last built-in
//! transformer of a kustomization), the declarative successor of `vars`:
//! users write "the Service's name goes into this Deployment's env var"
//! instead of patching the value by hand in each overlay. rekon follows
//! kustomize v5.5 (`api/filters/replacement`) exactly, quirks included, so a
//! tree renders the same with both:
//!
//! * The source is exactly one object (selected by exact group, version,
//!   kind, name and namespace, against its current or any earlier identity);
//!   none or several is an error. Its field must exist and not be null or an
//!   empty mapping/list.
//! * Target paths use kyaml's `PathMatcher`: dotted keys (`\.` escapes a
//!   dot, `[a.b/c]` brackets a key holding dots), `0` an index, `*` every
//!   element of a list, `[key=value]` the list elements whose `key` matches
//!   the regular expression `value` *unanchored* (kustomize's behaviour:
//!   `[name=app]` also selects `app2`), `[=value]` scalar elements.
//! * A target path that finds nothing is an error unless `create` is set;
//!   with `create`, missing keys, list elements (`[key=value]`, or index ==
//!   length) are created.
//! * A scalar target keeps its type (`replicas: 1` stays a number, a string
//!   label stays a string); a value that does not fit the type is an error,
//!   as it is in kustomize. A created scalar takes the type its text has in
//!   YAML (kustomize writes it untagged), a mapping or list target is
//!   replaced by the source value.

use std::fmt;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use regex::Regex;
use serde_json::{Map, Value};

use crate::kustomization::{
    FieldOptions, Replacement, ReplacementField, ReplacementSource, ReplacementTarget, Target,
};
use crate::object::{Item, ResId};
use crate::patch::selector::{matches_all, parse_selector};
use crate::Error;

/// The field read or written when a replacement names none.
const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// One replacement with where it was written, for errors.
struct Located {
    replacement: Replacement,
    file: PathBuf,
    entry: String,
}

/// Loads the `replacements` of the kustomization `file` (in `dir`) and
/// applies them, in order, to `items`.
pub(crate) fn apply(
    root: &Dir,
    dir: &Path,
    file: &Path,
    fields: &[ReplacementField],
    items: &mut [Item],
) -> Result<(), Error> {
    for located in load(root, dir, file, fields)? {
        let fail = |message: String| Error::Replacement {
            file: located.file.clone(),
            entry: located.entry.clone(),
            message,
        };
        apply_one(&located.replacement, items).map_err(fail)?;
    }
    Ok(())
}

fn load(
    root: &Dir,
    dir: &Path,
    file: &Path,
    fields: &[ReplacementField],
) -> Result<Vec<Located>, Error> {
    let mut out = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let entry = format!("replacements[{index}]");
        let Some(path) = &field.path else {
            out.push(Located {
                replacement: Replacement {
                    source: field.source.clone(),
                    targets: field.targets.clone(),
                },
                file: file.to_path_buf(),
                entry,
            });
            continue;
        };
        if field.source.is_some() || field.targets.is_some() {
            return Err(Error::Replacement {
                file: file.to_path_buf(),
                entry,
                message: "cannot specify both path and inline replacement".into(),
            });
        }
        let resolved = crate::fs::resolve(root, dir, file, "replacement", path)?;
        let text = crate::fs::read(root, &resolved.path)?;
        let documents = crate::yaml::parse_yaml_documents(&text, &resolved.path)?;
        let invalid = |entry: String, message: String| Error::Replacement {
            file: resolved.path.clone(),
            entry,
            message,
        };
        // kustomize reads the first document: one replacement or a list.
        let value = documents.into_iter().next().map(|(value, _)| value);
        match value {
            Some(Value::Array(list)) => {
                for (i, value) in list.into_iter().enumerate() {
                    let entry = format!("replacements[{i}]");
                    let replacement = serde_json::from_value(value)
                        .map_err(|e| invalid(entry.clone(), e.to_string()))?;
                    out.push(Located {
                        replacement,
                        file: resolved.path.clone(),
                        entry,
                    });
                }
            }
            Some(value @ Value::Object(_)) => {
                let entry = "replacement".to_string();
                let replacement = serde_json::from_value(value)
                    .map_err(|e| invalid(entry.clone(), e.to_string()))?;
                out.push(Located {
                    replacement,
                    file: resolved.path.clone(),
                    entry,
                });
            }
            _ => {
                return Err(invalid(
                    "replacements".into(),
                    "expected a replacement or a list of replacements".into(),
                ))
            }
        }
    }
    Ok(out)
}

fn apply_one(replacement: &Replacement, items: &mut [Item]) -> Result<(), String> {
    let (Some(source), Some(targets)) = (&replacement.source, &replacement.targets) else {
        return Err("replacements must specify a source and at least one target".into());
    };
    let value = source_value(source, items)?;
    for (index, target) in targets.iter().enumerate() {
        apply_target(target, &value, items).map_err(|e| format!("targets[{index}]: {e}"))?;
    }
    Ok(())
}

/// The exact-match part of a selector (kustomize's `ResId.IsSelectedBy`).
struct IdSelector<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
}

impl IdSelector<'_> {
    fn is_empty(&self) -> bool {
        [
            self.group,
            self.version,
            self.kind,
            self.name,
            self.namespace,
        ]
        .iter()
        .all(|s| s.is_empty())
    }

    fn selects(&self, id: &ResId) -> bool {
        let is = |want: &str, have: &str| want.is_empty() || want == have;
        // The selector's namespace compares as kustomize's effective
        // namespace: unset and `default` are the same.
        let namespace = || {
            let selector = ResId {
                group: self.group.to_string(),
                version: self.version.to_string(),
                kind: self.kind.to_string(),
                namespace: self.namespace.to_string(),
                name: String::new(),
            };
            selector.effective_namespace() == id.effective_namespace()
        };
        is(self.group, &id.group)
            && is(self.version, &id.version)
            && is(self.kind, &id.kind)
            && is(self.name, &id.name)
            && (self.namespace.is_empty() || namespace())
    }
}

impl fmt::Display for IdSelector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            ("group", self.group),
            ("version", self.version),
            ("kind", self.kind),
            ("name", self.name),
            ("namespace", self.namespace),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

fn id_selector(target: &Target) -> IdSelector<'_> {
    IdSelector {
        group: &target.group,
        version: &target.version,
        kind: &target.kind,
        name: &target.name,
        namespace: &target.namespace,
    }
}

/// Whether any identity of the item (current or earlier) is selected.
fn any_id_selected(item: &Item, selector: &IdSelector<'_>) -> bool {
    item.ids().iter().any(|id| selector.selects(id))
}

fn source_value(source: &ReplacementSource, items: &[Item]) -> Result<Value, String> {
    let selector = IdSelector {
        group: &source.group,
        version: &source.version,
        kind: &source.kind,
        name: &source.name,
        namespace: &source.namespace,
    };
    let selected: Vec<&Item> = items
        .iter()
        .filter(|item| any_id_selected(item, &selector))
        .collect();
    let item = match selected.as_slice() {
        [] => return Err(format!("source {selector} selects no object")),
        [one] => *one,
        several => {
            let ids: Vec<String> = several.iter().map(|i| i.id().to_string()).collect();
            return Err(format!(
                "source {selector} selects more than one object: {}",
                ids.join(", ")
            ));
        }
    };
    let field_path = source.field_path.as_deref().unwrap_or(DEFAULT_FIELD_PATH);
    let field_path = if field_path.is_empty() {
        DEFAULT_FIELD_PATH
    } else {
        field_path
    };
    let parts = source_parts(field_path)?;
    let value = lookup(&item.object, &parts)
        .filter(|v| !is_nil_or_empty(v))
        .ok_or_else(|| format!("source field '{field_path}' is missing in {}", item.id()))?;
    match &source.options {
        Some(options) if !options.delimiter.is_empty() => {
            if !is_scalar(value) {
                return Err("source options.delimiter can only be used with a scalar field".into());
            }
            let text = scalar_text(value);
            let pieces: Vec<&str> = text.split(options.delimiter.as_str()).collect();
            let piece = usize::try_from(options.index)
                .ok()
                .and_then(|i| pieces.get(i))
                .ok_or_else(|| {
                    format!(
                        "source options.index {} is out of bounds for value '{text}'",
                        options.index
                    )
                })?;
            Ok(if value.is_string() {
                Value::String(piece.to_string())
            } else {
                plain_scalar(piece)
            })
        }
        _ => Ok(value.clone()),
    }
}

fn apply_target(
    target: &ReplacementTarget,
    value: &Value,
    items: &mut [Item],
) -> Result<(), String> {
    let Some(select) = &target.select else {
        return Err("target must specify resources to select".into());
    };
    let labels = |t: &Target| -> Result<_, String> {
        Ok((
            parse_selector(&t.label_selector).map_err(|e| format!("labelSelector: {e}"))?,
            parse_selector(&t.annotation_selector)
                .map_err(|e| format!("annotationSelector: {e}"))?,
        ))
    };
    let select_labels = labels(select)?;
    let reject_labels = target
        .reject
        .iter()
        .map(|r| {
            let has = !r.label_selector.is_empty() || !r.annotation_selector.is_empty();
            labels(r).map(|l| has.then_some(l))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let default_paths = [DEFAULT_FIELD_PATH.to_string()];
    let field_paths = if target.field_paths.is_empty() {
        &default_paths[..]
    } else {
        &target.field_paths
    };
    let paths = field_paths
        .iter()
        .map(|p| target_parts(p).map(|parts| (p, parts)))
        .collect::<Result<Vec<_>, _>>()?;
    let options = target.options.clone().unwrap_or_default();
    let select_ids = id_selector(select);
    for item in items.iter_mut() {
        let meta = &item.object["metadata"];
        let matches_labels = |(l, a): &(Vec<_>, Vec<_>)| {
            matches_all(l, meta.get("labels")) && matches_all(a, meta.get("annotations"))
        };
        if !matches_labels(&select_labels) || reject_labels.iter().flatten().any(matches_labels) {
            continue;
        }
        let rejected = target.reject.iter().any(|r| {
            let ids = id_selector(r);
            !ids.is_empty() && any_id_selected(item, &ids)
        });
        if rejected || !any_id_selected(item, &select_ids) {
            continue;
        }
        let id = item.id();
        for (path, parts) in &paths {
            let found = walk(
                &mut item.object,
                parts,
                options.create,
                false,
                &mut |field, created| set_value(field, created, value, &options),
            )
            .map_err(|e| format!("{id}: field '{path}': {e}"))?;
            if found == 0 {
                let verb = if options.create {
                    "find or create"
                } else {
                    "find"
                };
                return Err(format!("unable to {verb} field '{path}' in {id}"));
            }
        }
    }
    Ok(())
}

/// One part of a field path.
#[derive(Debug, PartialEq)]
enum Part {
    /// A mapping key.
    Field(String),
    /// A list index.
    Index(usize),
    /// The last list element (sources only).
    Last,
    /// Every list element (targets only).
    Every,
    /// List elements whose `key` (or, with an empty key, which) matches
    /// `value`: a regular expression for targets, exact text for sources.
    Match { key: String, value: String },
}

/// kyaml's `SmarterPathSplitter`: split at dots not escaped with `\`; a
/// bracketed part spanning dots is one part, a map key unless it holds `=`.
fn split_path(path: &str) -> Vec<String> {
    let mut split: Vec<String> = Vec::new();
    let mut pieces = path.split('.').peekable();
    if path.starts_with('.') && path.len() > 1 {
        pieces.next();
    }
    for piece in pieces {
        match split.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => split.push(piece.to_string()),
        }
    }
    let mut result = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let element = &split[i];
        if element.starts_with('[') && !element.ends_with(']') {
            let mut bracketed = vec![element.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                result.push(joined);
            } else {
                result.push(joined.trim_matches(['[', ']']).to_string());
            }
        } else {
            result.push(element.clone());
        }
        i += 1;
    }
    result
}

fn list_match(part: &str) -> Result<Part, String> {
    let inner = &part[1..part.len() - 1];
    let (key, value) = inner.split_once('=').ok_or_else(|| {
        format!("'{part}': a list element must be written [fieldName=fieldValue]")
    })?;
    Ok(Part::Match {
        key: key.to_string(),
        value: value.to_string(),
    })
}

fn is_list_index(part: &str) -> bool {
    part.len() >= 2 && part.starts_with('[') && part.ends_with(']')
}

/// Parts of a target path (kyaml `PathMatcher`).
fn target_parts(path: &str) -> Result<Vec<Part>, String> {
    split_path(path)
        .into_iter()
        .map(|part| {
            if let Ok(index) = part.parse::<usize>() {
                Ok(Part::Index(index))
            } else if is_list_index(&part) {
                list_match(&part)
            } else if part == "*" {
                Ok(Part::Every)
            } else {
                Ok(Part::Field(part))
            }
        })
        .collect()
}

/// Parts of a source path (kyaml `PathGetter`: blank parts dropped).
fn source_parts(path: &str) -> Result<Vec<Part>, String> {
    split_path(path)
        .into_iter()
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty())
        .map(|part| {
            if let Ok(index) = part.parse::<i64>() {
                usize::try_from(index)
                    .map(Part::Index)
                    .map_err(|_| format!("array index {index} cannot be negative"))
            } else if part == "-" {
                Ok(Part::Last)
            } else if part == "*" {
                Err("a wildcard is not supported in a source fieldPath".into())
            } else if is_list_index(&part) {
                list_match(&part)
            } else {
                Ok(Part::Field(part))
            }
        })
        .collect()
}

fn lookup<'a>(value: &'a Value, parts: &[Part]) -> Option<&'a Value> {
    let Some((part, rest)) = parts.split_first() else {
        return Some(value);
    };
    let next = match (part, value) {
        (Part::Field(name), Value::Object(map)) => map.get(name),
        (Part::Index(i), Value::Array(list)) => list.get(*i),
        (Part::Last, Value::Array(list)) => list.last(),
        (Part::Match { key, value: want }, Value::Array(list)) => list.iter().find(|e| {
            if key.is_empty() {
                is_scalar(e) && scalar_text(e) == *want
            } else {
                e.get(key)
                    .is_some_and(|v| is_scalar(v) && scalar_text(v) == *want)
            }
        }),
        _ => None,
    }?;
    if next.is_null() && !rest.is_empty() {
        return None;
    }
    lookup(next, rest)
}

/// kyaml's `IsNilOrEmpty`: null, `{}` and `[]` are no value.
fn is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        _ => false,
    }
}

/// What kyaml creates for a missing part, by the part after it.
fn placeholder(next: Option<&Part>) -> Value {
    match next {
        None => Value::Null,
        Some(Part::Index(_) | Part::Match { .. }) => Value::Array(Vec::new()),
        Some(_) => Value::Object(Map::new()),
    }
}

fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) | Value::Number(_) | Value::String(_) => "a scalar",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

type Leaf<'a> = dyn FnMut(&mut Value, bool) -> Result<(), String> + 'a;

/// Calls `leaf` on every field the path reaches (with whether it was just
/// created) and returns how many it reached.
fn walk(
    value: &mut Value,
    parts: &[Part],
    create: bool,
    created: bool,
    leaf: &mut Leaf<'_>,
) -> Result<usize, String> {
    let Some((part, rest)) = parts.split_first() else {
        leaf(value, created)?;
        return Ok(1);
    };
    let list_expected = |value: &Value| format!("expected a list, found {}", found(value));
    match part {
        Part::Field(name) => {
            if value.is_null() && create {
                *value = Value::Object(Map::new());
            }
            let map = match value {
                Value::Object(map) => map,
                Value::Null => return Ok(0),
                other => {
                    return Err(format!(
                        "expected a mapping at '{name}', found {}",
                        found(other)
                    ))
                }
            };
            let is_new = !map.contains_key(name);
            if is_new {
                if !create {
                    return Ok(0);
                }
                map.insert(name.clone(), placeholder(rest.first()));
            }
            let child = map.get_mut(name).expect("present or inserted above");
            walk(child, rest, create, is_new && rest.is_empty(), leaf)
        }
        Part::Index(index) => {
            let Value::Array(list) = value else {
                return Err(list_expected(value));
            };
            let is_new = *index == list.len() && create;
            if is_new {
                list.push(placeholder(rest.first()));
            }
            let len = list.len();
            let child = list
                .get_mut(*index)
                .ok_or_else(|| format!("index {index} specified but only {len} elements found"))?;
            walk(child, rest, create, is_new && rest.is_empty(), leaf)
        }
        Part::Every => {
            let Value::Array(list) = value else {
                return Err(list_expected(value));
            };
            let mut count = 0;
            for element in list {
                count += walk(element, rest, create, false, leaf)?;
            }
            Ok(count)
        }
        Part::Match {
            key,
            value: pattern,
        } => {
            let Value::Array(list) = value else {
                return Err(list_expected(value));
            };
            let regex = Regex::new(pattern)
                .map_err(|e| format!("'{pattern}' is not a valid pattern: {e}"))?;
            let matches = |element: &Value| {
                let field = if key.is_empty() {
                    Some(element)
                } else {
                    element.get(key)
                };
                field.is_some_and(|f| is_scalar(f) && regex.is_match(&scalar_text(f)))
            };
            if create && !list.iter().any(matches) {
                let element = if key.is_empty() {
                    plain_scalar(pattern)
                } else {
                    let mut map = Map::new();
                    map.insert(key.clone(), plain_scalar(pattern));
                    Value::Object(map)
                };
                list.push(element);
            }
            let mut count = 0;
            for element in list.iter_mut() {
                if matches(element) {
                    count += walk(element, rest, create, false, leaf)?;
                }
            }
            Ok(count)
        }
        Part::Last => unreachable!("target paths have no '-' part"),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// A value's text as kyaml holds it (mappings and lists have none).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// What untagged text means when printed plain and read back as YAML.
fn plain_scalar(text: &str) -> Value {
    if text.is_empty() {
        return Value::String(String::new());
    }
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => value,
        _ => Value::String(text.to_string()),
    }
}

/// kyaml's `setFieldValue`.
fn set_value(
    target: &mut Value,
    created: bool,
    value: &Value,
    options: &FieldOptions,
) -> Result<(), String> {
    let mut value = value.clone();
    if !options.delimiter.is_empty() {
        let target_is_scalar = if created {
            is_scalar(&value)
        } else {
            is_scalar(target)
        };
        if !target_is_scalar {
            return Err("options.delimiter can only be used with scalar fields".into());
        }
        let current = if created {
            String::new()
        } else {
            scalar_text(target)
        };
        let mut pieces: Vec<String> = current
            .split(options.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let text = scalar_text(&value);
        match usize::try_from(options.index) {
            Err(_) => pieces.insert(0, text),
            Ok(i) if i >= pieces.len() => pieces.push(text),
            Ok(i) => pieces[i] = text,
        }
        value = Value::String(pieces.join(&options.delimiter));
    }
    if created {
        *target = if is_scalar(&value) {
            plain_scalar(&scalar_text(&value))
        } else {
            value
        };
    } else if is_scalar(target) {
        *target = retyped(target, &scalar_text(&value))?;
    } else {
        *target = value;
    }
    Ok(())
}

/// `text` as a value of the existing scalar `target`'s type: kustomize
/// keeps the field's YAML tag and only replaces its text.
fn retyped(target: &Value, text: &str) -> Result<Value, String> {
    let parsed = plain_scalar(text);
    let fits = match (target, &parsed) {
        (Value::String(_), _) => return Ok(Value::String(text.to_string())),
        (Value::Number(old), Value::Number(new)) => old.is_f64() || !new.is_f64(),
        (Value::Bool(_), Value::Bool(_)) | (Value::Null, Value::Null) => true,
        _ => false,
    };
    if fits {
        Ok(parsed)
    } else {
        Err(format!(
            "cannot write '{text}' into {} field (kustomize keeps the field's type)",
            match target {
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "a null",
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_split_like_kyaml() {
        assert_eq!(
            split_path("metadata.annotations.[config.kubernetes.io/x]"),
            ["metadata", "annotations", "config.kubernetes.io/x"]
        );
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(split_path(r"data.a\.b"), ["data", "a.b"]);
        assert_eq!(split_path(".a.b"), ["a", "b"]);
        assert!(target_parts("a.[nodots]").is_err());
        assert_eq!(
            target_parts("a.0.*").unwrap(),
            [Part::Field("a".into()), Part::Index(0), Part::Every]
        );
        assert!(source_parts("a.*").is_err());
        assert_eq!(
            source_parts("a.-").unwrap(),
            [Part::Field("a".into()), Part::Last]
        );
    }

    #[test]
    fn scalar_targets_keep_their_type() {
        assert_eq!(retyped(&json!(1), "5").unwrap(), json!(5));
        assert_eq!(retyped(&json!("a"), "5").unwrap(), json!("5"));
        assert!(retyped(&json!(1), "x").is_err());
        assert!(retyped(&json!(1), "1.5").is_err());
        assert!(retyped(&json!(true), "42").is_err());
        assert!(retyped(&Value::Null, "42").is_err());
        assert_eq!(plain_scalar("42"), json!(42));
        assert_eq!(plain_scalar("a: b"), json!("a: b"));
    }

    #[test]
    fn walk_creates_and_matches_unanchored() {
        let mut object = json!({"list": [{"name": "app"}, {"name": "app2"}, {"name": "b"}]});
        let parts = target_parts("list.[name=app].image").unwrap();
        let n = walk(&mut object, &parts, true, false, &mut |v, created| {
            assert!(created);
            *v = json!("x");
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(object["list"][1]["image"], "x");
        assert_eq!(object["list"][2].get("image"), None);
        let parts = target_parts("list.[name=zz].image").unwrap();
        walk(&mut object, &parts, true, false, &mut |v, _| {
            *v = json!(1);
            Ok(())
        })
        .unwrap();
        assert_eq!(object["list"][3], json!({"name": "zz", "image": 1}));
        let parts = target_parts("list.9").unwrap();
        assert!(walk(&mut object, &parts, true, false, &mut |_, _| Ok(())).is_err());
    }
}
