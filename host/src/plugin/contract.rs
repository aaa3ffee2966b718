//! The WIT contract a plugin was built against, read from its component type.
//!
//! Compatibility rule (also in `wit/README.md`): a host speaking
//! `rekon:plugin@MAJOR.MINOR.x` accepts plugins built against the same
//! `MAJOR.MINOR` and any patch version, and the earlier series it lists in
//! [`SUPPORTED`] (run through bindings of that frozen version); anything else
//! is refused before the plugin is instantiated, with both versions named.

use std::fmt;

/// The contract package this host implements.
pub const PACKAGE: &str = "rekon:plugin";
/// The contract version this host implements (the version in `wit/*.wit`).
pub const VERSION: &str = "0.2.0";
/// Every `MAJOR.MINOR` series this host runs, newest first: its own and
/// `0.1` (`wit/0.1.0/`, frozen).
pub const SUPPORTED: &[&str] = &["0.2", "0.1"];

/// Which of the three plugin worlds a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Ranks the tags of an image repository.
    ImagePolicy,
    /// Rewrites the objects of a render.
    ManifestMutator,
    /// Checks the objects of a render.
    ManifestValidator,
}

impl World {
    /// The world's name in `wit/worlds.wit`.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::ImagePolicy => "image-policy-plugin",
            World::ManifestMutator => "manifest-mutator-plugin",
            World::ManifestValidator => "manifest-validator-plugin",
        }
    }

    /// The interface (besides `plugin`) a component of this world exports.
    fn interface(self) -> &'static str {
        match self {
            World::ImagePolicy => "image-policy",
            World::ManifestMutator => "mutator",
            World::ManifestValidator => "validator",
        }
    }

    /// The export the host calls for the plugin's main work, for error messages.
    pub fn main_export(self) -> &'static str {
        match self {
            World::ImagePolicy => "rank",
            World::ManifestMutator => "mutate",
            World::ManifestValidator => "validate",
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::ImagePolicy => "image-policy",
            World::ManifestMutator => "manifest-mutator",
            World::ManifestValidator => "manifest-validator",
        })
    }
}

/// What the contract check found out about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The world the component implements.
    pub world: World,
    /// The full contract version it was built against, e.g. `0.2.0`.
    pub version: String,
}

impl Contract {
    /// Whether it was built against `rekon:plugin@0.1.x`, which this host
    /// runs through the frozen 0.1.0 bindings.
    pub fn is_v0_1(&self) -> bool {
        series(&self.version) == "0.1"
    }
}

/// Why a component is not a plugin this host can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// It exports nothing from `rekon:plugin`.
    #[error(
        "it exports no `{PACKAGE}` interface, so it is not a rekon plugin (exports: {exports})"
    )]
    NotAPlugin {
        /// The exports it does have, comma separated.
        exports: String,
    },
    /// It was built against another major/minor version of the contract.
    #[error(
        "it was built against contract {PACKAGE}@{found}, but this host speaks {PACKAGE}@{VERSION} \
         and runs plugins of {accepted}; rebuild the plugin against wit/ of this rekon \
         (or use a rekon that speaks {PACKAGE}@{found})",
        accepted = SUPPORTED.iter().map(|s| format!("{PACKAGE}@{s}.x")).collect::<Vec<_>>().join(" and ")
    )]
    Incompatible {
        /// The plugin's contract version.
        found: String,
    },
    /// It exports `plugin` but no world interface, or several.
    #[error("it must export `plugin` and exactly one of image-policy, mutator, validator; it exports: {exports}")]
    AmbiguousWorld {
        /// The `rekon:plugin` exports found.
        exports: String,
    },
}

/// Decide world and contract version from a component's export names.
pub fn identify<'a>(
    export_names: impl IntoIterator<Item = &'a str>,
) -> Result<Contract, ContractError> {
    let names: Vec<&str> = export_names.into_iter().collect();
    let ours: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|name| {
            let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
            let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
            Some((interface, version))
        })
        .collect();
    if ours.is_empty() {
        return Err(ContractError::NotAPlugin {
            exports: list(&names),
        });
    }
    for (_, version) in &ours {
        // Mixed versions cannot happen with one WIT package; refuse them anyway.
        if !SUPPORTED.contains(&series(version)) || series(version) != series(ours[0].1) {
            return Err(ContractError::Incompatible {
                found: if version.is_empty() {
                    "(unversioned)".to_string()
                } else {
                    version.to_string()
                },
            });
        }
    }
    let worlds: Vec<World> = [
        World::ImagePolicy,
        World::ManifestMutator,
        World::ManifestValidator,
    ]
    .into_iter()
    .filter(|w| ours.iter().any(|(i, _)| *i == w.interface()))
    .collect();
    let has_plugin = ours.iter().any(|(i, _)| *i == "plugin");
    match (has_plugin, worlds.as_slice()) {
        (true, [world]) => Ok(Contract {
            world: *world,
            version: ours[0].1.to_string(),
        }),
        _ => Err(ContractError::AmbiguousWorld {
            exports: list(&ours.iter().map(|(i, _)| *i).collect::<Vec<_>>()),
        }),
    }
}

/// `MAJOR.MINOR` of a semver string (`0.1.3` -> `0.1`).
fn series(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_each_world() {
        let c = identify(["rekon:plugin/plugin@0.2.0", "rekon:plugin/mutator@0.2.0"]).unwrap();
        assert_eq!(
            c,
            Contract {
                world: World::ManifestMutator,
                version: "0.2.0".into()
            }
        );
        assert!(!c.is_v0_1());
        let c = identify(["rekon:plugin/plugin@0.1.0", "rekon:plugin/mutator@0.1.0"]).unwrap();
        assert!(c.is_v0_1());
        let c = identify([
            "rekon:plugin/plugin@0.1.4",
            "rekon:plugin/image-policy@0.1.4",
        ])
        .unwrap();
        assert_eq!(c.world, World::ImagePolicy);
        assert_eq!(c.version, "0.1.4");
    }

    #[test]
    fn refuses_another_minor_naming_both_versions() {
        let err =
            identify(["rekon:plugin/plugin@0.3.0", "rekon:plugin/mutator@0.3.0"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("rekon:plugin@0.3.0"), "{msg}");
        assert!(msg.contains("speaks rekon:plugin@0.2.0"), "{msg}");
        assert!(
            msg.contains("rekon:plugin@0.2.x and rekon:plugin@0.1.x"),
            "{msg}"
        );
        assert!(identify(["rekon:plugin/plugin@0.1.0", "rekon:plugin/mutator@0.2.0"]).is_err());
    }

    #[test]
    fn refuses_non_plugins_and_ambiguous_worlds() {
        assert!(matches!(
            identify(["wasi:cli/run@0.2.0"]),
            Err(ContractError::NotAPlugin { .. })
        ));
        assert!(matches!(
            identify([
                "rekon:plugin/plugin@0.2.0",
                "rekon:plugin/mutator@0.2.0",
                "rekon:plugin/validator@0.2.0"
            ]),
            Err(ContractError::AmbiguousWorld { .. })
        ));
        assert!(matches!(
            identify(["rekon:plugin/mutator@0.2.0"]),
            Err(ContractError::AmbiguousWorld { .. })
        ));
    }
}
