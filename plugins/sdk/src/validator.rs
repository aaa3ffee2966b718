//! Manifest validators: report findings about the objects of a render (world
//! `manifest-validator-plugin`).
//!
//! Implement [`Validator`] and export it with [`export_validator!`](crate::export_validator):
//!
//! ```
//! use rekon_plugin_sdk::{export_validator, validator, Description, Severity, Validator, Value, Violation};
//!
//! /// Every object needs a `team` label.
//! struct NeedsTeam;
//!
//! impl Validator for NeedsTeam {
//!     type Settings = serde_json::Map<String, Value>; // takes no settings
//!
//!     fn describe() -> Description {
//!         Description {
//!             name: "needs-team".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             summary: "Every object needs a team label.".into(),
//!             settings_example: String::new(),
//!         }
//!     }
//!
//!     fn validate(_: &Self::Settings, objects: &[Value]) -> Result<Vec<Violation>, String> {
//!         Ok(objects
//!             .iter()
//!             .enumerate()
//!             .filter(|(_, o)| rekon_plugin_sdk::json::get(o, "metadata.labels.team").is_none())
//!             .map(|(i, o)| {
//!                 validator::violation(i, o, "metadata.labels", Severity::Error, "add a `team` label")
//!             })
//!             .collect())
//!     }
//! }
//!
//! export_validator!(NeedsTeam);
//! # fn main() {}
//! ```

use crate::raw::validator::exports::rekon::plugin::{plugin, validator};
use crate::{k8s, settings, Description, Severity, Violation};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Display;
use std::marker::PhantomData;

/// A manifest validator plugin.
pub trait Validator {
    /// The plugin's settings; parsed from JSON with [`settings::parse`] (empty
    /// settings are `{}`).
    type Settings: DeserializeOwned;

    /// Describes the plugin. Must not depend on settings.
    fn describe() -> Description;

    /// Checks parsed settings beyond what their type enforces. Return
    /// `"<field path>: <problem>"`; the SDK adds `settings: `. The host refuses
    /// the plugin when this fails, before any reconcile.
    fn check(settings: &Self::Settings) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }

    /// Checks `objects` (all objects of one render, in order) and returns the
    /// findings; build them with [`violation`]. Any finding of severity `Error`
    /// stops the render. Return `Err` only when the plugin itself cannot do its
    /// job (that stops the render too).
    fn validate(settings: &Self::Settings, objects: &[Value]) -> Result<Vec<Violation>, String>;
}

/// A finding about the object at position `index` of the render: `path` is the
/// offending field (a [`FieldPath`](crate::json::FieldPath) or its text, e.g.
/// `spec.template.spec.containers[0].image`; empty for the whole object) and
/// `message` says what is wrong and how to fix it.
pub fn violation(
    index: usize,
    object: &Value,
    path: impl Display,
    severity: Severity,
    message: impl Into<String>,
) -> Violation {
    Violation {
        object: k8s::object_ref(index, object),
        path: path.to_string(),
        message: message.into(),
        severity,
    }
}

/// What the host's `check-settings` call does for `V`: parse, then
/// [`Validator::check`]. Public so plugins can unit-test the exact path.
pub fn check_settings<V: Validator>(settings: &str) -> Result<(), String> {
    let parsed: V::Settings = settings::parse(settings)?;
    V::check(&parsed).map_err(settings::check_error)
}

/// What the host's `validate` call does for `V`: parse settings and objects,
/// then [`Validator::validate`]. In WebAssembly the parsed objects are not
/// freed afterwards (a call's instance is thrown away).
pub fn validate<V: Validator>(
    settings: &str,
    objects: &[String],
) -> Result<Vec<Violation>, String> {
    let parsed: V::Settings = settings::parse(settings)?;
    let values = crate::parse::objects(objects)?.values;
    let violations = V::validate(&parsed, &values);
    crate::parse::leave(values);
    violations
}

/// Connects a [`Validator`] to the generated bindings; used by
/// [`export_validator!`](crate::export_validator).
#[doc(hidden)]
pub struct Export<V>(PhantomData<fn() -> V>);

impl<V: Validator> plugin::Guest for Export<V> {
    fn describe() -> Description {
        V::describe()
    }

    fn check_settings(settings: String) -> Result<(), String> {
        check_settings::<V>(&settings)
    }
}

impl<V: Validator> validator::Guest for Export<V> {
    fn validate(settings: String, objects: Vec<String>) -> Result<Vec<Violation>, String> {
        let violations = validate::<V>(&settings, &objects);
        crate::parse::leave(objects);
        violations
    }
}

/// Exports a [`Validator`] as the component's `manifest-validator-plugin` world.
/// Use it once, at the top level of the plugin crate: `export_validator!(MyValidator);`
#[macro_export]
macro_rules! export_validator {
    ($plugin:ty) => {
        const _: () = {
            type RekonValidatorExport = $crate::validator::Export<$plugin>;
            $crate::raw::validator::export_validator_world!(
                RekonValidatorExport with_types_in $crate::raw::validator
            );
        };
    };
}
