//! Image policies: rank the tags of an image repository (world `image-policy-plugin`).
//!
//! Implement [`ImagePolicy`] and export it with [`export_image_policy!`](crate::export_image_policy):
//!
//! ```
//! use rekon_plugin_sdk::{export_image_policy, Description, ImagePolicy, Tag};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     prefix: String,
//! }
//!
//! /// Newest creation time first, among tags with a prefix.
//! struct Newest;
//!
//! impl ImagePolicy for Newest {
//!     type Settings = Settings;
//!
//!     fn describe() -> Description {
//!         Description {
//!             name: "newest".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             summary: "Picks the most recently built tag.".into(),
//!             settings_example: r#"{"prefix": "main-"}"#.into(),
//!         }
//!     }
//!
//!     fn rank(settings: &Settings, _repository: &str, tags: Vec<Tag>) -> Result<Vec<String>, String> {
//!         let mut tags: Vec<Tag> = tags
//!             .into_iter()
//!             .filter(|t| t.name.starts_with(&settings.prefix) && t.created.is_some())
//!             .collect();
//!         if tags.is_empty() {
//!             return Err("no tag with a creation time is left".into());
//!         }
//!         tags.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
//!         Ok(tags.into_iter().map(|t| t.name).collect())
//!     }
//! }
//!
//! export_image_policy!(Newest);
//! # fn main() {}
//! ```

use crate::raw::image_policy::exports::rekon::plugin::{image_policy, plugin};
use crate::{settings, Description, Tag};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// An image policy plugin.
pub trait ImagePolicy {
    /// The plugin's settings; parsed from JSON with [`settings::parse`] (empty
    /// settings are `{}`).
    type Settings: DeserializeOwned;

    /// Describes the plugin. Must not depend on settings.
    fn describe() -> Description;

    /// Checks parsed settings beyond what their type enforces (a regex compiles,
    /// a range parses, ...). Return `"<field path>: <problem>"`; the SDK adds
    /// `settings: `. The host refuses the plugin when this fails, before any
    /// reconcile, so later calls only see settings that passed.
    fn check(settings: &Self::Settings) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }

    /// Ranks `tags` of `repository` (e.g. `harbor.lan/website/frontend`): the
    /// names of the acceptable tags, best first (the first is the one to deploy).
    /// Leave out tags that do not satisfy the policy; return an error when no tag
    /// can be chosen. Rank deterministically: the same input must give the same
    /// order, or deployments flap.
    fn rank(
        settings: &Self::Settings,
        repository: &str,
        tags: Vec<Tag>,
    ) -> Result<Vec<String>, String>;
}

/// What the host's `check-settings` call does for `P`: parse, then
/// [`ImagePolicy::check`]. Public so plugins can unit-test the exact path.
pub fn check_settings<P: ImagePolicy>(settings: &str) -> Result<(), String> {
    let parsed: P::Settings = settings::parse(settings)?;
    P::check(&parsed).map_err(settings::check_error)
}

/// What the host's `rank` call does for `P`: parse the settings, then
/// [`ImagePolicy::rank`].
pub fn rank<P: ImagePolicy>(
    settings: &str,
    repository: &str,
    tags: Vec<Tag>,
) -> Result<Vec<String>, String> {
    let parsed: P::Settings = settings::parse(settings)?;
    P::rank(&parsed, repository, tags)
}

/// Connects an [`ImagePolicy`] to the generated bindings; used by
/// [`export_image_policy!`](crate::export_image_policy).
#[doc(hidden)]
pub struct Export<P>(PhantomData<fn() -> P>);

impl<P: ImagePolicy> plugin::Guest for Export<P> {
    fn describe() -> Description {
        P::describe()
    }

    fn check_settings(settings: String) -> Result<(), String> {
        check_settings::<P>(&settings)
    }
}

impl<P: ImagePolicy> image_policy::Guest for Export<P> {
    fn rank(settings: String, repository: String, tags: Vec<Tag>) -> Result<Vec<String>, String> {
        rank::<P>(&settings, &repository, tags)
    }
}

/// Exports an [`ImagePolicy`] as the component's `image-policy-plugin` world.
/// Use it once, at the top level of the plugin crate: `export_image_policy!(MyPolicy);`
#[macro_export]
macro_rules! export_image_policy {
    ($plugin:ty) => {
        const _: () = {
            type RekonImagePolicyExport = $crate::image_policy::Export<$plugin>;
            $crate::raw::image_policy::export_image_policy_world!(
                RekonImagePolicyExport with_types_in $crate::raw::image_policy
            );
        };
    };
}
