//! Pruning: objects of the inventory that left git are deleted, in reverse
//! apply order (workloads before Namespaces and CRDs), but only when the live
//! object still carries this kustomization's ownership label and is not
//! annotated `rekon.dev/prune: disabled`. A pruned Namespace takes what is
//! left in it along, as with Flux.

use std::fmt;

use kube::api::DeleteParams;

use super::api::{is_not_found, with_retry};
use super::discovery::Resolver;
use super::error::reason;
use super::object::{annotation, apply_order, label, ObjectRef, OWNER_LABEL, PRUNE_ANNOTATION};
use super::plan::to_value;
use super::Cluster;

/// What pruning did (or would do) with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The object.
    pub object: ObjectRef,
    /// What happened.
    pub outcome: PruneOutcome,
}

/// What happened to one object that left git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PruneOutcome {
    /// Deleted.
    Deleted,
    /// Would be deleted (a dry-run).
    WouldDelete,
    /// Already gone (or its kind is no longer served).
    Gone,
    /// Kept: the live object does not carry this kustomization's ownership
    /// label (the owner it names, if any).
    NotOwned(Option<String>),
    /// Kept: annotated `rekon.dev/prune: disabled` or Flux's
    /// `kustomize.toolkit.fluxcd.io/prune: disabled` (the annotation).
    OptedOut(&'static str),
    /// The delete failed; the object stays in the inventory for next time.
    Failed(String),
}

impl fmt::Display for PruneOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PruneOutcome::Deleted => f.write_str("deleted"),
            PruneOutcome::WouldDelete => f.write_str("would delete"),
            PruneOutcome::Gone => f.write_str("already gone"),
            PruneOutcome::NotOwned(None) => {
                write!(f, "kept: no `{OWNER_LABEL}` label, not rekon's")
            }
            PruneOutcome::NotOwned(Some(owner)) => {
                write!(f, "kept: labelled `{OWNER_LABEL}: {owner}`")
            }
            PruneOutcome::OptedOut(key) => write!(f, "kept: annotated `{key}: disabled`"),
            PruneOutcome::Failed(reason) => write!(f, "delete failed: {reason}"),
        }
    }
}

/// Entries of `inventory` that are not `desired`, in deletion order.
pub(crate) fn stale(inventory: &[ObjectRef], desired: &[ObjectRef]) -> Vec<ObjectRef> {
    let mut stale: Vec<ObjectRef> = inventory
        .iter()
        .filter(|e| !desired.iter().any(|d| d.key() == e.key()))
        .cloned()
        .collect();
    stale.sort_by_key(|e| apply_order(&e.kind));
    stale.reverse();
    stale
}

impl Cluster {
    /// Delete (or with `dry_run`, only check) `stale` objects of `kustomization`.
    pub(crate) async fn delete_stale(
        &self,
        kustomization: &str,
        resolver: &Resolver,
        stale: &[ObjectRef],
        dry_run: bool,
    ) -> Vec<Pruned> {
        let mut pruned = Vec::with_capacity(stale.len());
        for object in stale {
            let outcome = self
                .prune_one(kustomization, resolver, object, dry_run)
                .await;
            pruned.push(Pruned {
                object: object.clone(),
                outcome,
            });
        }
        pruned
    }

    async fn prune_one(
        &self,
        kustomization: &str,
        resolver: &Resolver,
        object: &ObjectRef,
        dry_run: bool,
    ) -> PruneOutcome {
        let Some(target) = resolver.resolve(object) else {
            return PruneOutcome::Gone;
        };
        let retry = &self.options.retry;
        let api = target.api(&self.client, object.namespace.as_deref());
        let what = object.to_string();
        let live = match with_retry(retry, &format!("reading {what}"), || {
            api.get_opt(&object.name)
        })
        .await
        {
            Ok(Some(live)) => to_value(live),
            Ok(None) => return PruneOutcome::Gone,
            Err(e) => return PruneOutcome::Failed(reason(&e)),
        };
        match label(&live, OWNER_LABEL) {
            Some(owner) if owner == kustomization => {}
            owner => return PruneOutcome::NotOwned(owner.map(str::to_string)),
        }
        // Flux's annotation too, so a repository written for Flux keeps its meaning.
        if let Some(key) = [PRUNE_ANNOTATION, crate::flux::PRUNE_ANNOTATION]
            .into_iter()
            .find(|key| annotation(&live, key) == Some("disabled"))
        {
            return PruneOutcome::OptedOut(key);
        }
        if dry_run {
            return PruneOutcome::WouldDelete;
        }
        let params = DeleteParams::background();
        match with_retry(retry, &format!("deleting {what}"), || {
            api.delete(&object.name, &params)
        })
        .await
        {
            Ok(_) => PruneOutcome::Deleted,
            Err(e) if is_not_found(&e) => PruneOutcome::Gone,
            Err(e) => PruneOutcome::Failed(reason(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn stale_is_in_reverse_apply_order_and_ignores_versions() {
        let inventory = [
            o("v1", "Namespace", None, "site"),
            o("apps/v1", "Deployment", Some("site"), "web"),
            o("v1", "Service", Some("site"), "web"),
            o("networking.k8s.io/v1beta1", "Ingress", Some("site"), "web"),
        ];
        let desired = [o("networking.k8s.io/v1", "Ingress", Some("site"), "web")];
        let names: Vec<String> = stale(&inventory, &desired)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            ["Deployment/site/web", "Service/site/web", "Namespace/site"]
        );
    }
}
