//! Settings of sortable-policy and their checks.

use crate::keys::{Direction, KeyType};
use regex::Regex;
use serde::Deserialize;

/// Tags ignored unless `exclude` says otherwise: cosign signatures,
/// attestations and SBOMs, which live next to images as tags.
pub const DEFAULT_EXCLUDE: &[&str] = &[r"\.(sig|att|sbom)$"];

/// Settings of the sortable-policy plugin.
///
/// ```json
/// {
///   "pattern": "^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$",
///   "keys": [
///     {"group": "ts", "type": "numeric", "order": "desc"},
///     {"group": "sha", "type": "string", "order": "asc"}
///   ],
///   "exclude": ["^main-placeholder-"]
/// }
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Regular expression (RE2 syntax as the `regex` crate implements it) a tag
    /// must match, whole or in part, to take part; its named or numbered groups
    /// feed the keys. Missing: every tag takes part and group `0` is the tag.
    pub pattern: Option<String>,
    /// The sort keys, most significant first: a later key only decides between
    /// tags that all earlier keys find equal. At least one.
    pub keys: Vec<Key>,
    /// Regular expressions of tags to leave out, checked before `pattern`.
    /// Missing: [`DEFAULT_EXCLUDE`]; a list (also `[]`) replaces it.
    pub exclude: Option<Vec<String>>,
}

/// One sort key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    /// The group of `pattern` whose text is compared: a name or a number (`0` is
    /// the whole match). Missing: `0`. Not allowed for `created`.
    #[serde(default)]
    pub group: Option<String>,
    /// How the text is read and compared.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// `desc` (default): larger values rank first; `asc`: smaller first.
    #[serde(default)]
    pub order: Direction,
}

/// Settings checked and compiled.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub(crate) pattern: Option<Regex>,
    pub(crate) exclude: Vec<Regex>,
    pub(crate) keys: Vec<CompiledKey>,
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledKey {
    /// The capture group index; unused for `created`.
    pub(crate) group: usize,
    pub(crate) key_type: KeyType,
    pub(crate) order: Direction,
}

impl Settings {
    /// Checks the settings and compiles the regular expressions. Errors start
    /// with the field path, e.g. `keys[1].group: ...`.
    pub fn compile(&self) -> Result<Compiled, String> {
        let pattern = self
            .pattern
            .as_deref()
            .map(|p| Regex::new(p).map_err(|e| format!("pattern: invalid regular expression: {e}")))
            .transpose()?;
        let exclude = match &self.exclude {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Regex::new(p)
                        .map_err(|e| format!("exclude[{i}]: invalid regular expression: {e}"))
                })
                .collect::<Result<_, _>>()?,
            None => DEFAULT_EXCLUDE
                .iter()
                .map(|p| Regex::new(p).expect("the default compiles"))
                .collect(),
        };
        if self.keys.is_empty() {
            return Err("keys: give at least one sort key".into());
        }
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| compile_key(i, key, pattern.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Compiled {
            pattern,
            exclude,
            keys,
        })
    }
}

fn compile_key(i: usize, key: &Key, pattern: Option<&Regex>) -> Result<CompiledKey, String> {
    let field = format!("keys[{i}].group");
    let group = match (&key.group, key.key_type) {
        (Some(_), KeyType::Created) => {
            return Err(format!(
                "{field}: a `created` key compares the registry's creation time and takes no group"
            ))
        }
        (None, _) => 0,
        (Some(name), _) => group_index(name, pattern).ok_or_else(|| {
            format!(
                "{field}: `{name}` is not a group of pattern ({})",
                groups(pattern)
            )
        })?,
    };
    Ok(CompiledKey {
        group,
        key_type: key.key_type,
        order: key.order,
    })
}

/// The index of group `name` (a name or a number) in `pattern`.
fn group_index(name: &str, pattern: Option<&Regex>) -> Option<usize> {
    let count = pattern.map_or(1, Regex::captures_len);
    if let Ok(n) = name.parse::<usize>() {
        return (n < count).then_some(n);
    }
    pattern?.capture_names().position(|n| n == Some(name))
}

fn groups(pattern: Option<&Regex>) -> String {
    let Some(pattern) = pattern else {
        return "without a pattern the only group is 0, the whole tag".into();
    };
    let names: Vec<String> = pattern
        .capture_names()
        .enumerate()
        .map(|(i, name)| match name {
            Some(n) => format!("{i} or {n}"),
            None => i.to_string(),
        })
        .collect();
    format!("groups: {}", names.join(", "))
}
