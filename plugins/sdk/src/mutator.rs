//! Manifest mutators: rewrite the objects of a render (world `manifest-mutator-plugin`).
//!
//! Implement [`Mutator`] and export it with [`export_mutator!`](crate::export_mutator);
//! the [crate docs](crate) have a complete example.
//!
//! The SDK parses every object, hands them all to [`Mutator::mutate`] and then
//! returns, for each object whose value did not change, the very text it received.
//! So objects a plugin leaves alone come back byte-for-byte equal, and the host
//! (and `rekon render --explain`) can tell they were not touched. Changed objects
//! are serialized again as compact JSON.

use crate::raw::mutator::exports::rekon::plugin::{mutator, plugin};
use crate::{settings, Description};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::marker::PhantomData;

/// A manifest mutator plugin.
pub trait Mutator {
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

    /// Changes `objects` (all objects of one render, in order) in place. Leave the
    /// objects that are out of scope alone. An error stops the render.
    ///
    /// The list cannot grow or shrink here; a plugin that adds or removes objects
    /// implements the [`raw`](crate::raw) bindings instead.
    fn mutate(settings: &Self::Settings, objects: &mut [Value]) -> Result<(), String>;
}

/// What the host's `check-settings` call does for `M`: parse, then
/// [`Mutator::check`]. Public so plugins can unit-test the exact path.
pub fn check_settings<M: Mutator>(settings: &str) -> Result<(), String> {
    let parsed: M::Settings = settings::parse(settings)?;
    M::check(&parsed).map_err(settings::check_error)
}

/// What the host's `mutate` call does for `M`: parse settings and objects, call
/// [`Mutator::mutate`], return unchanged objects as their original text.
pub fn mutate<M: Mutator>(settings: &str, objects: Vec<String>) -> Result<Vec<String>, String> {
    let parsed: M::Settings = settings::parse(settings)?;
    let mut values = parse_objects(&objects)?;
    // Compare against a copy rather than re-parsing the text afterwards: cloning a
    // parsed tree is much cheaper than parsing it again.
    let before = values.clone();
    M::mutate(&parsed, &mut values)?;
    objects
        .into_iter()
        .zip(values)
        .zip(before)
        .map(|((text, after), before)| {
            if after == before {
                Ok(text)
            } else {
                serde_json::to_string(&after)
                    .map_err(|e| format!("cannot serialize an object: {e}"))
            }
        })
        .collect()
}

/// Parses the objects of a render; errors name the position of the bad one.
pub(crate) fn parse_objects(objects: &[String]) -> Result<Vec<Value>, String> {
    objects
        .iter()
        .enumerate()
        .map(|(i, text)| {
            serde_json::from_str(text).map_err(|e| format!("object {i} is not valid JSON: {e}"))
        })
        .collect()
}

/// Connects a [`Mutator`] to the generated bindings; used by
/// [`export_mutator!`](crate::export_mutator).
#[doc(hidden)]
pub struct Export<M>(PhantomData<fn() -> M>);

impl<M: Mutator> plugin::Guest for Export<M> {
    fn describe() -> Description {
        M::describe()
    }

    fn check_settings(settings: String) -> Result<(), String> {
        check_settings::<M>(&settings)
    }
}

impl<M: Mutator> mutator::Guest for Export<M> {
    fn mutate(settings: String, objects: Vec<String>) -> Result<Vec<String>, String> {
        mutate::<M>(&settings, objects)
    }
}

/// Exports a [`Mutator`] as the component's `manifest-mutator-plugin` world.
/// Use it once, at the top level of the plugin crate: `export_mutator!(MyMutator);`
#[macro_export]
macro_rules! export_mutator {
    ($plugin:ty) => {
        const _: () = {
            type RekonMutatorExport = $crate::mutator::Export<$plugin>;
            $crate::raw::mutator::export_mutator_world!(
                RekonMutatorExport with_types_in $crate::raw::mutator
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Settings {
        kind: String,
    }

    /// Sets `metadata.labels.touched` on objects of one kind.
    struct Touch;

    impl Mutator for Touch {
        type Settings = Settings;
        fn describe() -> Description {
            Description {
                name: "touch".into(),
                version: "0.0.0".into(),
                summary: String::new(),
                settings_example: String::new(),
            }
        }
        fn check(s: &Settings) -> Result<(), String> {
            if s.kind.is_empty() {
                return Err("kind: must not be empty".into());
            }
            Ok(())
        }
        fn mutate(s: &Settings, objects: &mut [Value]) -> Result<(), String> {
            for o in objects.iter_mut().filter(|o| o["kind"] == s.kind.as_str()) {
                crate::json::set(o, "metadata.labels.touched", "yes".into())?;
            }
            Ok(())
        }
    }

    #[test]
    fn unchanged_objects_keep_their_text() {
        // Odd spacing and key order: would not survive a parse/serialize round trip.
        let service = r#"{ "kind":"Service",   "metadata": {"name": "s"}, "apiVersion":"v1" }"#;
        let pod = r#"{"kind": "Pod", "metadata": {"name": "p"}}"#;
        let out = mutate::<Touch>(r#"{"kind": "Pod"}"#, vec![service.into(), pod.into()]).unwrap();
        assert_eq!(out[0], service);
        assert_eq!(
            out[1],
            r#"{"kind":"Pod","metadata":{"name":"p","labels":{"touched":"yes"}}}"#
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            check_settings::<Touch>("{}").unwrap_err(),
            "settings: kind: must not be empty"
        );
        assert!(check_settings::<Touch>(r#"{"kind": "Pod"}"#).is_ok());
        let e = mutate::<Touch>("{}", vec!["{}".into(), "{".into()]).unwrap_err();
        assert!(e.starts_with("object 1 is not valid JSON"), "{e}");
    }
}
