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
        let mut tuned = Tuned::default();
        for i in chosen {
            let containers = tune(settings, &mut objects[i]);
            if containers > 0 {
                tuned.add(&objects[i], containers);
            }
        }
        if let Some(line) = tuned.summary() {
            log::info(&line);
        }
        Ok(())
    }
}

/// What one call changed, for its one log line.
#[derive(Default)]
struct Tuned {
    workloads: usize,
    containers: usize,
    /// The first few workloads, as `apiVersion Kind namespace/name`.
    named: Vec<String>,
}

impl Tuned {
    /// Workloads a summary names; `rekon render --explain` lists every field.
    const NAMED: usize = 3;

    fn add(&mut self, workload: &Value, containers: usize) {
        self.workloads += 1;
        self.containers += containers;
        if self.named.len() < Self::NAMED {
            self.named.push(ObjectId::of(workload).to_string());
        }
    }

    /// One line per call rather than one per container: a render of
    /// hundreds of workloads would otherwise log hundreds of lines at every
    /// reconcile, and each line is a call into the host.
    fn summary(&self) -> Option<String> {
        if self.workloads == 0 {
            return None;
        }
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let more = match self.workloads - self.named.len() {
            0 => String::new(),
            rest => format!(" and {rest} more"),
        };
        Some(format!(
            "tuned probes of {} in {}: {}{more}",
            plural(self.containers, "container"),
            plural(self.workloads, "workload"),
            self.named.join(", "),
        ))
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

/// Sets the configured probe fields on the chosen containers of one
/// workload; how many containers changed.
fn tune(settings: &Settings, object: &mut Value) -> usize {
    let probes = settings.probes();
    let mut changed = 0;
    for container in k8s::containers_mut(object) {
        let chosen = settings.selector.containers.is_empty()
            || settings
                .selector
                .containers
                .iter()
                .any(|g| k8s::glob_match(g, container.name()));
        // Ephemeral containers may not have probes at all.
        if !chosen || container.kind == ContainerKind::Ephemeral {
            continue;
        }
        let Some(fields) = container.value.as_object_mut() else {
            continue;
        };
        let mut any = false;
        for &(kind, probe) in &probes {
            any |= match fields.get_mut(kind.field()).and_then(Value::as_object_mut) {
                Some(existing) => set_fields(existing, probe),
                // Init containers only take probes as sidecars; never invent one there.
                None if settings.add_if_missing && container.kind == ContainerKind::App => {
                    fields.insert(kind.field().to_string(), new_probe(probe));
                    true
                }
                None => false,
            };
        }
        changed += usize::from(any);
    }
    changed
}

/// Sets the timing fields on an existing probe; whether any changed.
fn set_fields(probe: &mut Map<String, Value>, settings: &ProbeSettings) -> bool {
    let mut changed = false;
    for (field, value) in settings.fields() {
        let new = Value::from(value);
        match probe.get_mut(field) {
            Some(old) if *old == new => {}
            Some(old) => {
                *old = new;
                changed = true;
            }
            None => {
                probe.insert(field.to_string(), new);
                changed = true;
            }
        }
    }
    changed
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
    fn one_line_sums_up_a_call() {
        assert_eq!(Tuned::default().summary(), None);
        let workload = |name: &str| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"namespace": "website", "name": name}})
        };
        let mut one = Tuned::default();
        one.add(&workload("frontend"), 1);
        assert_eq!(
            one.summary().unwrap(),
            "tuned probes of 1 container in 1 workload: apps/v1 Deployment website/frontend"
        );
        let mut many = Tuned::default();
        for i in 0..5 {
            many.add(&workload(&format!("app-{i}")), 2);
        }
        assert_eq!(
            many.summary().unwrap(),
            "tuned probes of 10 containers in 5 workloads: apps/v1 Deployment website/app-0, \
             apps/v1 Deployment website/app-1, apps/v1 Deployment website/app-2 and 2 more"
        );
    }

    #[test]
    fn settings_example_is_accepted() {
        let example = ReadinessProbe::describe().settings_example;
        rekon_plugin_sdk::mutator::check_settings::<ReadinessProbe>(&example).unwrap();
    }
}
