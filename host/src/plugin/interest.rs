//! Interest: which objects of a render a mutator or validator is shown.
//!
//! A plugin declares the objects it wants in a custom section named
//! [`SECTION`] (the Rust SDK's `declare_interest!`, or `rekon plugin annotate
//! --interest` for any language), beside its capabilities. The host passes a
//! plugin only the objects that match, puts its answer back in place and never
//! copies the others into the sandbox: less for a plugin to see, and less to
//! serialize, copy and parse on every render.
//!
//! The format, and why:
//!
//! * **One rule per line, each a JSON object**, `#` comments and blank lines
//!   ignored: the linker concatenates sections of the same name from several
//!   object files, and lines still parse after that. JSON rather than a
//!   home-made syntax because every language can write it and a label
//!   selector is already a JSON shape (`matchLabels`, `matchExpressions`).
//! * **Fields** (all optional, unknown ones refused): `groups` (API groups,
//!   `""` the core group), `kinds`, `namespaces` (given: only namespaced
//!   objects in those), `selector` (a Kubernetes label selector). Within a
//!   rule every given field must match; an object is shown when any rule
//!   matches.
//! * **No section means every object**, so plugins built before interests
//!   existed (and 0.1.0 components) work unchanged. A section without a rule
//!   is refused: it would show the plugin nothing, which is never meant.
//! * **Secrets are apart.** Whatever the interest says, a Secret (or a kind
//!   the operator lists in `[render] sensitive`) is shown only to a plugin
//!   granted `secrets`; see [`Sensitive`].
//!
//! A component's own section replaces its core modules' sections (the same
//! rule as capabilities). `rekon plugin compile` records both in the
//! precompiled artifact ([`super::artifact`]); an artifact from before it did
//! sees every object (Secrets still only with the grant).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::capabilities::{DeclarationError, DeclaredIn, KindName};
use crate::flux::objects::LabelSelector;

/// Name of the custom section that holds a plugin's interest.
pub const SECTION: &str = "rekon.interest";

/// What a plugin wants to be shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Interest {
    /// `None`: every object (no declaration).
    rules: Option<Vec<Rule>>,
    /// Where the declaration was found.
    pub declared_in: DeclaredIn,
}

/// One line of a declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    groups: Option<Vec<String>>,
    kinds: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
    selector: Option<LabelSelector>,
    /// The line as declared, for `rekon plugin inspect`.
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    groups: Option<Vec<String>>,
    kinds: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
    selector: Option<LabelSelector>,
}

impl Interest {
    /// Every object: the interest of a plugin that declares none.
    pub fn everything(declared_in: DeclaredIn) -> Interest {
        Interest {
            rules: None,
            declared_in,
        }
    }

