//! `flux-policy`: a rekon image policy with the semantics of the Flux
//! image-reflector-controller's `ImagePolicy`.
//!
//! Settings are the JSON of an `ImagePolicy` `spec` without `imageRepositoryRef`
//! (see [`Settings`]); the ranking is documented on [`Compiled::rank`]. The
//! README next to this crate has the settings reference and examples.
//!
//! The policy logic is plain Rust, usable natively through the `rlib`:
//!
//! ```
//! let settings = flux_policy::Settings::from_json(
//!     r#"{"filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"},
//!         "policy": {"numerical": {"order": "asc"}}}"#,
//! )
//! .unwrap();
//! let ranked = flux_policy::rank(
//!     &settings,
//!     &["main-3f2a9c1-1767225600", "main-9b1d2e4-1767312000", "latest"],
//! )
//! .unwrap();
//! assert_eq!(ranked, ["main-9b1d2e4-1767312000", "main-3f2a9c1-1767225600"]);
//! ```

#![warn(missing_docs)]

mod constraints;
mod expand;
mod numeric;
mod policy;
mod settings;

pub use constraints::Constraints;
pub use policy::{rank, EMPTY_LIST, NO_SEMVER_MATCH};
pub use settings::{
    Compiled, FilterTags, OrderPolicy, PolicyChoice, ReflectionPolicy, SemVerPolicy, Settings,
    DEFAULT_EXCLUSION_LIST,
};

use rekon_plugin_sdk::{Description, ImagePolicy, Tag};

/// The plugin: [`ImagePolicy`] over [`Settings`].
pub struct FluxPolicy;

impl ImagePolicy for FluxPolicy {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "flux-policy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Chooses image tags exactly like a Flux ImagePolicy (alphabetical, \
                      numerical or semver, with filterTags and an exclusion list)."
                .into(),
            settings_example: r#"{"filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}, "policy": {"numerical": {"order": "asc"}}}"#
                .into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        settings.compile().map(drop)
    }

    fn rank(settings: &Settings, _repository: &str, tags: Vec<Tag>) -> Result<Vec<String>, String> {
        // Flux looks at tag names only; digests and creation times play no part.
        let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        rank(settings, &names)
    }
}

// Only the component exports the world: a native binary (tests, the host's
// benchmarks) may link several plugin rlibs, whose exports would clash.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_image_policy!(FluxPolicy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_example_is_accepted() {
        let example = FluxPolicy::describe().settings_example;
        rekon_plugin_sdk::image_policy::check_settings::<FluxPolicy>(&example).unwrap();
    }

    /// The ranking does not depend on the order the registry lists tags in.
    #[test]
    fn ranking_is_independent_of_input_order() {
        for settings in [
            r#"{"filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}, "policy": {"numerical": {}}}"#,
            r#"{"policy": {"semver": {"range": ">=0.0.0-0"}}}"#,
            r#"{"policy": {"alphabetical": {"order": "desc"}}}"#,
        ] {
            let settings = Settings::from_json(settings).unwrap();
            let mut tags = vec![
                "main-aaaaaaa-100",
                "main-bbbbbbb-100",
                "main-ccccccc-99",
                "1.0.0",
                "v1.0.0",
                "1.0.0+b",
                "1.0.0-rc.1",
                "01.0.0",
                "main-ddddddd-100",
            ];
            let first = rank(&settings, &tags);
            for i in 0..tags.len() {
                tags.rotate_left(1);
                if i % 2 == 0 {
                    tags.reverse();
                }
                assert_eq!(rank(&settings, &tags), first);
            }
        }
    }
}
