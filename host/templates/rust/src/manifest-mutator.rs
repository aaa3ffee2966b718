//! `{{name}}`: a rekon manifest mutator. It adds the configured labels to
//! every object that lacks them; a label an object already has keeps its value.

use std::collections::BTreeMap;

use rekon_plugin_sdk::mutator::Objects;
use rekon_plugin_sdk::{Description, Mutator, Value};
use serde::Deserialize;

/// Settings: `{"labels": {"team": "web"}}`. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The labels to add.
    pub labels: BTreeMap<String, String>,
}

/// The plugin.
pub struct Plugin;

impl Mutator for Plugin {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Adds labels to every object that lacks them.".into(),
            settings_example: r#"{"labels": {"team": "web"}}"#.into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        if settings.labels.is_empty() {
            return Err("labels: give at least one label".into());
        }
        Ok(())
    }

    fn mutate(settings: &Settings, objects: &mut Objects) -> Result<(), String> {
        for (index, object) in objects.iter_mut().enumerate() {
            let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
                return Err(format!("object {index}: has no metadata"));
            };
            let labels = metadata
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(labels) = labels.as_object_mut() else {
                return Err(format!("object {index}: metadata.labels is not a mapping"));
            };
            for (key, value) in &settings.labels {
                labels
                    .entry(key.clone())
                    .or_insert_with(|| Value::String(value.clone()));
            }
        }
        // The SDK returns to rekon only the objects whose value changed; the
        // others stay exactly as they were. (`objects.remove(i)` and
        // `objects.add(value)` take objects out and add new ones, with the
        // operator's `delete` and `create` grants.)
        Ok(())
    }
}

// Which objects rekon shows the plugin. Without a declaration it is shown
// every object (but Secrets only with the `secrets` grant); narrow it to what
// the plugin works on, e.g.
//     rekon_plugin_sdk::declare_interest! {
//         { groups: ["apps"], kinds: ["Deployment", "StatefulSet", "DaemonSet"] },
//     }

// Only the component exports the world, so `cargo test` links natively.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_mutator!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_labels_are_refused() {
        let err = rekon_plugin_sdk::mutator::check_settings::<Plugin>("{}").unwrap_err();
        assert!(err.contains("labels: give at least one label"), "{err}");
    }
}
