//! The variables of a Kustomization's `postBuild`: `substituteFrom`
//! ConfigMaps and Secrets read from the cluster, or, without one, from the
//! repository itself (home labs keep a `cluster-settings` ConfigMap there),
//! then `substitute`.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use super::substitute::valid_name;
use super::{FluxError, FluxKustomization};
use crate::apply::Cluster;

/// The ConfigMaps and Secrets the repository defines, by kind, namespace
/// and name (as built: after `targetNamespace`), with their data.
#[derive(Debug, Clone, Default)]
pub struct RepoObjects(BTreeMap<(String, String, String), BTreeMap<String, String>>);

impl RepoObjects {
    /// Remember the ConfigMaps and Secrets among `objects` (not those still
    /// SOPS-encrypted).
    pub fn collect<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) {
        for o in objects {
            let kind = o["kind"].as_str().unwrap_or_default();
            // Still SOPS-encrypted (no key yet): its values are not variables.
            if o["apiVersion"] != "v1"
                || !matches!(kind, "ConfigMap" | "Secret")
                || crate::sops::is_encrypted(o)
            {
                continue;
            }
            let mut data = BTreeMap::new();
            for (k, v) in o["data"].as_object().into_iter().flatten() {
                let v = v.as_str().unwrap_or_default();
                let v = if kind == "Secret" {
                    let decoded =
                        base64::engine::general_purpose::STANDARD.decode(v.replace('\n', ""));
                    String::from_utf8_lossy(&decoded.unwrap_or_default()).into_owned()
                } else {
                    v.to_string()
                };
                data.insert(k.clone(), v);
            }
            if kind == "Secret" {
                for (k, v) in o["stringData"].as_object().into_iter().flatten() {
                    data.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                }
            }
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.0
                .insert((kind.to_string(), ns.to_string(), name.to_string()), data);
        }
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<&BTreeMap<String, String>> {
        self.0
            .get(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }
}

/// Where `substituteFrom` is read.
pub(super) enum Lookup<'a> {
    /// The cluster, as kustomize-controller reads it.
    Cluster(&'a Cluster),
    /// The repository's own objects (no cluster).
    Repository(&'a RepoObjects),
    /// The cluster, else the repository (discovery: on a fresh cluster the
    /// settings a parent Kustomization applies are not there yet).
    Both(&'a Cluster, &'a RepoObjects),
}

/// Resolve `k`'s variables into `k.vars` and `k.unread`.
pub(super) async fn resolve(
    k: &mut FluxKustomization,
    lookup: Lookup<'_>,
) -> Result<(), FluxError> {
    let Some(post) = &k.post_build else {
        return Ok(());
    };
    let object = format!("Kustomization {}/{}", k.namespace, k.name);
    let invalid = |message: String| FluxError::Object {
        file: k.origin.file.clone(),
        line: k.origin.line,
        object: object.clone(),
        message,
    };
    let mut vars = BTreeMap::new();
    let mut unread = Vec::new();
    for from in &post.substitute_from {
        let what = format!("{} {}/{}", from.kind, k.namespace, from.name);
        let (cluster, repo) = match &lookup {
            Lookup::Cluster(c) => (Some(*c), None),
            Lookup::Repository(r) => (None, Some(*r)),
            Lookup::Both(c, r) => (Some(*c), Some(*r)),
        };
        let mut data: Option<BTreeMap<String, String>> = None;
        if let Some(cluster) = cluster {
            data = cluster
                .read_data(&from.kind, &k.namespace, &from.name)
                .await
                .map_err(|error| FluxError::Cluster {
                    object: object.clone(),
                    error: Box::new(error),
                })?
                .map(|d| {
                    d.into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                        .collect()
                });
        }
        if data.is_none() {
            data = repo.and_then(|r| r.get(&from.kind, &k.namespace, &from.name).cloned());
        }
        match data {
            Some(data) => {
                for (key, value) in data {
                    vars.insert(key, value.replace('\n', ""));
                }
            }
            None if from.optional => {}
            None => match lookup {
                Lookup::Cluster(_) | Lookup::Both(..) => {
                    return Err(invalid(format!(
                        "postBuild.substituteFrom: {what} does not exist (mark it `optional: true` if it may be missing)"
                    )))
                }
                Lookup::Repository(_) => unread.push(what),
            },
        }
    }
    for (key, value) in &post.substitute {
        vars.insert(key.clone(), value.replace('\n', ""));
    }
    if let Some(bad) = vars.keys().find(|name| !valid_name(name)) {
        return Err(invalid(format!(
            "postBuild: variable name `{bad}` is invalid, it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
        )));
    }
    k.vars = vars;
    k.unread = unread;
    Ok(())
}

/// The age identities of a Kustomization's decryption Secret
/// `namespace/name`: its `*.agekey` entries, as kustomize-controller reads
/// them, from the cluster or else the repository (`substituteFrom`'s
/// lookup). An error says where it was looked for and never holds a key.
pub(super) async fn age_keys(
    namespace: &str,
    name: &str,
    lookup: Lookup<'_>,
) -> Result<crate::sops::Keys, String> {
    let what = format!("decryption Secret {namespace}/{name}");
    let (cluster, repo) = match lookup {
        Lookup::Cluster(c) => (Some(c), None),
        Lookup::Repository(r) => (None, Some(r)),
        Lookup::Both(c, r) => (Some(c), Some(r)),
    };
    let mut data: Option<BTreeMap<String, String>> = None;
    if let Some(cluster) = cluster {
        data = cluster
            .read_data("Secret", namespace, name)
            .await
            .map_err(|e| format!("{what}: {e}"))?
            .map(|d| {
                d.into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                    .collect()
            });
    }
    if data.is_none() {
        data = repo.and_then(|r| r.get("Secret", namespace, name).cloned());
    }
    let Some(data) = data else {
        return Err(match cluster {
            Some(_) => format!("{what} does not exist"),
            None => format!(
                "{what} is not in the repository, and there is no cluster to read it from (give a kubeconfig)"
            ),
        });
    };
    let mut keys = crate::sops::Keys::default();
    for (key, text) in data.iter().filter(|(k, _)| k.ends_with(".agekey")) {
        keys.add(text, &format!("{what} key {key}"))?;
    }
    if keys.is_empty() {
        return Err(format!("{what} has no *.agekey entry with an age identity"));
    }
    Ok(keys)
}

/// Read `k`'s `substituteFrom` again from the cluster (each reconcile, as
/// kustomize-controller does).
pub async fn refresh_vars(k: &mut FluxKustomization, cluster: &Cluster) -> Result<(), FluxError> {
    resolve(k, Lookup::Cluster(cluster)).await
}
