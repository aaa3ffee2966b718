//! `traefik-priority`: a rekon manifest mutator that sets Traefik router
//! priorities so more specific routes win.
//!
//! * `networking.k8s.io` `Ingress`: the annotation
//!   `traefik.ingress.kubernetes.io/router.priority`. Traefik applies it to every
//!   router of the Ingress, so an Ingress with several paths gets the highest
//!   priority any of its paths earns.
//! * Traefik `IngressRoute` (`traefik.io/v1alpha1` and the legacy
//!   `traefik.containo.us/v1alpha1`): `spec.routes[].priority`, per route, from
//!   the `Path`/`PathPrefix` matchers of its `match` (the highest if several).
//!
//! A path's priority comes from the explicit rule with the longest covering
//! prefix, else from `auto` (see [`Settings`] and the README). Objects and
//! routes no rule or `auto` covers are left alone; an existing priority is
//! replaced.

#![warn(missing_docs)]

mod rule;
mod settings;

pub use rule::paths as route_paths;
pub use settings::{auto_priority, Rule, Settings, AUTO_BASE, AUTO_PER_CHAR, MAX_PRIORITY};

use rekon_plugin_sdk::k8s::ObjectId;
use rekon_plugin_sdk::mutator::Objects;
use rekon_plugin_sdk::{log, Description, Mutator, Value};

/// The Ingress annotation Traefik reads.
pub const PRIORITY_ANNOTATION: &str = "traefik.ingress.kubernetes.io/router.priority";

/// The plugin: [`Mutator`] over [`Settings`].
pub struct TraefikPriority;

impl Mutator for TraefikPriority {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "traefik-priority".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Sets Traefik router priorities on Ingresses and IngressRoutes so that \
                      more specific paths win, from explicit path rules or automatically."
                .into(),
            settings_example: r#"{"rules": [{"pathPrefix": "/api", "priority": 2000}, {"pathPrefix": "/", "priority": 1000}]}"#
                .into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        settings.check()
    }

    fn mutate(settings: &Settings, objects: &mut Objects) -> Result<(), String> {
        if settings.rules.is_empty() && !settings.auto {
            log::debug("no rules and auto is off: nothing to change");
            return Ok(());
        }
        for object in objects.iter_mut() {
            let id = ObjectId::of(object);
            match (id.group(), id.kind.as_str()) {
                ("networking.k8s.io" | "extensions", "Ingress") => ingress(settings, &id, object),
                ("traefik.io" | "traefik.containo.us", "IngressRoute") => {
                    ingress_route(settings, &id, object)
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The paths of an Ingress: every `spec.rules[].http.paths[].path` (a path
/// without `path` is `/`), and `/` for a `spec.defaultBackend`.
fn ingress_paths(object: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    let spec = object.get("spec");
    let rules = spec.and_then(|s| s.get("rules")).and_then(Value::as_array);
    for rule in rules.into_iter().flatten() {
        let list = rule
            .get("http")
            .and_then(|h| h.get("paths"))
            .and_then(Value::as_array);
        for path in list.into_iter().flatten() {
            let text = path.get("path").and_then(Value::as_str).unwrap_or("/");
            paths.push(text.to_string());
        }
    }
    if spec.and_then(|s| s.get("defaultBackend")).is_some() {
        paths.push("/".to_string());
    }
    paths
}

/// The highest priority any of `paths` earns.
fn highest(settings: &Settings, paths: &[String]) -> Option<u32> {
    paths.iter().filter_map(|p| settings.priority_for(p)).max()
}

fn ingress(settings: &Settings, id: &ObjectId, object: &mut Value) {
    let Some(priority) = highest(settings, &ingress_paths(object)) else {
        return;
    };
    let new = priority.to_string();
    let path = rekon_plugin_sdk::json::FieldPath::root()
        .key("metadata")
        .key("annotations")
        .key(PRIORITY_ANNOTATION);
    let old = path.get(object).cloned();
    if old.as_ref().and_then(Value::as_str) == Some(new.as_str()) {
        return;
    }
    // Annotations are strings, so the priority is written as one.
    match path.set(object, Value::String(new)) {
        Ok(_) => log::info(&format!(
            "{id}: router priority {} -> {priority}",
            shown(old)
        )),
        Err(e) => log::warn(&format!("{id}: cannot set the priority annotation: {e}")),
    }
}

fn ingress_route(settings: &Settings, id: &ObjectId, object: &mut Value) {
    let routes = object
        .get_mut("spec")
        .and_then(|s| s.get_mut("routes"))
        .and_then(Value::as_array_mut);
    for (i, route) in routes.into_iter().flatten().enumerate() {
        let Some(rule) = route
            .get("match")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        let mut paths = rule::paths(&rule);
        if paths.is_empty() {
            // No path matcher: the route answers every path, like `/`.
            paths.push("/".to_string());
        }
        let Some(priority) = highest(settings, &paths) else {
            continue;
        };
        let Some(fields) = route.as_object_mut() else {
            continue;
        };
        let new = Value::from(priority);
        let old = fields.insert("priority".to_string(), new.clone());
        if old.as_ref() != Some(&new) {
            log::info(&format!(
                "{id}: route {i} ({rule}): priority {} -> {priority}",
                shown(old)
            ));
        }
    }
}

fn shown(old: Option<Value>) -> String {
    match old {
        None => "unset".to_string(),
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
    }
}

// The kinds `mutate` touches; the rest of a render is never shown to the plugin.
rekon_plugin_sdk::declare_interest! {
    { groups: ["networking.k8s.io", "extensions"], kinds: ["Ingress"] },
    { groups: ["traefik.io", "traefik.containo.us"], kinds: ["IngressRoute"] },
}

// Only the component exports the world, so native binaries can link several plugins.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_mutator!(TraefikPriority);

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
        let example = TraefikPriority::describe().settings_example;
        rekon_plugin_sdk::mutator::check_settings::<TraefikPriority>(&example).unwrap();
    }
}
