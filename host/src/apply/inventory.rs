//! The inventory: what each kustomization applied, kept in the cluster (a
//! ConfigMap `rekon-inventory-<name>` in namespace `rekon-system`) so
//! pruning works after a restart or from another machine.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

use super::api::{with_retry, Retry};
use super::error::{reason, ApplyError};
use super::object::{ObjectRef, FIELD_MANAGER};

/// Namespace of the inventories (created on first write).
pub const NAMESPACE: &str = "rekon-system";
/// Key of the entry list in the ConfigMap's `data`.
const KEY: &str = "entries";

/// Name of the ConfigMap holding `kustomization`'s inventory.
pub fn name_of(kustomization: &str) -> String {
    format!("rekon-inventory-{kustomization}")
}

/// The objects `kustomization` applied last time (empty if it never did).
pub(crate) async fn read(
    client: &Client,
    retry: &Retry,
    kustomization: &str,
) -> Result<Vec<ObjectRef>, ApplyError> {
    let name = name_of(kustomization);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let cm = with_retry(retry, &format!("reading inventory {name}"), || {
        api.get_opt(&name)
    })
    .await
    .map_err(|e| ApplyError::Request {
        action: "reading",
        object: format!("inventory {NAMESPACE}/{name}"),
        reason: reason(&e),
    })?;
    let Some(text) = cm.and_then(|cm| cm.data).and_then(|mut d| d.remove(KEY)) else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&text).map_err(|e| ApplyError::Inventory {
        name: format!("{NAMESPACE}/{name}"),
        message: format!("`data.{KEY}` is not a list of objects: {e}"),
    })
}

/// Replace `kustomization`'s inventory with `entries`.
pub(crate) async fn write(
    client: &Client,
    retry: &Retry,
    kustomization: &str,
    entries: &[ObjectRef],
) -> Result<(), ApplyError> {
    let name = name_of(kustomization);
    let failed = |e: kube::Error| ApplyError::Request {
        action: "writing",
        object: format!("inventory {NAMESPACE}/{name}"),
        reason: reason(&e),
    };
    // The inventory is rekon's alone: a hand edit of it must not block the
    // next write, so rekon always takes its fields back.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    // Create the namespace only when it is missing, never apply it: a
    // kustomization may manage `rekon-system` itself (the install manifests
    // do), and an apply here under the same field manager would fight it.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let existing = with_retry(retry, "reading namespace rekon-system", || {
        namespaces.get_opt(NAMESPACE)
    })
    .await
    .map_err(failed)?;
    if existing.is_none() {
        let namespace: Namespace = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "rekon"}},
        }))
        .expect("a valid Namespace");
        let created = namespaces.create(&PostParams::default(), &namespace).await;
        match created {
            Ok(_) => {}
            // Someone created it between our read and our create: fine.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(failed(e)),
        }
    }
    // One entry per line: readable with `kubectl get configmap -o yaml`.
    let lines: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(e).expect("an ObjectRef serializes"))
        .collect();
    let text = format!("[\n{}\n]\n", lines.join(",\n"));
    let configmap = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": name, "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "rekon", "rekon.dev/inventory": kustomization},
        },
        "data": {KEY: text},
    });
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let patch = Patch::Apply(&configmap);
    with_retry(retry, &format!("writing inventory {name}"), || {
        api.patch(&name, &params, &patch)
    })
    .await
    .map_err(failed)?;
    Ok(())
}
