//! Scope: what a mutator may change, checked on every answer.
//!
//! By default a mutator may change fields of the objects it was shown and
//! nothing else. The operator grants more per plugin: `rename` (a new
//! namespace or name), `create` and `delete` (each perhaps limited to kinds).
//! An object's apiVersion and kind never change in place: that is a removal
//! and an addition, and needs both grants. The host checks the whole answer
//! before any of it is used, so an overstep stops the render with nothing
//! applied, and the error names the plugin, the object and what it tried.
//!
//! `rekon:plugin@0.2.0` answers with explicit replacements, removals and
//! additions. A 0.1.0 component returns the whole list; [`from_full_list`]
//! turns that into the same three parts (see there for how), so the same
//! rules hold for it.

use std::collections::HashMap;

use serde_json::Value;

use super::bindings::{Changes, Replacement};
use super::capabilities::{Capability, Grant, KindName};
use super::interest::group_of;
use super::PluginError;
use crate::render::identity;

/// What a mutator tried that its grant does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overstep {
    /// A new namespace or name without `rename`.
    #[error("it moved or renamed {object} to {to} (changing an object's namespace or name needs the `rename` grant)")]
    Renamed {
        /// The object as it was (`Kind/namespace/name`).
        object: String,
        /// What the plugin made of it.
        to: String,
    },
    /// A new apiVersion or kind in place.
    #[error(
        "it changed {object} ({from}) into {to} ({into}) in place; an object's apiVersion and kind never change: \
         remove it and add the new object instead (which needs the `delete` and `create` grants)"
    )]
    Retyped {
        /// The object as it was.
        object: String,
        /// Its apiVersion and kind before.
        from: String,
        /// What the plugin made of it.
        to: String,
        /// The apiVersion and kind after.
        into: String,
    },
    /// An added object without `create` (for its kind).
    #[error("it added {object} ({api}){}", limit_note("create", limited))]
    Added {
        /// The added object.
        object: String,
        /// Its apiVersion and kind.
        api: String,
        /// The kinds `create` is limited to, if it is granted at all.
        limited: Option<Vec<KindName>>,
    },
    /// A removed object without `delete` (for its kind).
    #[error("it removed {object} ({api}){}", limit_note("delete", limited))]
    Removed {
        /// The removed object.
        object: String,
        /// Its apiVersion and kind.
        api: String,
        /// The kinds `delete` is limited to, if it is granted at all.
        limited: Option<Vec<KindName>>,
    },
}

