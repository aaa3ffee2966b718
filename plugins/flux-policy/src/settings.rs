//! The settings: the JSON of a Flux `ImagePolicy` `spec` without
//! `imageRepositoryRef`, plus the `exclusionList` of Flux's `ImageRepository`.

use crate::constraints::Constraints;
use crate::expand::{self, Reference, Template};
use regex::Regex;
use serde::Deserialize;

/// Flux's default `ImageRepository.spec.exclusionList`: cosign signatures.
pub const DEFAULT_EXCLUSION_LIST: &[&str] = &[r"^.*\.sig$"];

/// Settings of the flux-policy plugin.
///
/// ```json
/// {
///   "filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"},
///   "policy": {"numerical": {"order": "asc"}}
/// }
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Which tags take part and what of them is compared (Flux `filterTags`).
    pub filter_tags: Option<FilterTags>,
    /// How tags are ordered (Flux `policy`): exactly one of its fields.
    pub policy: Option<PolicyChoice>,
    /// Regular expressions of tags to ignore before anything else (Flux
    /// `ImageRepository.spec.exclusionList`). Missing or empty means
    /// [`DEFAULT_EXCLUSION_LIST`], as in Flux; a non-empty list replaces it.
    pub exclusion_list: Option<Vec<String>>,
    /// Accepted so a Flux spec can be pasted as it is; rekon ignores it (the
    /// host decides how digests are pinned).
    pub digest_reflection_policy: Option<ReflectionPolicy>,
    /// Accepted so a Flux spec can be pasted as it is; rekon ignores it.
    pub interval: Option<String>,
    /// Accepted so a Flux spec can be pasted; only `false` is allowed, since the
    /// plugin cannot suspend rekon (remove the plugin from rekon.toml instead).
    pub suspend: Option<bool>,
}

/// Flux `filterTags`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterTags {
    /// Regular expression (RE2 syntax, as the `regex` crate implements it) a tag
    /// must match somewhere to take part; empty matches every tag.
    pub pattern: String,
    /// Template of the value the policy compares, expanded with the groups of
    /// `pattern` like Go's `Regexp.ExpandString` (`$ts`, `${ts}`, `$1`, `$$`);
    /// empty means the whole tag.
    pub extract: String,
}

/// Flux `policy`: exactly one field must be set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyChoice {
    /// Highest semantic version within a range.
    pub semver: Option<SemVerPolicy>,
    /// Last (`asc`) or first (`desc`) in byte-wise string order.
    pub alphabetical: Option<OrderPolicy>,
    /// Largest (`asc`) or smallest (`desc`) number.
    pub numerical: Option<OrderPolicy>,
}

/// Flux `policy.semver`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemVerPolicy {
    /// A Masterminds/semver constraint, e.g. `>=1.0.0 <2.0.0`, `^1.x-0`.
    pub range: String,
}

/// Flux `policy.alphabetical` and `policy.numerical`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderPolicy {
    /// `asc` (default) or `desc`, in any case.
    pub order: String,
}

/// Flux `digestReflectionPolicy` values.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum ReflectionPolicy {
    /// `Always`.
    Always,
    /// `IfNotPresent`.
    IfNotPresent,
    /// `Never`.
    Never,
}

/// Settings checked and compiled: what [`Compiled::rank`](crate::Compiled::rank) runs.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub(crate) exclusions: Vec<Regex>,
    /// The tag filter and, when `extract` is not empty, its template.
    pub(crate) filter: Option<(Regex, Option<Template>)>,
    pub(crate) order: Order,
}

/// The policy, ready to order values.
#[derive(Clone, Debug)]
pub(crate) enum Order {
    Alphabetical { descending: bool },
    Numerical { descending: bool },
    SemVer(Constraints),
}

impl Settings {
    /// Parses settings JSON (see [`rekon_plugin_sdk::settings::parse`]).
    pub fn from_json(text: &str) -> Result<Settings, String> {
        rekon_plugin_sdk::settings::parse(text)
    }

