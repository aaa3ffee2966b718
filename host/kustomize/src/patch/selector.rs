//! Patch targets: kustomize's `Selector`.

use regex::Regex;
use serde_json::{Map, Value};

use crate::kustomization::Target;
use crate::object::Item;

/// A compiled `target`.
pub(crate) struct Selector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

impl Selector {
    /// Compiles a target; group, version, kind, name and namespace are
    /// regular expressions anchored at both ends, as in kustomize.
    pub fn new(target: &Target) -> Result<Selector, String> {
        let anchored = |field: &str, pattern: &str| -> Result<Option<Regex>, String> {
            if pattern.is_empty() {
                return Ok(None);
            }
            Regex::new(&format!("^(?:{pattern})$"))
                .map(Some)
                .map_err(|e| format!("target {field} '{pattern}' is not a valid pattern: {e}"))
        };
        Ok(Selector {
            group: anchored("group", &target.group)?,
            version: anchored("version", &target.version)?,
            kind: anchored("kind", &target.kind)?,
            name: anchored("name", &target.name)?,
            namespace: anchored("namespace", &target.namespace)?,
            labels: parse_selector(&target.label_selector)
                .map_err(|e| format!("target labelSelector: {e}"))?,
            annotations: parse_selector(&target.annotation_selector)
                .map_err(|e| format!("target annotationSelector: {e}"))?,
        })
    }

    /// Whether the item is selected. Name and namespace may match the
    /// current or any earlier identity (kustomize: original or current).
    pub fn matches(&self, item: &Item) -> bool {
        let id = item.id();
        let ids = item.ids();
        let is = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        is(&self.group, &id.group)
            && is(&self.version, &id.version)
            && is(&self.kind, &id.kind)
            && ids.iter().any(|i| is(&self.name, &i.name))
            && ids
                .iter()
                .any(|i| is(&self.namespace, i.effective_namespace()))
            && matches_all(&self.labels, item.object["metadata"].get("labels"))
            && matches_all(
                &self.annotations,
                item.object["metadata"].get("annotations"),
            )
    }
}

/// One requirement of a Kubernetes label selector string.
#[derive(Debug, PartialEq)]
pub(crate) enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

pub(crate) fn matches_all(requirements: &[Requirement], map: Option<&Value>) -> bool {
    let empty = Map::new();
    let map = map.and_then(Value::as_object).unwrap_or(&empty);
    let get = |key: &str| map.get(key).and_then(Value::as_str);
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k) == Some(v),
        Requirement::NotEquals(k, v) => get(k) != Some(v),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        Requirement::Exists(k) => map.contains_key(k),
        Requirement::NotExists(k) => !map.contains_key(k),
    })
}

/// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
pub(crate) fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_requirement)
        .collect()
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let word = |s: &str| s.trim().to_string();
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(word(key)));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(word(key), word(value)));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(word(key), word(value)));
    }
    let set = |rest: &str| -> Result<Vec<String>, String> {
        let inner = rest
            .trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("'{part}': expected a parenthesized list"))?;
        Ok(inner
            .split(',')
            .map(word)
            .filter(|v| !v.is_empty())
            .collect())
    };
    let mut words = part.splitn(2, char::is_whitespace);
    let key = word(words.next().unwrap_or(""));
    let rest = words.next().unwrap_or("").trim_start();
    if let Some(values) = rest.strip_prefix("notin") {
        return Ok(Requirement::NotIn(key, set(values)?));
    }
    if let Some(values) = rest.strip_prefix("in") {
        return Ok(Requirement::In(key, set(values)?));
    }
    if rest.is_empty() && !key.is_empty() {
        return Ok(Requirement::Exists(key));
    }
    Err(format!("cannot parse requirement '{part}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let reqs = parse_selector(
            "app=web, tier!=db,env in (prod, staging),zone notin (x),canary,!legacy",
        )
        .unwrap();
        assert_eq!(reqs.len(), 6);
        let labels = json!({"app": "web", "tier": "front", "env": "prod", "canary": "true"});
        assert!(matches_all(&reqs, Some(&labels)));
        let labels = json!({"app": "web", "tier": "front", "env": "dev", "canary": "true"});
        assert!(!matches_all(&reqs, Some(&labels)));
        assert!(parse_selector("env in prod").is_err());
    }
}
