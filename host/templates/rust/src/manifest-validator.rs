//! `{{name}}`: a rekon manifest validator. It reports every object that lacks
//! one of the required labels, as an error (which stops the render).

use rekon_plugin_sdk::{validator, Description, Severity, Validator, Value, Violation};
use serde::Deserialize;

/// Settings: `{"required": ["app.kubernetes.io/name"]}`. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Labels every object must carry.
    pub required: Vec<String>,
}

/// The plugin.
pub struct Plugin;

impl Validator for Plugin {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Reports objects that lack a required label.".into(),
            settings_example: r#"{"required": ["app.kubernetes.io/name"]}"#.into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        if settings.required.is_empty() {
            return Err("required: give at least one label".into());
        }
        Ok(())
    }

    fn validate(settings: &Settings, objects: &[Value]) -> Result<Vec<Violation>, String> {
        let mut violations = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
            for label in &settings.required {
                if labels.is_none_or(|l| !l.contains_key(label)) {
                    violations.push(validator::violation(
                        index,
                        object,
                        "metadata.labels",
                        Severity::Error,
                        format!("missing label `{label}`"),
                    ));
                }
            }
        }
        Ok(violations)
    }
}

// Which objects rekon shows the plugin: every object without a declaration
// (Secrets only with the `secrets` grant); narrow it with, e.g.
//     rekon_plugin_sdk::declare_interest! { { groups: ["apps"], kinds: ["Deployment"] } }

// Only the component exports the world, so `cargo test` links natively.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_validator!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_requirements_are_refused() {
        let err = rekon_plugin_sdk::validator::check_settings::<Plugin>("{}").unwrap_err();
        assert!(err.contains("required: give at least one label"), "{err}");
    }
}