    /// Parse a declaration's text (see the module docs for the format).
    pub fn parse(text: &str, declared_in: DeclaredIn) -> Result<Interest, DeclarationError> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| DeclarationError::Interest {
                line: i + 1,
                message,
            };
            let rule: RuleText = serde_json::from_str(line).map_err(|e| {
                // serde_json's message ends with "at line 1 column N"; the
                // line is ours to give.
                let message = e.to_string();
                bad(match message.rfind(" at line ") {
                    Some(at) => message[..at].to_string(),
                    None => message,
                })
            })?;
            for (field, list) in [
                ("groups", &rule.groups),
                ("kinds", &rule.kinds),
                ("namespaces", &rule.namespaces),
            ] {
                if list.as_ref().is_some_and(Vec::is_empty) {
                    return Err(bad(format!(
                        "`{field}` is empty, which matches nothing; leave the field out to match any"
                    )));
                }
            }
            if let Some(selector) = &rule.selector {
                check_selector(selector).map_err(|m| bad(format!("selector: {m}")))?;
            }
            rules.push(Rule {
                groups: rule.groups,
                kinds: rule.kinds,
                namespaces: rule.namespaces,
                selector: rule.selector,
                text: line.to_string(),
            });
        }
        if rules.is_empty() {
            return Err(DeclarationError::Interest {
                line: 0,
                message: "it declares no rule, so the plugin would be shown nothing; \
                          remove the section to show it every object"
                    .into(),
            });
        }
        Ok(Interest {
            rules: Some(rules),
            declared_in,
        })
    }

    /// Whether the plugin declared anything (else it sees every object).
    pub fn is_declared(&self) -> bool {
        self.rules.is_some()
    }

    /// The declared rules as written, one per line (empty: every object).
    pub fn lines(&self) -> Vec<&str> {
        self.rules
            .iter()
            .flatten()
            .map(|r| r.text.as_str())
            .collect()
    }

    /// Whether `object` matches the interest (Secrets aside, see [`Sensitive`]).
    pub fn matches(&self, object: &Value) -> bool {
        let Some(rules) = &self.rules else {
            return true;
        };
        let group = group_of(object);
        let kind = str_at(object, &["kind"]);
        let namespace = str_at(object, &["metadata", "namespace"]);
        rules.iter().any(|r| {
            r.groups
                .as_ref()
                .is_none_or(|g| g.iter().any(|g| g == group))
                && r.kinds.as_ref().is_none_or(|k| k.iter().any(|k| k == kind))
                && r.namespaces
                    .as_ref()
                    .is_none_or(|n| !namespace.is_empty() && n.iter().any(|n| n == namespace))
                && r.selector
                    .as_ref()
                    .is_none_or(|s| s.matches(&labels(object)))
        })
    }
}

impl fmt::Display for Interest {
    /// `every object`, or the rules joined with `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rules {
            None => f.write_str("every object"),
            Some(_) => f.write_str(&self.lines().join("; ")),
        }
    }
}

impl serde::Serialize for Interest {
    /// The rules as JSON objects (`null`: every object).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.rules {
            None => s.serialize_none(),
            Some(rules) => s.collect_seq(
                rules
                    .iter()
                    .map(|r| serde_json::from_str::<Value>(&r.text).unwrap_or(Value::Null)),
            ),
        }
    }
}

/// Kinds that are shown only to plugins granted `secrets`: `v1` Secrets and
/// whatever the operator lists in `[render] sensitive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sensitive {
    /// Extra kinds from the configuration.
    pub kinds: Vec<KindName>,
}

impl Sensitive {
    /// Whether `object` is a Secret or a kind the operator marked sensitive.
    pub fn covers(&self, object: &Value) -> bool {
        let kind = str_at(object, &["kind"]);
        let group = group_of(object);
        (kind == "Secret" && group.is_empty()) || self.kinds.iter().any(|k| k.matches(group, kind))
    }
}

