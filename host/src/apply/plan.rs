//! The plan: rendered objects made ready for the cluster (namespace,
//! ownership label, apply order), then checked one by one with a server-side
//! dry-run, whose answer says whether each is new, drifted or unchanged, or
//! why the server refuses it.

use std::collections::HashSet;

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::api::{
    field_conflicts, immutable_field, missing_namespace, takes_over, transient, with_retry, Retry,
};
use super::discovery::{Resolver, Target};
use super::error::{reason, ApplyError, Reason};
use super::object::{apply_order, normalize, ObjectRef, FIELD_MANAGER, OWNER_LABEL};
use crate::config::Kustomization;

/// A rendered object as rekon will apply it.
#[derive(Clone)]
pub(crate) struct Desired {
    /// Its identity, namespace filled in.
    pub id: ObjectRef,
    /// The object, with namespace and ownership label set.
    pub object: Value,
    /// Where it is served (`None` when the cluster does not serve its kind).
    pub target: Option<Target>,
    /// Its kind is defined by a CRD of the same set (so it may be served
    /// once that CRD is applied).
    pub defined_in_set: bool,
}

/// What the dry-run decided for one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// New or drifted: apply, with `force` when the fields to take over
    /// belong only to managers rekon takes over from.
    Apply { created: bool, force: bool },
    /// The cluster already matches.
    Unchanged,
    /// An immutable field changed and the kustomization allows recreating.
    Recreate,
    /// Cannot be checked before the set's CRDs or Namespaces exist.
    Deferred,
}

/// The dry-run's answer for one object.
pub(crate) struct Planned {
    pub verdict: Verdict,
    /// The live object, if it exists.
    pub live: Option<Value>,
    /// What the server would store (`None` for deferred and recreated objects).
    pub merged: Option<Value>,
}

/// A dry-run either plans the object or the server refuses it.
pub(crate) enum Checked {
    Planned(Planned),
    Refused(Reason),
}

/// Identities of `objects` (for discovery, before namespaces are known).
pub(crate) fn identities(
    kustomization: &str,
    objects: &[Value],
) -> Result<Vec<ObjectRef>, ApplyError> {
    objects
        .iter()
        .enumerate()
        .map(|(index, o)| {
            ObjectRef::of(o).map_err(|message| ApplyError::Malformed {
                kustomization: kustomization.into(),
                index,
                message,
            })
        })
        .collect()
}

/// Make `objects` ready to apply: namespace set on namespaced objects
/// (`default_namespace` when they name none) and removed from cluster-scoped
/// ones, the ownership label set, sorted in apply order.
pub(crate) fn prepare(
    kustomization: &str,
    objects: &[Value],
    resolver: &Resolver,
    default_namespace: &str,
) -> Result<Vec<Desired>, ApplyError> {
    let ids = identities(kustomization, objects)?;
    // Kinds the set's own CRDs define: (group, kind) -> namespaced.
    let crd_kinds: Vec<(String, String, bool)> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| {
            Some((
                o.pointer("/spec/group")?.as_str()?.to_string(),
                o.pointer("/spec/names/kind")?.as_str()?.to_string(),
                o.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster"),
            ))
        })
        .collect();
    let mut desired = Vec::with_capacity(objects.len());
    for (mut id, object) in ids.into_iter().zip(objects) {
        let mut object = object.clone();
        let target = resolver.resolve(&id);
        let in_set = crd_kinds
            .iter()
            .find(|(g, k, _)| g == id.group() && *k == id.kind);
        let namespaced = match (&target, in_set) {
            (Some(t), _) => Some(t.namespaced),
            (None, Some((_, _, namespaced))) => Some(*namespaced),
            (None, None) => None,
        };
        match namespaced {
            Some(true) if id.namespace.is_none() => {
                id.namespace = Some(default_namespace.to_string());
                object["metadata"]["namespace"] = json!(default_namespace);
            }
            Some(false) if id.namespace.is_some() => {
                id.namespace = None;
                if let Some(meta) = object["metadata"].as_object_mut() {
                    meta.remove("namespace");
                }
            }
            _ => {}
        }
        let labels = &mut object["metadata"]["labels"];
        if !labels.is_object() {
            *labels = json!({});
        }
        labels[OWNER_LABEL] = json!(kustomization);
        desired.push(Desired {
            id,
            object,
            target,
            defined_in_set: in_set.is_some(),
        });
    }
    desired.sort_by_key(|d| apply_order(&d.id.kind));
    Ok(desired)
}

