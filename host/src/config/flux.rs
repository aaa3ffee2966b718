//! The `[flux]` table: rekon reads its kustomizations, sources, images and
//! automation from the Flux objects of a repository (see [`crate::flux`]).
//!
//! ```toml
//! [flux]
//! path = "flux/clusters/production"   # the entry, as `flux bootstrap --path`
//! # source = "website"                # in that [sources.NAME] (default: [source])
//!
//! [flux.kustomizations."flux-system/apps"]   # plugins of a Flux Kustomization
//! mutators = ["readiness-probe"]             # (or its annotations rekon.dev/mutators,
//! validators = ["image-validator"]           #  rekon.dev/validators)
//!
//! [flux.policies."flux-system/frontend"]     # an ImagePolicy
//! plugin = "flux-policy"                     # (or annotation rekon.dev/policy-plugin)
//! platform = "linux/arm64"                   # (or annotation rekon.dev/platform)
//! ```
//!
//! With `[flux]`, `[[kustomizations]]`, `[images]` and `[git]` come from
//! the Flux objects and are refused in the file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::images::Context;
use super::{ConfigError, PluginConfig, PluginUse};

/// The checked `[flux]` table.
#[derive(Debug, Clone, Default)]
pub struct FluxSettings {
    /// The entry path, inside the source.
    pub path: PathBuf,
    /// The `[sources.NAME]` holding it (`None`: `[source]`).
    pub source: Option<String>,
    /// Plugins by Flux Kustomization (`namespace/name`).
    pub kustomizations: BTreeMap<String, FluxChains>,
    /// Policy plugin and platform by ImagePolicy (`namespace/name`).
    pub policies: BTreeMap<String, FluxPolicy>,
}

/// `[flux.kustomizations."NS/NAME"]`.
#[derive(Debug, Clone, Default)]
pub struct FluxChains {
    /// Mutators, in order.
    pub mutators: Vec<PluginUse>,
    /// Validators.
    pub validators: Vec<PluginUse>,
}

/// `[flux.policies."NS/NAME"]`.
#[derive(Debug, Clone, Default)]
pub struct FluxPolicy {
    /// The image-policy plugin (default `flux-policy`).
    pub plugin: Option<String>,
    /// A platform every chosen tag must offer.
    pub platform: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFlux {
    path: PathBuf,
    source: Option<String>,
    #[serde(default)]
    kustomizations: BTreeMap<String, RawChains>,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChains {
    #[serde(default)]
    mutators: Vec<String>,
    #[serde(default)]
    validators: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    plugin: Option<String>,
    platform: Option<String>,
}

/// The plugin uses named in a `mutators`/`validators` list (also of the
/// `rekon.dev/mutators` annotations), with their default settings.
pub fn chain(
    names: &[String],
    plugins: &BTreeMap<String, PluginConfig>,
) -> Result<Vec<PluginUse>, String> {
    names
        .iter()
        .map(|name| match plugins.get(name) {
            Some(p) => Ok(PluginUse {
                plugin: name.clone(),
                settings: p.settings.clone(),
            }),
            None => Err(format!(
                "plugin `{name}` is not declared under [plugins] (declared: {})",
                if plugins.is_empty() {
                    "none".to_string()
                } else {
                    plugins.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )),
        })
        .collect()
}

pub(super) fn flux(
    cx: &Context<'_>,
    raw: Option<Spanned<RawFlux>>,
    plugins: &BTreeMap<String, PluginConfig>,
    sources: &BTreeMap<String, super::SourceConfig>,
) -> Result<Option<FluxSettings>, ConfigError> {
    let Some(spanned) = raw else {
        return Ok(None);
    };
    let span = spanned.span();
    let f = spanned.into_inner();
    let bad = |m: String| cx.invalid(&span, format!("flux: {m}"));
    if !super::is_inside(&f.path) {
        return Err(bad(format!(
            "path `{}` must be relative to the source, without `..`",
            f.path.display()
        )));
    }
    if let Some(source) = &f.source {
        if !sources.contains_key(source) {
            return Err(bad(format!(
                "source `{source}` is not declared under [sources]"
            )));
        }
    }
    let name_ok = |key: &str| matches!(key.split('/').collect::<Vec<_>>()[..], [ns, n] if !ns.is_empty() && !n.is_empty());
    let mut kustomizations = BTreeMap::new();
    for (key, c) in f.kustomizations {
        if !name_ok(&key) {
            return Err(bad(format!(
                "kustomizations.\"{key}\": write NAMESPACE/NAME"
            )));
        }
        let mutators = chain(&c.mutators, plugins)
            .map_err(|m| bad(format!("kustomizations.\"{key}\": mutator {m}")))?;
        let validators = chain(&c.validators, plugins)
            .map_err(|m| bad(format!("kustomizations.\"{key}\": validator {m}")))?;
        kustomizations.insert(
            key,
            FluxChains {
                mutators,
                validators,
            },
        );
    }
    let mut policies = BTreeMap::new();
    for (key, p) in f.policies {
        if !name_ok(&key) {
            return Err(bad(format!("policies.\"{key}\": write NAMESPACE/NAME")));
        }
        policies.insert(
            key,
            FluxPolicy {
                plugin: p.plugin,
                platform: p.platform,
            },
        );
    }
    Ok(Some(FluxSettings {
        path: f.path,
        source: f.source,
        kustomizations,
        policies,
    }))
}