fn limit_note(grant: &str, limited: &Option<Vec<KindName>>) -> String {
    match limited {
        None => format!(" (that needs the `{grant}` grant)"),
        Some(kinds) => format!(
            " (its `{grant}` grant is limited to {})",
            kinds
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A checked mutation, in the positions of the whole render.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mutation {
    /// Objects changed in place: render position and the new object.
    pub replaced: Vec<(usize, Value)>,
    /// Render positions of removed objects, ascending.
    pub removed: Vec<usize>,
    /// Objects added, in the plugin's order (they go at the end of the render).
    pub added: Vec<Value>,
}

impl Mutation {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty() && self.removed.is_empty() && self.added.is_empty()
    }

    /// `objects` (the list it was checked against) after the mutation:
    /// replaced objects in place, removed ones taken out, added ones at the end.
    pub fn apply(self, mut objects: Vec<Value>) -> Vec<Value> {
        for (at, object) in self.replaced {
            objects[at] = object;
        }
        for at in self.removed.iter().rev() {
            objects.remove(*at);
        }
        objects.extend(self.added);
        objects
    }
}

fn api(object: &Value) -> String {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    format!("{} {}", s("/apiVersion"), s("/kind"))
}

fn same(object: &Value, other: &Value, pointer: &str) -> bool {
    object.pointer(pointer).and_then(Value::as_str)
        == other.pointer(pointer).and_then(Value::as_str)
}

/// Check `changes` (positions in the list the plugin was `shown`, which are
/// positions in `objects`) against `grant`, and put them in render positions.
pub(crate) fn check(
    plugin: &str,
    grant: &Grant,
    objects: &[&Value],
    shown: &[usize],
    changes: Changes,
) -> Result<Mutation, PluginError> {
    let bad = |problem: String| PluginError::BadAnswer {
        plugin: plugin.to_string(),
        problem,
    };
    let overstep = |overstep: Overstep| PluginError::Overstep {
        plugin: plugin.to_string(),
        overstep,
    };
    let n = shown.len();
    let mut named = vec![false; n];
    let mut position = |what: &str, index: u32| -> Result<usize, PluginError> {
        let i = index as usize;
        if i >= n {
            return Err(bad(format!(
                "it {what} object {index}, but it was shown {n} object{}",
                if n == 1 { "" } else { "s" }
            )));
        }
        if std::mem::replace(&mut named[i], true) {
            return Err(bad(format!(
                "it names object {index} ({}) more than once among replaced and removed objects",
                identity(objects[shown[i]])
            )));
        }
        Ok(shown[i])
    };
    let parse = |what: String, text: &str| -> Result<Value, PluginError> {
        let object: Value = serde_json::from_str(text)
            .map_err(|e| bad(format!("{what} is not a JSON object: {e}")))?;
        crate::render::check_object(&object).map_err(|m| bad(format!("{what}: {m}")))?;
        Ok(object)
    };

    let mut mutation = Mutation::default();
    for Replacement { index, object } in changes.replaced {
        let at = position("replaced", index)?;
        let before = objects[at];
        let after = parse(
            format!("the new text of object {index} ({})", identity(before)),
            &object,
        )?;
        if !same(before, &after, "/apiVersion") || !same(before, &after, "/kind") {
            return Err(overstep(Overstep::Retyped {
                object: identity(before),
                from: api(before),
                to: identity(&after),
                into: api(&after),
            }));
        }
        if (!same(before, &after, "/metadata/namespace") || !same(before, &after, "/metadata/name"))
            && !grant.capabilities.contains(Capability::Rename)
        {
            return Err(overstep(Overstep::Renamed {
                object: identity(before),
                to: identity(&after),
            }));
        }
        mutation.replaced.push((at, after));
    }
    for index in changes.removed {
        let at = position("removed", index)?;
        let object = objects[at];
        if !grant.may_delete(group_of(object), kind(object)) {
            return Err(overstep(Overstep::Removed {
                object: identity(object),
                api: api(object),
                limited: grant
                    .capabilities
                    .contains(Capability::Delete)
                    .then(|| grant.delete_kinds.clone()),
            }));
        }
        mutation.removed.push(at);
    }
    mutation.removed.sort_unstable();
    for (i, text) in changes.added.iter().enumerate() {
        let object = parse(format!("added object {i}"), text)?;
        if !grant.may_create(group_of(&object), kind(&object)) {
            return Err(overstep(Overstep::Added {
                object: identity(&object),
                api: api(&object),
                limited: grant
                    .capabilities
                    .contains(Capability::Create)
                    .then(|| grant.create_kinds.clone()),
            }));
        }
        mutation.added.push(object);
    }
    Ok(mutation)
}

fn kind(object: &Value) -> &str {
    object
        .pointer("/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A 0.1.0 answer (the whole list) as explicit changes of `inputs`.
///
/// Outputs are matched to inputs by identity (apiVersion, kind, namespace,
/// name), first unused match wins; an output byte-equal to its input is
/// unchanged. What is left over on both sides is paired in order, as an edit
/// in place of the object's identity (a 0.1.0 plugin that moves objects to
/// another namespace returns them where they were): a pair of the same
/// apiVersion and kind is a replacement (and [`check`] then asks for
/// `rename`), any other pair a removal and an addition. Leftover inputs are
/// removed, leftover outputs added.
pub(crate) fn from_full_list(
    plugin: &str,
    inputs: &[String],
    outputs: Vec<String>,
) -> Result<Changes, PluginError> {
    let mut changes = Changes {
        replaced: Vec::new(),
        removed: Vec::new(),
        added: Vec::new(),
    };
    // The common case: the same objects in the same order.
    if inputs.len() == outputs.len() {
        let mut keys_agree = true;
        let mut replaced = Vec::new();
        for (i, (input, output)) in inputs.iter().zip(&outputs).enumerate() {
            if input != output {
                if key(plugin, input)? != key(plugin, output)? {
                    keys_agree = false;
                    break;
                }
                replaced.push(Replacement {
                    index: i as u32,
                    object: output.clone(),
                });
            }
        }
        if keys_agree {
            changes.replaced = replaced;
            return Ok(changes);
        }
    }
    let mut unused: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, input) in inputs.iter().enumerate().rev() {
        unused.entry(key(plugin, input)?).or_default().push(i);
    }
    let mut matched = vec![false; inputs.len()];
    let mut left_out = Vec::new();
    for output in outputs {
        match unused.get_mut(&key(plugin, &output)?).and_then(Vec::pop) {
            Some(i) => {
                matched[i] = true;
                if inputs[i] != output {
                    changes.replaced.push(Replacement {
                        index: i as u32,
                        object: output,
                    });
                }
            }
            None => left_out.push(output),
        }
    }
    let left_in: Vec<usize> = (0..inputs.len()).filter(|i| !matched[*i]).collect();
    let mut left_out = left_out.into_iter();
    for i in left_in {
        match left_out.next() {
            Some(output) if key(plugin, &output)?.api() == key(plugin, &inputs[i])?.api() => {
                changes.replaced.push(Replacement {
                    index: i as u32,
                    object: output,
                })
            }
            Some(output) => {
                changes.removed.push(i as u32);
                changes.added.push(output);
            }
            None => changes.removed.push(i as u32),
        }
    }
    changes.added.extend(left_out);
    Ok(changes)
}

/// apiVersion, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key([String; 4]);

impl Key {
    fn api(&self) -> (&str, &str) {
        (&self.0[0], &self.0[1])
    }
}

fn key(plugin: &str, text: &str) -> Result<Key, PluginError> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        namespace: String,
        #[serde(default)]
        name: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        #[serde(default)]
        api_version: String,
        #[serde(default)]
        kind: String,
        metadata: Option<Meta>,
    }
    let head: Head = serde_json::from_str(text).map_err(|e| PluginError::BadAnswer {
        plugin: plugin.to_string(),
        problem: format!("it returned something that is not a JSON object: {e}"),
    })?;
    let meta = head.metadata.unwrap_or(Meta {
        namespace: String::new(),
        name: String::new(),
    });
    Ok(Key([
        head.api_version,
        head.kind,
        meta.namespace,
        meta.name,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, ns: &str, name: &str) -> Value {
        let api = if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        };
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}})
    }

    fn grant(entries: &[&str]) -> Grant {
        Grant::parse(entries.iter().copied()).unwrap()
    }

    fn run(grant: &Grant, objects: &[Value], changes: Changes) -> Result<Mutation, String> {
        let refs: Vec<&Value> = objects.iter().collect();
        let shown: Vec<usize> = (0..objects.len()).collect();
        check("p", grant, &refs, &shown, changes).map_err(|e| e.to_string())
    }

    fn changes(replaced: Vec<(u32, Value)>, removed: Vec<u32>, added: Vec<Value>) -> Changes {
        Changes {
            replaced: replaced
                .into_iter()
                .map(|(index, o)| Replacement {
                    index,
                    object: o.to_string(),
                })
                .collect(),
            removed,
            added: added.iter().map(Value::to_string).collect(),
        }
    }

    #[test]
    fn fields_may_change_identity_and_membership_need_grants() {
        let objects = [obj("Deployment", "web", "a"), obj("ConfigMap", "web", "b")];
        let mut a2 = objects[0].clone();
        a2["spec"] = json!({"replicas": 2});
        let m = run(
            &Grant::none(),
            &objects,
            changes(vec![(0, a2.clone())], vec![], vec![]),
        )
        .unwrap();
        assert_eq!(m.replaced, vec![(0, a2)]);

        let moved = obj("Deployment", "kube-system", "a");
        let err = run(
            &Grant::none(),
            &objects,
            changes(vec![(0, moved.clone())], vec![], vec![]),
        )
        .unwrap_err();
        assert!(
            err.contains("moved or renamed Deployment/web/a to Deployment/kube-system/a"),
            "{err}"
        );
        assert!(err.contains("`rename`"), "{err}");
        assert!(run(
            &grant(&["rename"]),
            &objects,
            changes(vec![(0, moved)], vec![], vec![])
        )
        .is_ok());

        let retyped = obj("ConfigMap", "web", "a");
        let err = run(
            &grant(&["rename", "create", "delete"]),
            &objects,
            changes(vec![(0, retyped)], vec![], vec![]),
        )
        .unwrap_err();
        assert!(err.contains("never change"), "{err}");

        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "own"}});
        let err = run(
            &Grant::none(),
            &objects,
            changes(vec![], vec![], vec![binding.clone()]),
        )
        .unwrap_err();
        assert!(err.contains("it added ClusterRoleBinding/own (rbac.authorization.k8s.io/v1 ClusterRoleBinding) (that needs the `create` grant)"), "{err}");
        let err = run(
            &grant(&["create:HelmChart"]),
            &objects,
            changes(vec![], vec![], vec![binding.clone()]),
        )
        .unwrap_err();
        assert!(err.contains("limited to `HelmChart`"), "{err}");
        let m = run(
            &grant(&["create:rbac.authorization.k8s.io/ClusterRoleBinding"]),
            &objects,
            changes(vec![], vec![], vec![binding]),
        )
        .unwrap();
        assert_eq!(m.added.len(), 1);

        let err = run(&Grant::none(), &objects, changes(vec![], vec![1], vec![])).unwrap_err();
        assert!(err.contains("it removed ConfigMap/web/b"), "{err}");
        let err = run(
            &grant(&["delete:apps/Deployment"]),
            &objects,
            changes(vec![], vec![1], vec![]),
        )
        .unwrap_err();
        assert!(err.contains("limited to `apps/Deployment`"), "{err}");
        assert_eq!(
            run(
                &grant(&["delete:core/ConfigMap"]),
                &objects,
                changes(vec![], vec![1], vec![])
            )
            .unwrap()
            .removed,
            vec![1]
        );
    }

    #[test]
    fn malformed_answers_are_named() {
        let objects = [obj("ConfigMap", "web", "b")];
        let err = run(
            &grant(&["delete"]),
            &objects,
            changes(vec![], vec![3], vec![]),
        )
        .unwrap_err();
        assert!(
            err.contains("it removed object 3, but it was shown 1 object"),
            "{err}"
        );
        let err = run(
            &grant(&["delete"]),
            &objects,
            changes(vec![(0, objects[0].clone())], vec![0], vec![]),
        )
        .unwrap_err();
        assert!(err.contains("more than once"), "{err}");
        let mut c = changes(vec![], vec![], vec![]);
        c.replaced.push(Replacement {
            index: 0,
            object: "{".into(),
        });
        let err = run(&Grant::none(), &objects, c).unwrap_err();
        assert!(
            err.contains("the new text of object 0 (ConfigMap/web/b) is not a JSON object"),
            "{err}"
        );
        let err = run(
            &grant(&["create"]),
            &objects,
            changes(vec![], vec![], vec![json!({"kind": "X"})]),
        )
        .unwrap_err();
        assert!(
            err.contains("added object 0: missing `apiVersion`"),
            "{err}"
        );
    }

    #[test]
    fn full_lists_become_explicit_changes() {
        let t = |v: &Value| v.to_string();
        let a = obj("Deployment", "web", "a");
        let b = obj("ConfigMap", "web", "b");
        let inputs = vec![t(&a), t(&b)];
        let mut a2 = a.clone();
        a2["metadata"]["labels"] = json!({"x": "y"});
        // Same order, one changed.
        let c = from_full_list("p", &inputs, vec![t(&a2), t(&b)]).unwrap();
        assert_eq!(
            (
                c.replaced.len(),
                c.replaced[0].index,
                c.removed.len(),
                c.added.len()
            ),
            (1, 0, 0, 0)
        );
        // Reordered and one added.
        let extra = obj("ConfigMap", "web", "c");
        let c = from_full_list("p", &inputs, vec![t(&b), t(&extra), t(&a)]).unwrap();
        assert!(c.replaced.is_empty() && c.removed.is_empty());
        assert_eq!(c.added, vec![t(&extra)]);
        // One dropped.
        let c = from_full_list("p", &inputs, vec![t(&b)]).unwrap();
        assert_eq!(c.removed, vec![0]);
        // Every object moved: in-place identity edits.
        let moved: Vec<String> = [&a, &b]
            .iter()
            .map(|o| {
                let mut o = (*o).clone();
                o["metadata"]["namespace"] = json!("kube-system");
                t(&o)
            })
            .collect();
        let c = from_full_list("p", &inputs, moved).unwrap();
        assert_eq!(
            c.replaced.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
        // Another kind in place of an object: a removal and an addition.
        let c = from_full_list("p", &inputs, vec![t(&extra), t(&b)]).unwrap();
        assert_eq!((c.removed.clone(), c.added.len()), (vec![0], 1));
        assert!(from_full_list("p", &inputs, vec!["[]".into()]).is_err());
    }
}