    /// Checks everything Flux checks (and a little more, see the README) and
    /// compiles the regular expressions and the range. Errors start with the
    /// field path, e.g. `filterTags.pattern: invalid regular expression ...`.
    pub fn compile(&self) -> Result<Compiled, String> {
        if self.suspend == Some(true) {
            return Err(
                "suspend: rekon cannot suspend an image policy; remove the plugin from rekon.toml instead"
                    .into(),
            );
        }
        let exclusions = match &self.exclusion_list {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, pattern)| {
                    Regex::new(pattern).map_err(|e| {
                        format!("exclusionList[{i}]: failed to compile regex {pattern}: {e}")
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => DEFAULT_EXCLUSION_LIST
                .iter()
                .map(|p| Regex::new(p).expect("the default compiles"))
                .collect(),
        };
        let filter = match &self.filter_tags {
            None => None,
            Some(f) => {
                let regex = Regex::new(&f.pattern).map_err(|e| {
                    format!(
                        "filterTags.pattern: invalid regular expression pattern '{}': {e}",
                        f.pattern
                    )
                })?;
                check_extract(&regex, &f.extract)?;
                let template =
                    (!f.extract.is_empty()).then(|| Template::compile(&f.extract, &regex));
                Some((regex, template))
            }
        };
        Ok(Compiled {
            exclusions,
            filter,
            order: self.order()?,
        })
    }

    fn order(&self) -> Result<Order, String> {
        let invalid = || {
            "policy: set exactly one of `alphabetical`, `numerical` or `semver` \
             (given ImagePolicyChoice object is invalid)"
                .to_string()
        };
        let choice = self.policy.as_ref().ok_or_else(invalid)?;
        match (&choice.semver, &choice.alphabetical, &choice.numerical) {
            (Some(semver), None, None) => Constraints::parse(&semver.range)
                .map(Order::SemVer)
                .map_err(|e| format!("policy.semver.range: {e}")),
            (None, Some(alphabetical), None) => Ok(Order::Alphabetical {
                descending: descending("policy.alphabetical.order", &alphabetical.order)?,
            }),
            (None, None, Some(numerical)) => Ok(Order::Numerical {
                descending: descending("policy.numerical.order", &numerical.order)?,
            }),
            _ => Err(invalid()),
        }
    }
}

/// Flux upper-cases the order and accepts `""`, `ASC` and `DESC`.
fn descending(field: &str, order: &str) -> Result<bool, String> {
    match order.to_uppercase().as_str() {
        "" | "ASC" => Ok(false),
        "DESC" => Ok(true),
        other => Err(format!(
            "{field}: invalid order argument provided: '{other}', must be one of: ASC, DESC"
        )),
    }
}

/// Refuses references to groups the pattern does not have. Flux accepts them
/// and expands them to nothing, which makes every tag compare equal; that is
/// never what the operator meant, so rekon says so when loading the plugin.
fn check_extract(regex: &Regex, extract: &str) -> Result<(), String> {
    for reference in expand::references(extract) {
        let ok = match reference {
            Reference::Number(n) => n < regex.captures_len(),
            Reference::Name(name) => regex.capture_names().any(|n| n == Some(name)),
        };
        if !ok {
            let shown = match reference {
                Reference::Number(n) => format!("${n}"),
                Reference::Name(name) => format!("${name}"),
            };
            let names: Vec<String> = regex
                .capture_names()
                .enumerate()
                .skip(1)
                .map(|(i, name)| name.map_or(format!("${i}"), |n| format!("${i} (${n})")))
                .collect();
            let available = if names.is_empty() {
                "the pattern has no groups".to_string()
            } else {
                format!("the pattern has {}", names.join(", "))
            };
            return Err(format!(
                "filterTags.extract: `{shown}` refers to no group of filterTags.pattern ({available}); write `$$` for a literal `$`"
            ));
        }
    }
    Ok(())
}
