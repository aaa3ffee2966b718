//! Write [rekon](https://example.invalid/rekon) plugins in Rust.
//!
//! A rekon plugin is a WebAssembly component that implements one of three worlds
//! of the `rekon:plugin@0.2.0` WIT contract (`wit/*.wit` in the rekon repository):
//!
//! | world | trait | export macro | what it does |
//! | --- | --- | --- | --- |
//! | `image-policy-plugin` | [`ImagePolicy`] | [`export_image_policy!`] | ranks the tags of an image repository |
//! | `manifest-mutator-plugin` | [`Mutator`] | [`export_mutator!`] | rewrites the objects of a render |
//! | `manifest-validator-plugin` | [`Validator`] | [`export_validator!`] | reports findings about the objects of a render |
//!
//! The SDK turns the raw contract (JSON text in, JSON text out) into typed Rust:
//! settings arrive as your own `serde` type, Kubernetes objects as
//! [`serde_json::Value`]s (a mutator's in [`mutator::Objects`], which also
//! removes and adds objects), and errors are plain `String`s. A mutator
//! changes objects in place; the SDK sends the host only the objects that
//! changed.
//!
//! # A complete mutator
//!
//! ```
//! use rekon_plugin_sdk::json::FieldPath;
//! use rekon_plugin_sdk::mutator::Objects;
//! use rekon_plugin_sdk::{declare_interest, export_mutator, Description, Mutator};
//! use serde::Deserialize;
//!
//! /// Settings: `{"label": "team", "value": "web"}`.
//! #[derive(Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     label: String,
//!     value: String,
//! }
//!
//! struct AddLabel;
//!
//! impl Mutator for AddLabel {
//!     type Settings = Settings;
//!
//!     fn describe() -> Description {
//!         Description {
//!             name: "add-label".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             summary: "Adds one label to every Deployment and Service.".into(),
//!             settings_example: r#"{"label": "team", "value": "web"}"#.into(),
//!         }
//!     }
//!
//!     fn check(settings: &Settings) -> Result<(), String> {
//!         if settings.label.is_empty() {
//!             return Err("label: must not be empty".into());
//!         }
//!         Ok(())
//!     }
//!
//!     fn mutate(settings: &Settings, objects: &mut Objects) -> Result<(), String> {
//!         // Built step by step, so a label key with `.` or `/` needs no quoting.
//!         let path = FieldPath::root().key("metadata").key("labels").key(&settings.label);
//!         for object in objects {
//!             path.set(object, settings.value.clone().into())?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // Shown only Deployments and Services: the rest of the render stays out of
//! // the sandbox, and out of this plugin's reach.
//! declare_interest! {
//!     { groups: ["apps"], kinds: ["Deployment"] },
//!     { groups: [""], kinds: ["Service"] },
//! }
//!
//! export_mutator!(AddLabel);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` from a crate with
//! `crate-type = ["cdylib"]`; the `.wasm` file is the component. A crate can also
//! have `"rlib"` in its crate types so its pure logic can be unit-tested and
//! benchmarked natively: the traits, [`settings`], [`json`], [`k8s`] and [`version`]
//! all work on any target, and [`log`] writes to stderr outside WebAssembly. Such a
//! crate should export only when built for WebAssembly,
//! `#[cfg(target_arch = "wasm32")] export_mutator!(AddLabel);`, because the export
//! macros define the component's exported symbols and two plugins linked into
//! one native binary (a benchmark, say) would define them twice.
//!
//! To test a plugin, [`mutator::mutate`], [`mutator::check_settings`] and their
//! image-policy and validator siblings do natively exactly what the host's calls
//! do, for unit tests ([`mutator::apply`] turns a mutator's changes into the
//! whole list of objects); `rekon test` runs a plugin's `rekon-test.yaml` suite
//! against the built component in the real sandbox.
//!
//! # Helpers
//!
//! * [`settings::parse`]: settings JSON to your type, with errors that name the field.
//! * [`log`]: write log lines through the host.
//! * [`json`]: read and write fields by dotted path (`spec.template.spec.containers[0].image`).
//! * [`k8s`]: object identity and object refs, pod templates of workloads (with
//!   their paths), containers, label and glob matching.
//! * [`version`]: lenient semantic versions as image tags use them.
//! * [`sources`]: Flux source objects and the chart versions the host
//!   resolved (the `rekon:sources/flux` host import; needs the `sources`
//!   capability).
//!
//! # Interest and capabilities
//!
//! A mutator or validator is shown every object of a render unless it says
//! which it wants with [`declare_interest!`] (see [`interest`]); the fewer, the
//! less crosses the sandbox.
//!
//! A plugin runs deterministic by default: its clocks are frozen and its random
//! generators seeded with constants. It is never shown Secrets, and a mutator
//! may only change fields of the objects it was shown. One that needs more
//! says so with [`declare_capabilities!`] (`clock`, `random`, `secrets`,
//! `create`, `delete`, `rename`, `sources`), and the operator grants it (see
//! [`capabilities`]).
//!
//! # Going below the traits
//!
//! The traits cover what most plugins need. A plugin that must control the exact
//! text it returns implements the generated `Guest` traits of [`raw`] itself and
//! exports them with that world's macro (see [`raw`]).

