//! `readiness-probe`: a rekon manifest mutator that tunes the readiness,
//! liveness and startup probe timings of chosen workloads.
//!
//! Workloads are chosen by namespace, name (globs) and labels; containers by
//! name. Only the fields given are set, and only on containers that already
//! have that probe, unless `addIfMissing` is on (see [`Settings`] and the README).
//! Empty settings (`{}`) change nothing.

#![warn(missing_docs)]

mod settings;

pub use settings::{ProbeKind, ProbeSettings, Selector, Settings};

use rekon_plugin_sdk::k8s::{self, ContainerKind, ObjectId};
use rekon_plugin_sdk::mutator::Objects;
use rekon_plugin_sdk::{log, Description, Mutator, Value};
use serde_json::Map;

/// The plugin: [`Mutator`] over [`Settings`].
pub struct ReadinessProbe;

impl Mutator for ReadinessProbe {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "readiness-probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Tunes readiness, liveness and startup probe timings of the workloads \
                      chosen by namespace, name and labels."
                .into(),
            settings_example: r#"{"match": {"namespaces": ["website"], "names": ["frontend"]}, "readinessProbe": {"initialDelaySeconds": 10, "periodSeconds": 5}}"#
                .into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        settings.check()
    }

    fn mutate(settings: &Settings, objects: &mut Objects) -> Result<(), String> {
        if settings.is_empty() {
            log::debug("no settings: nothing to change");
            return Ok(());
        }
        // Choose by reading, then take only the chosen workloads mutably: the
        // SDK checks only those for changes (most of a render is not chosen).
        let chosen: Vec<usize> = (0..objects.len())
            .filter(|&i| selected(&settings.selector, &objects[i]))
            .collect();
        for i in chosen {
            tune(settings, &mut objects[i]);
        }
        Ok(())
    }
}

/// Whether `object` is a workload the selector chooses.
fn selected(selector: &Selector, object: &Value) -> bool {
    if k8s::pod_template_path(object).is_none() {
        return false;
    }
    let metadata = |key: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let any = |globs: &[String], name: &str| {
        globs.is_empty() || globs.iter().any(|g| k8s::glob_match(g, name))
    };
    any(&selector.namespaces, metadata("namespace"))
        && any(&selector.names, metadata("name"))
        && k8s::has_labels(object, &selector.labels)
}

/// Sets the configured probe fields on the chosen containers of one workload.
fn tune(settings: &Settings, object: &mut Value) {
    let id = ObjectId::of(object);
    let probes = settings.probes();
    for container in k8s::containers_mut(object) {
        let name = container.name().to_string();
        let chosen = settings.selector.containers.is_empty()
            || settings
                .selector
                .containers
                .iter()
                .any(|g| k8s::glob_match(g, &name));
        // Ephemeral containers may not have probes at all.
        if !chosen || container.kind == ContainerKind::Ephemeral {
            continue;
        }
        let Some(fields) = container.value.as_object_mut() else {
            continue;
        };
        for &(kind, probe) in &probes {
            let changes = match fields.get_mut(kind.field()).and_then(Value::as_object_mut) {
                Some(existing) => set_fields(existing, probe),
                // Init containers only take probes as sidecars; never invent one there.
                None if settings.add_if_missing && container.kind == ContainerKind::App => {
                    fields.insert(kind.field().to_string(), new_probe(probe));
                    vec!["added".to_string()]
                }
                None => continue,
            };
            if !changes.is_empty() {
                log::info(&format!(
                    "{id}: container {name}: {}: {}",
                    kind.field(),
                    changes.join(", ")
                ));
            }
        }
    }
}

/// Sets the timing fields on an existing probe; returns what changed.
fn set_fields(probe: &mut Map<String, Value>, settings: &ProbeSettings) -> Vec<String> {
    let mut changes = Vec::new();
    for (field, value) in settings.fields() {
        let new = Value::from(value);
        let old = probe.insert(field.to_string(), new.clone());
        if old.as_ref() != Some(&new) {
            let old = old.map_or("unset".to_string(), |v| v.to_string());
            changes.push(format!("{field} {old} -> {value}"));
        }
    }
    changes
}

/// A probe made from the settings: handler first, then the timings.
fn new_probe(settings: &ProbeSettings) -> Value {
    let mut probe = Map::new();
    if let Some((field, handler)) = settings.handler() {
        probe.insert(field.to_string(), Value::Object(handler.clone()));
    }
    set_fields(&mut probe, settings);
    Value::Object(probe)
}

// The workloads `k8s::pod_template_path` knows, the only objects `tune` changes:
// the rest of a render is never shown to the plugin.
rekon_plugin_sdk::declare_interest! {
    { groups: ["apps", "extensions"], kinds: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] },
    { groups: ["batch"], kinds: ["Job", "CronJob"] },
    { groups: [""], kinds: ["ReplicationController", "Pod"] },
}

// Only the component exports the world, so native binaries can link several plugins.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_mutator!(ReadinessProbe);

// Every call runs in a fresh instance, so a bump allocator (nothing freed
// until the instance goes) is safe and faster (docs/PERFORMANCE.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: rekon_plugin_sdk::alloc::Bump = rekon_plugin_sdk::alloc::Bump::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_example_is_accepted() {
        let example = ReadinessProbe::describe().settings_example;
        rekon_plugin_sdk::mutator::check_settings::<ReadinessProbe>(&example).unwrap();
    }
}
