//! `{{name}}`: a rekon manifest mutator. It adds the configured labels to
//! every object that lacks them; a label an object already has keeps its value.

use std::collections::BTreeMap;

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

    fn mutate(settings: &Settings, objects: &mut [Value]) -> Result<(), String> {
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
        // The SDK returns every object whose value did not change as the text it
        // received, so untouched objects stay byte-for-byte equal.
        Ok(())
    }
}

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
