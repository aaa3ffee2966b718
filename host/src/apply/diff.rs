//! `rekon diff`: what an apply would change, as a unified diff of the live
//! object and the server's dry-run result, both as YAML without `status`
//! and server-maintained metadata (managedFields, resourceVersion, ...).

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;
use similar::TextDiff;

use super::error::{ApplyError, Refusal};
use super::object::{normalize, ObjectRef};
use super::plan::{self, Checked, Verdict};
use super::prune::{self, PruneOutcome};
use super::{created_namespaces, inventory, Cluster};
use crate::config::Kustomization;

/// How an object would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It would be created.
    Created,
    /// It has drifted and would be configured.
    Configured,
    /// An immutable field changed; it would be deleted and created again.
    Recreated,
    /// It left git and would be pruned.
    Deleted,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Recreated => "recreated",
            Change::Deleted => "deleted",
        })
    }
}

/// One object an apply would change.
#[derive(Debug, Clone)]
pub struct ObjectDiff {
    /// The object.
    pub object: ObjectRef,
    /// How.
    pub change: Change,
    /// Unified diff of live vs desired YAML (empty for deletions).
    pub diff: String,
}

impl Cluster {
    /// What applying `objects` for `k` would change, without changing
    /// anything (server-side dry-runs and reads only). Objects the server
    /// refuses make it fail as [`Cluster::apply`] would.
    pub async fn diff(
        &self,
        k: &Kustomization,
        objects: &[Value],
    ) -> Result<Vec<ObjectDiff>, ApplyError> {
        let retry = &self.options.retry;
        let inventory = inventory::read(&self.client, retry, &k.owner()).await?;
        let (resolver, desired) = self.prepare(k, objects, &inventory).await?;
        let namespaces: HashSet<String> = created_namespaces(&desired);
        let mut diffs = Vec::new();
        let mut refusals = Vec::new();
        for d in &desired {
            let planned = match plan::check(&self.client, retry, k, d, &namespaces).await? {
                Checked::Planned(p) => p,
                Checked::Refused(reason) => {
                    refusals.push(Refusal {
                        object: d.id.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let change = match planned.verdict {
                Verdict::Unchanged => continue,
                Verdict::Apply { created: true, .. } | Verdict::Deferred => Change::Created,
                Verdict::Apply { created: false, .. } => Change::Configured,
                Verdict::Recreate => Change::Recreated,
            };
            // Deferred and recreated objects have no dry-run result: show what git has.
            let desired_side = planned.merged.as_ref().unwrap_or(&d.object);
            diffs.push(ObjectDiff {
                object: d.id.clone(),
                change,
                diff: unified(&d.id, planned.live.as_ref(), desired_side),
            });
        }
        if !refusals.is_empty() {
            return Err(ApplyError::DryRun {
                kustomization: k.name.clone(),
                refusals,
            });
        }
        if k.prune {
            let ids: Vec<ObjectRef> = desired.iter().map(|d| d.id.clone()).collect();
            let stale = prune::stale(&inventory, &ids);
            for p in self.delete_stale(&k.owner(), &resolver, &stale, true).await {
                if p.outcome == PruneOutcome::WouldDelete {
                    diffs.push(ObjectDiff {
                        object: p.object,
                        change: Change::Deleted,
                        diff: String::new(),
                    });
                }
            }
        }
        Ok(diffs)
    }
}

/// Unified diff of `live` (absent: empty) and `desired`, as YAML, Secret
/// values masked.
fn unified(id: &ObjectRef, live: Option<&Value>, desired: &Value) -> String {
    let (mut live, mut desired) = (live.map(normalize), normalize(desired));
    mask_secrets(live.as_mut(), &mut desired);
    let yaml = |v: &Value| rekon_kustomize::to_yaml_document(v);
    let before = live.as_ref().map(yaml).unwrap_or_default();
    let after = yaml(&desired);
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{id}"), &format!("desired/{id}"))
        .to_string()
}

/// As `flux diff`: a Secret's `data` and `stringData` values show as
/// `*****`, or `***** (before)` and `***** (after)` where they differ, so
/// the diff says which keys change and never what they hold.
fn mask_secrets(mut live: Option<&mut Value>, desired: &mut Value) {
    if desired["kind"] != "Secret" {
        return;
    }
    for field in ["data", "stringData"] {
        let before = live
            .as_ref()
            .and_then(|l| l.get(field))
            .cloned()
            .unwrap_or(Value::Null);
        let after = desired.get(field).cloned().unwrap_or(Value::Null);
        let mask = |map: Option<&mut serde_json::Map<String, Value>>, other: &Value, side: &str| {
            for (key, v) in map.into_iter().flatten() {
                let same = other.get(key.as_str()) == Some(&*v);
                *v = Value::String(if same {
                    "*****".into()
                } else {
                    format!("***** ({side})")
                });
            }
        };
        if let Some(live) = live.as_deref_mut() {
            mask(
                live.get_mut(field).and_then(Value::as_object_mut),
                &after,
                "before",
            );
        }
        mask(
            desired.get_mut(field).and_then(Value::as_object_mut),
            &before,
            "after",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_leaves_out_server_fields() {
        let id = ObjectRef::of(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
        )
        .unwrap();
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "3", "managedFields": [{}]}, "data": {"k": "1"}});
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "3"}, "data": {"k": "2"}});
        let d = unified(&id, Some(&live), &desired);
        assert!(
            d.starts_with("--- live/ConfigMap/a\n+++ desired/ConfigMap/a\n"),
            "{d}"
        );
        assert!(
            d.contains("-  k: \"1\"") && d.contains("+  k: \"2\""),
            "{d}"
        );
        assert!(
            !d.contains("managedFields") && !d.contains("resourceVersion"),
            "{d}"
        );
    }

    #[test]
    fn secret_values_are_masked() {
        let id = ObjectRef::of(
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
        )
        .unwrap();
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "b2xk", "same": "eA=="}});
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "bmV3", "same": "eA=="}, "stringData": {"p": "hunter2"}});
        let d = unified(&id, Some(&live), &desired);
        assert!(
            d.contains("-  a: \"***** (before)\"") && d.contains("+  a: \"***** (after)\""),
            "{d}"
        );
        assert!(
            d.contains(" same: \"*****\"") && d.contains("+  p: \"***** (after)\""),
            "{d}"
        );
        assert!(
            !d.contains("b2xk")
                && !d.contains("bmV3")
                && !d.contains("hunter2")
                && !d.contains("eA=="),
            "{d}"
        );
    }
}