/// The API group of an object (`""` for the core group).
pub fn group_of(object: &Value) -> &str {
    match str_at(object, &["apiVersion"]).split_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// The string at `path` (keys), or `""`. Not `Value::pointer`, which
/// allocates for every segment: this runs for every object and plugin of a
/// render.
fn str_at<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(object, |value, key| value.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Refuse what Kubernetes refuses in a label selector: an unknown operator,
/// `In`/`NotIn` without values, `Exists`/`DoesNotExist` with some.
fn check_selector(selector: &LabelSelector) -> Result<(), String> {
    for (i, r) in selector.match_expressions.iter().enumerate() {
        let at = format!("matchExpressions[{i}]");
        match r.operator.as_str() {
            "In" | "NotIn" if r.values.is_empty() => {
                return Err(format!("{at}: operator `{}` needs `values`", r.operator))
            }
            "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                return Err(format!("{at}: operator `{}` takes no `values`", r.operator))
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(format!(
                    "{at}: unknown operator `{other}` (known: In, NotIn, Exists, DoesNotExist)"
                ))
            }
        }
    }
    Ok(())
}

/// Read the interest of a component: its own [`SECTION`] if it has one, else
/// its core modules' sections concatenated, else every object.
pub fn read(component: &[u8]) -> Result<Interest, DeclarationError> {
    let (outer, inner) = super::capabilities::section_texts(component, SECTION)?;
    from_texts(outer.as_deref(), inner.as_deref())
}

/// [`read`] from the texts `section_texts` found (a precompiled artifact
/// records them, see [`super::artifact`]).
pub(crate) fn from_texts(
    outer: Option<&str>,
    inner: Option<&str>,
) -> Result<Interest, DeclarationError> {
    match (outer, inner) {
        (Some(text), _) => Interest::parse(text, DeclaredIn::Component),
        (None, Some(text)) => Interest::parse(text, DeclaredIn::CoreModule),
        (None, None) => Ok(Interest::everything(DeclaredIn::Nowhere)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Interest, String> {
        Interest::parse(text, DeclaredIn::Component).map_err(|e| e.to_string())
    }

    fn deployment(ns: &str, app: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": ns, "labels": {"app": app}}})
    }

    #[test]
    fn rules_match_by_group_kind_namespace_and_selector() {
        let i = parse(
            "# workloads of the website\n\
             {\"groups\":[\"apps\"],\"kinds\":[\"Deployment\"],\"namespaces\":[\"website\"],\
              \"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"frontend\"]}]}}\n\
             \n{\"groups\":[\"\"],\"kinds\":[\"ConfigMap\"]}",
        )
        .unwrap();
        assert!(i.matches(&deployment("website", "frontend")));
        assert!(!i.matches(&deployment("website", "api")));
        assert!(!i.matches(&deployment("kube-system", "frontend")));
        assert!(
            i.matches(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
        );
        // Same kind name, another group: not the core ConfigMap.
        assert!(!i.matches(
            &json!({"apiVersion": "example.com/v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        ));
        assert_eq!(i.lines().len(), 2);
        // A namespace rule never matches a cluster-scoped object.
        let ns = parse(r#"{"namespaces":["website"]}"#).unwrap();
        assert!(!ns.matches(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "website"}})
        ));
        assert!(Interest::everything(DeclaredIn::Nowhere).matches(&deployment("x", "y")));
    }

    #[test]
    fn bad_declarations_name_the_line_and_the_field() {
        let err = parse("{\"groups\":[\"apps\"]}\n{\"kind\":[\"Deployment\"]}").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("unknown field `kind`"), "{err}");
        assert!(!err.contains("column"), "{err}");
        let err = parse(r#"{"selector":{"matchExpressions":[{"key":"a","operator":"Is"}]}}"#)
            .unwrap_err();
        assert!(
            err.contains("selector: matchExpressions[0]: unknown operator `Is`"),
            "{err}"
        );
        let err = parse(r#"{"selector":{"matchExpressions":[{"key":"a","operator":"In"}]}}"#)
            .unwrap_err();
        assert!(err.contains("needs `values`"), "{err}");
        let err = parse(r#"{"kinds":[]}"#).unwrap_err();
        assert!(err.contains("`kinds` is empty"), "{err}");
        let err = parse("# nothing\n").unwrap_err();
        assert!(err.contains("no rule"), "{err}");
        assert!(parse("apps/Deployment").unwrap_err().contains("line 1"));
    }

    #[test]
    fn secrets_and_listed_kinds_are_sensitive() {
        let s = Sensitive {
            kinds: vec!["bitnami.com/SealedSecret".parse().unwrap()],
        };
        assert!(s.covers(&json!({"apiVersion": "v1", "kind": "Secret"})));
        assert!(s.covers(&json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret"})));
        assert!(!s.covers(&json!({"apiVersion": "example.com/v1", "kind": "Secret"})));
        assert!(!s.covers(&json!({"apiVersion": "v1", "kind": "ConfigMap"})));
    }
}
