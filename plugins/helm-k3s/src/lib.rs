//! `helm-k3s`: a rekon manifest mutator that replaces each Flux HelmRelease
//! (`helm.toolkit.fluxcd.io/v2`) of a render with the k3s HelmChart
//! (`helm.cattle.io/v1`) that installs the same release, so a k3s cluster
//! runs Flux-shaped repositories with its own Helm controller.
//!
//! What cannot be translated faithfully is refused: the render fails with an
//! error naming the HelmRelease and the field (`HelmRelease web/podinfo:
//! spec.postRenderers: ...`), never dropped silently. The README has the
//! table of every field.
//!
//! The Flux sources (HelmRepository, OCIRepository) and the chart version the
//! host resolved come through [`Sources`]: the host import in the component,
//! a map in native tests.

#![warn(missing_docs)]

mod chart;
mod spec;
mod values;

pub use chart::{translate, RELEASE_LABEL_NAME, RELEASE_LABEL_NAMESPACE};

use rekon_plugin_sdk::mutator::Objects;
use rekon_plugin_sdk::sources::Chart;
use rekon_plugin_sdk::{Description, Mutator, Value};
use serde::Deserialize;

/// Where the translation reads Flux sources and resolved chart versions:
/// [`Host`] in the component, a map in tests.
pub trait Sources {
    /// The source object `kind` `namespace`/`name` as JSON, `None` when the
    /// repository defines none (see `rekon_plugin_sdk::sources::source`).
    fn source(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Value>, String>;

    /// The chart the host resolved for HelmRelease `namespace`/`name` (see
    /// `rekon_plugin_sdk::sources::helm_chart`).
    fn helm_chart(&self, namespace: &str, name: &str) -> Result<Chart, String>;
}

/// [`Sources`] over the host's `rekon:sources/flux` import (needs the
/// `sources` capability; only callable inside the component).
pub struct Host;

impl Sources for Host {
    fn source(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Value>, String> {
        rekon_plugin_sdk::sources::source(kind, namespace, name)
    }

    fn helm_chart(&self, namespace: &str, name: &str) -> Result<Chart, String> {
        rekon_plugin_sdk::sources::helm_chart(namespace, name)
    }
}

/// The plugin takes no settings: `{}`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {}

/// The plugin: [`Mutator`] that calls [`translate`] over [`Host`].
pub struct HelmK3s;

impl Mutator for HelmK3s {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "helm-k3s".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Replaces each Flux HelmRelease with the equivalent k3s HelmChart \
                      (helm.cattle.io/v1); refuses, by field, what k3s cannot do faithfully."
                .into(),
            settings_example: String::new(),
        }
    }

    fn mutate(_settings: &Settings, objects: &mut Objects) -> Result<(), String> {
        translate(objects, &Host)
    }
}

// HelmReleases to translate, and the ConfigMaps their valuesFrom name.
// Secrets are not needed: a valuesFrom Secret becomes a reference k3s reads
// in the cluster (`valuesSecrets`), never its content.
rekon_plugin_sdk::declare_interest! {
    { groups: ["helm.toolkit.fluxcd.io"], kinds: ["HelmRelease"] },
    { groups: [""], kinds: ["ConfigMap"] },
}

// Reads sources through the host import, removes HelmReleases, adds HelmCharts.
rekon_plugin_sdk::declare_capabilities!(sources, create, delete);

// Only the component exports the world, so native binaries can link several plugins.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_mutator!(HelmK3s);

// Every call runs in a fresh instance, so a bump allocator (nothing freed
// until the instance goes) is safe and faster (docs/PERFORMANCE.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: rekon_plugin_sdk::alloc::Bump = rekon_plugin_sdk::alloc::Bump::new();

#[cfg(test)]
mod tests {
    use super::*;
    use rekon_plugin_sdk::mutator::check_settings;

    #[test]
    fn takes_no_settings() {
        check_settings::<HelmK3s>("").unwrap();
        check_settings::<HelmK3s>("{}").unwrap();
        let error = check_settings::<HelmK3s>(r#"{"namespace": "kube-system"}"#).unwrap_err();
        assert!(error.contains("unknown field `namespace`"), "{error}");
    }
}