#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod alloc;
pub mod capabilities;
pub mod image_policy;
pub mod interest;
pub mod json;
pub mod k8s;
pub mod log;
pub mod mutator;
mod parse;
pub mod settings;
pub mod sources;
pub mod validator;
pub mod version;

pub use image_policy::ImagePolicy;
pub use mutator::Mutator;
pub use validator::Validator;

/// The JSON crate the SDK uses; plugins can rely on it instead of adding their own.
pub use serde_json;
/// A parsed JSON value: how the SDK hands Kubernetes objects to plugins.
pub use serde_json::Value;

/// One tag of an image repository as the registry reported it (WIT
/// `rekon:plugin/image-policy.tag`): `name`, `digest` (`sha256:...`, when the host
/// knows it) and `created` (seconds since the Unix epoch, when known).
pub use rekon_plugin_world_image_policy::exports::rekon::plugin::image_policy::Tag;
/// What a plugin says about itself (`describe`). Generated from the WIT record
/// `rekon:plugin/types.description`.
///
/// Fields: `name` (short, stable, lower-case, `-` separated), `version` (the
/// plugin's semver, usually `env!("CARGO_PKG_VERSION")`), `summary` (one or two
/// sentences) and `settings_example` (JSON text an operator can paste; empty when
/// the plugin takes no settings).
pub use rekon_plugin_world_image_policy::rekon::plugin::types::Description;
/// Names one Kubernetes object of a render (WIT `rekon:plugin/types.object-ref`);
/// build one with [`k8s::object_ref`].
pub use rekon_plugin_world_image_policy::rekon::plugin::types::ObjectRef;
/// How bad a validator finding is (WIT `rekon:plugin/types.severity`): `Error`
/// stops the render, `Warning` is reported and the render goes on, `Info` is
/// reported at info level only.
pub use rekon_plugin_world_image_policy::rekon::plugin::types::Severity;
/// One finding of a validator (WIT `rekon:plugin/types.violation`); build one with
/// [`validator::violation`].
pub use rekon_plugin_world_image_policy::rekon::plugin::types::Violation;

/// The wit-bindgen bindings of each world, for plugins that go below the traits.
///
/// Each world module has the generated `Guest` traits under
/// `exports::rekon::plugin::{plugin, image_policy, mutator, validator}` and an
/// export macro at its root (`export_image_policy_world!`, `export_mutator_world!`,
/// `export_validator_world!`). Implement both `Guest` traits of a world on one type
/// and export it, naming the bindings module:
///
/// ```
/// use rekon_plugin_sdk::raw::mutator::exports::rekon::plugin::{mutator, plugin};
///
/// struct LeaveAlone;
///
/// impl plugin::Guest for LeaveAlone {
///     fn describe() -> plugin::Description {
///         plugin::Description {
///             name: "leave-alone".into(),
///             version: "0.1.0".into(),
///             summary: "Changes nothing.".into(),
///             settings_example: String::new(),
///         }
///     }
///     fn check_settings(_settings: String) -> Result<(), String> {
///         Ok(())
///     }
/// }
///
/// impl mutator::Guest for LeaveAlone {
///     fn mutate(_settings: String, _objects: Vec<String>) -> Result<mutator::Changes, String> {
///         // Only what changed crosses back: here, nothing.
///         Ok(mutator::Changes { replaced: vec![], removed: vec![], added: vec![] })
///     }
/// }
///
/// rekon_plugin_sdk::raw::mutator::export_mutator_world!(
///     LeaveAlone with_types_in rekon_plugin_sdk::raw::mutator
/// );
/// # fn main() {}
/// ```
///
/// The host import `log` is `raw::image_policy::rekon::plugin::host::log` in every
/// world (the other worlds reuse it); prefer the [`log`] helpers.
pub mod raw {
    pub use rekon_plugin_world_image_policy as image_policy;
    pub use rekon_plugin_world_mutator as mutator;
    /// The `rekon:sources/flux` host import (needs the `sources` capability);
    /// prefer the [`sources`](crate::sources) wrappers.
    pub use rekon_plugin_world_sources as sources;
    pub use rekon_plugin_world_validator as validator;
}