/// Server-side apply parameters of rekon.
pub(crate) fn params(dry_run: bool, force: bool) -> PatchParams {
    PatchParams {
        dry_run,
        force,
        ..PatchParams::apply(FIELD_MANAGER)
    }
}

/// Dry-run one object. `namespaces` are the Namespaces the set creates:
/// an object in one of them that does not exist yet is deferred.
pub(crate) async fn check(
    client: &Client,
    retry: &Retry,
    k: &Kustomization,
    d: &Desired,
    namespaces: &HashSet<String>,
) -> Result<Checked, ApplyError> {
    let deferred = Checked::Planned(Planned {
        verdict: Verdict::Deferred,
        live: None,
        merged: None,
    });
    let Some(target) = &d.target else {
        return Ok(if d.defined_in_set {
            deferred
        } else {
            Checked::Refused(Reason::UnknownKind)
        });
    };
    let what = d.id.to_string();
    let api = target.api(client, d.id.namespace.as_deref());
    let live = read_live(&api, &d.id.name, &what, retry).await?;
    let patch = Patch::Apply(&d.object);
    let mut force = false;
    let merged = loop {
        let params = params(true, force);
        let answer = with_retry(retry, &format!("dry-run of {what}"), || {
            api.patch(&d.id.name, &params, &patch)
        })
        .await;
        let err = match answer {
            Ok(merged) => break to_value(merged),
            Err(err) => err,
        };
        if let Some(conflicts) = field_conflicts(&err) {
            let theirs: Vec<_> = conflicts
                .iter()
                .filter(|c| !takes_over(&c.manager))
                .cloned()
                .collect();
            if theirs.is_empty() && !force {
                force = true;
                continue;
            }
            let reported = if theirs.is_empty() { conflicts } else { theirs };
            return Ok(Checked::Refused(Reason::Conflict(reported)));
        }
        if let Some((field, message)) = immutable_field(&err) {
            // Flux's per-object `kustomize.toolkit.fluxcd.io/force: enabled`.
            let forced = d
                .object
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    crate::flux::FORCE_ANNOTATION.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some("enabled");
            if k.allow_recreate || forced {
                return Ok(Checked::Planned(Planned {
                    verdict: Verdict::Recreate,
                    live,
                    merged: None,
                }));
            }
            return Ok(Checked::Refused(Reason::Immutable { field, message }));
        }
        if missing_namespace(&err).is_some_and(|ns| namespaces.contains(&ns)) {
            return Ok(deferred);
        }
        if transient(&err) {
            return Err(ApplyError::Request {
                action: "dry-running",
                object: what,
                reason: reason(&err),
            });
        }
        return Ok(Checked::Refused(Reason::Rejected(reason(&err))));
    };
    let verdict = match &live {
        None => Verdict::Apply {
            created: true,
            force,
        },
        Some(l) if normalize(l) == normalize(&merged) => Verdict::Unchanged,
        Some(_) => Verdict::Apply {
            created: false,
            force,
        },
    };
    Ok(Checked::Planned(Planned {
        verdict,
        live,
        merged: Some(merged),
    }))
}

/// A dynamic object as JSON.
/// The live object named `name` (`what` for messages), or `None` when it
/// does not exist; transient failures are retried.
pub(crate) async fn read_live(
    api: &kube::Api<DynamicObject>,
    name: &str,
    what: &str,
    retry: &Retry,
) -> Result<Option<Value>, ApplyError> {
    let live = with_retry(retry, &format!("reading {what}"), || api.get_opt(name))
        .await
        .map_err(|e| ApplyError::Request {
            action: "reading",
            object: what.to_string(),
            reason: reason(&e),
        })?;
    Ok(live.map(to_value))
}

pub(crate) fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).expect("a DynamicObject serializes")
}
