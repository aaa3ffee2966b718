//! Loading and calling sandboxed WebAssembly plugins.
//!
//! A [`Runtime`] owns the one wasmtime engine. [`Runtime::load`] reads a
//! component, checks its contract and imports, prepares it once
//! (`instantiate_pre`) and asks it to describe itself. Every call on the
//! returned [`Plugin`] then runs in a fresh store ([`sandbox`]) with a
//! deadline, a memory cap and an output cap; a trap, timeout or limit hit
//! becomes a [`PluginError`] naming the plugin and the export and never
//! affects other calls.

mod artifact;
mod bindings;
mod cache;
pub mod capabilities;
pub mod contract;
mod engine;
mod error;
pub mod interest;
pub mod oci;
pub mod sandbox;
pub mod scope;
mod texts;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Store, Trap, WasmBacktrace};

pub use bindings::{Changes, Description, ObjectRef, Replacement, Severity, Tag, Violation};
pub use cache::{store as write_atomically, CacheOutcome};
pub use capabilities::{Admission, Capabilities, Capability, Grant, KindName};
pub use contract::World;
pub use engine::{precompile_for_target, Allocation, PoolSize, Runtime, RuntimeOptions};
pub use error::{CallFailure, PluginError};
pub use interest::{Interest, Sensitive};
pub use sandbox::{Limits, LogLine};
pub use scope::{Mutation, Overstep};
pub use texts::Texts;

use crate::charts::SourceContext;
use bindings::{image_policy, mutator, v0_1, validator};
use sandbox::CallState;

/// Frames kept in a trap's backtrace.
const BACKTRACE_FRAMES: usize = 12;

/// What to load: a name for messages, the file, its limits and an optional pin.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The plugin's name in the configuration (used in every message).
    pub name: String,
    /// A `.wasm` component, or an artifact from `rekon plugin compile`.
    pub path: PathBuf,
    /// Expected sha256 of the file (hex), if pinned.
    pub sha256: Option<String>,
    /// Limits of each call.
    pub limits: Limits,
}

/// A loaded, prepared plugin. Cheap to share between threads; each call
/// instantiates it afresh.
#[derive(Clone)]
pub struct Plugin {
    name: String,
    path: PathBuf,
    sha256: String,
    contract: contract::Contract,
    description: Description,
    imports: Vec<String>,
    admission: Admission,
    interest: Interest,
    limits: Limits,
    cache: CacheOutcome,
    prepared: Prepared,
    stats: Arc<CallStats>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("contract", &self.contract)
            .field("grant", &self.limits.grant)
            .finish_non_exhaustive()
    }
}

/// Counters of a plugin's calls, for metrics. Shared between the versions
/// of one configured plugin (see [`Plugin::with_stats`]) so a hot swap does
/// not reset them.
#[derive(Debug, Default)]
pub struct CallStats {
    /// Calls made (every export, `describe` and `check-settings` included).
    pub calls: AtomicU64,
    /// Calls that trapped, hit the memory cap or returned too much.
    pub traps: AtomicU64,
    /// Calls stopped at their deadline.
    pub timeouts: AtomicU64,
}

impl CallStats {
    fn record(&self, failure: Option<&CallFailure>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match failure {
            Some(CallFailure::Timeout { .. }) => self.timeouts.fetch_add(1, Ordering::Relaxed),
            Some(
                CallFailure::Trap { .. }
                | CallFailure::MemoryCap { .. }
                | CallFailure::OutputTooLarge { .. },
            ) => self.traps.fetch_add(1, Ordering::Relaxed),
            Some(CallFailure::Refused(_)) | None => 0,
        };
    }
}

#[derive(Clone)]
enum Prepared {
    ImagePolicy(image_policy::ImagePolicyPluginPre<CallState>),
    Mutator(mutator::ManifestMutatorPluginPre<CallState>),
    Validator(validator::ManifestValidatorPluginPre<CallState>),
    /// The same three worlds of `rekon:plugin@0.1.0`.
    ImagePolicyV01(v0_1::image_policy::ImagePolicyPluginPre<CallState>),
    MutatorV01(v0_1::mutator::ManifestMutatorPluginPre<CallState>),
    ValidatorV01(v0_1::validator::ManifestValidatorPluginPre<CallState>),
}

/// Run `$body` with `$p` bound to whichever prepared world `$prepared` holds.
macro_rules! each_world {
    ($prepared:expr, $p:ident => $body:expr) => {
        match $prepared {
            Prepared::ImagePolicy($p) => $body,
            Prepared::Mutator($p) => $body,
            Prepared::Validator($p) => $body,
            Prepared::ImagePolicyV01($p) => $body,
            Prepared::MutatorV01($p) => $body,
            Prepared::ValidatorV01($p) => $body,
        }
    };
}

impl Runtime {
    /// Load, check and prepare a plugin, and ask it to describe itself.
    pub fn load(&self, source: &PluginSource) -> Result<Plugin, PluginError> {
        let name = source.name.clone();
        let path = source.path.clone();
        let bytes = std::fs::read(&path).map_err(|e| PluginError::Read {
            plugin: name.clone(),
            path: path.clone(),
            error: e,
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = &source.sha256 {
            let expected = expected.trim_start_matches("sha256:").to_ascii_lowercase();
            if expected != sha256 {
                return Err(PluginError::DigestMismatch {
                    plugin: name,
                    path,
                    expected,
                    actual: sha256,
                });
            }
        }
        let not_a_component = |reason: String| PluginError::NotAComponent {
            plugin: name.clone(),
            path: path.clone(),
            reason,
        };
        let declaration_error = |error| PluginError::Declaration {
            plugin: name.clone(),
            path: path.clone(),
            error,
        };
        // A precompiled artifact carries its component's declarations in a
        // header (see `artifact`); a bare wasmtime artifact has none.
        let (declaration, interest, code) = match artifact::read(&bytes) {
            Some(artifact) => {
                let artifact = artifact.map_err(declaration_error)?;
                (Some(artifact.declaration), artifact.interest, artifact.code)
            }
            None if wasmtime::Engine::detect_precompiled(&bytes).is_some() => (
                None,
                Interest::everything(capabilities::DeclaredIn::NotRecorded),
                &bytes[..],
            ),
            None => {
                check_magic(&bytes).map_err(not_a_component)?;
                (
                    Some(capabilities::read_declaration(&bytes).map_err(declaration_error)?),
                    interest::read(&bytes).map_err(declaration_error)?,
                    &bytes[..],
                )
            }
        };
        let (component, cache) = self
            .compile(&name, &path, code, &sha256)
            .map_err(not_a_component)?;

        let ty = component.component_type();
        let contract =
            contract::identify(ty.exports(&self.engine).map(|(n, _)| n)).map_err(|e| {
                PluginError::Contract {
                    plugin: name.clone(),
                    path: path.clone(),
                    error: e,
                }
            })?;
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let admission = capabilities::admit(
            &name,
            &path,
            declaration,
            source.limits.grant.capabilities,
            contract.is_v0_1(),
            &imports,
            capabilities::IMPORTS,
        )?;

        let pre = linker(&self.engine)
            .and_then(|l| l.instantiate_pre(&component))
            .map_err(|e| not_a_component(format!("{e:#}")))?;
        let prepared = match (contract.world, contract.is_v0_1()) {
            (World::ImagePolicy, false) => {
                image_policy::ImagePolicyPluginPre::new(pre).map(Prepared::ImagePolicy)
            }
            (World::ManifestMutator, false) => {
                mutator::ManifestMutatorPluginPre::new(pre).map(Prepared::Mutator)
            }
            (World::ManifestValidator, false) => {
                validator::ManifestValidatorPluginPre::new(pre).map(Prepared::Validator)
            }
            (World::ImagePolicy, true) => {
                v0_1::image_policy::ImagePolicyPluginPre::new(pre).map(Prepared::ImagePolicyV01)
            }
            (World::ManifestMutator, true) => {
                v0_1::mutator::ManifestMutatorPluginPre::new(pre).map(Prepared::MutatorV01)
            }
            (World::ManifestValidator, true) => {
                v0_1::validator::ManifestValidatorPluginPre::new(pre).map(Prepared::ValidatorV01)
            }
        }
        .map_err(|e| not_a_component(format!("{e:#}")))?;

        let mut plugin = Plugin {
            name,
            path,
            sha256,
            contract,
            description: Description {
                name: String::new(),
                version: String::new(),
                summary: String::new(),
                settings_example: String::new(),
            },
            imports,
            admission,
            interest,
            limits: source.limits.clone(),
            cache,
            prepared,
            stats: Arc::default(),
        };
        plugin.description = plugin.describe()?;
        tracing::debug!(plugin = %plugin.name, world = %plugin.contract.world, cache = ?cache, "plugin loaded");
        Ok(plugin)
    }

    fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<(Component, CacheOutcome), String> {
        if wasmtime::Engine::detect_precompiled(bytes).is_some() {
            // SAFETY: a precompiled artifact is native code; rekon loads one
            // only from a path the operator configured (see docs/plugins.md),
            // and wasmtime checks it was made by a compatible engine.
            return unsafe { Component::deserialize(&self.engine, bytes) }
                .map(|c| (c, CacheOutcome::Hit))
                .map_err(|e| format!("precompiled artifact does not fit this host: {e}"));
        }
        check_magic(bytes)?;
        cache::load_or_compile(&self.engine, self.cache.as_ref(), name, path, bytes, sha256)
            .map_err(|e| format!("{e:#}"))
    }
}

/// Recognise the common mistakes before wasmtime's less direct errors.
fn check_magic(bytes: &[u8]) -> Result<(), String> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(
            "this is a core WebAssembly module, not a component; build it for the `wasm32-wasip2` target \
             (or wrap it with `wasm-tools component new`)"
                .into(),
        ),
        _ => Err("not a WebAssembly file (no `\\0asm` header)".into()),
    }
}

fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    bindings::host::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
    v0_1::image_policy::rekon::plugin::host::add_to_linker::<CallState, HasSelf<CallState>>(
        &mut linker,
        |s| s,
    )?;
    bindings::sources::rekon::sources::flux::add_to_linker::<CallState, HasSelf<CallState>>(
        &mut linker,
        |s| s,
    )?;
    Ok(linker)
}

/// What `rekon plugin inspect` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginInfo {
    /// Name in the configuration (or the file name).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// sha256 of the file.
    pub sha256: String,
    /// The world it implements.
    pub world: World,
    /// The contract version it was built against.
    pub contract: String,
    /// Its self-description: name.
    pub plugin_name: String,
    /// Its self-description: version.
    pub plugin_version: String,
    /// Its self-description: summary.
    pub summary: String,
    /// Its example settings.
    pub settings_example: String,
    /// Everything it imports.
    pub imports: Vec<String>,
    /// Each import with what the host provides for it.
    pub import_uses: Vec<ImportUse>,
    /// Capabilities it declares (for a precompiled artifact: the grant).
    pub declared: Capabilities,
    /// Where the declaration was found.
    pub declared_in: capabilities::DeclaredIn,
    /// Capabilities in force in its calls (it runs with its whole
    /// declaration or is refused).
    pub effective: Capabilities,
    /// The whole grant, with kind limits (`create:HelmChart`).
    pub grant: Grant,
    /// The objects it wants to be shown (`null`: every object).
    pub interest: Interest,
    /// Where its interest was declared.
    pub interest_declared_in: capabilities::DeclaredIn,
}

/// One import of a plugin and what the host links for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportUse {
    /// The import's name, e.g. `wasi:clocks/wall-clock@0.2.6`.
    pub import: String,
    /// What the plugin gets, e.g. `fixed clocks: ...`.
    pub provides: String,
}

impl Plugin {
    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// sha256 of the file, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The world it implements.
    pub fn world(&self) -> World {
        self.contract.world
    }

    /// Its self-description (asked once, at load).
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Whether the compiled form came from the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache
    }

    /// The call limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What it wants to be shown.
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// Whether it was built against `rekon:plugin@0.1.x`.
    pub fn is_v0_1(&self) -> bool {
        self.contract.is_v0_1()
    }

    /// Everything `rekon plugin inspect` shows.
    pub fn info(&self) -> PluginInfo {
        PluginInfo {
            name: self.name.clone(),
            path: self.path.clone(),
            sha256: self.sha256.clone(),
            world: self.contract.world,
            contract: format!("{}@{}", contract::PACKAGE, self.contract.version),
            plugin_name: self.description.name.clone(),
            plugin_version: self.description.version.clone(),
            summary: self.description.summary.clone(),
            settings_example: self.description.settings_example.clone(),
            imports: self.imports.clone(),
            import_uses: self
                .imports
                .iter()
                .map(|import| ImportUse {
                    import: import.clone(),
                    // Every import passed admission, so every one is described.
                    provides: capabilities::describe_import(import, self.admission.effective)
                        .unwrap_or_default(),
                })
                .collect(),
            declared: self.admission.declared.capabilities,
            declared_in: self.admission.declared.declared_in,
            effective: self.admission.effective,
            grant: self.limits.grant.clone(),
            interest: self.interest.clone(),
            interest_declared_in: self.interest.declared_in,
        }
    }

    /// What it declares, what was granted and what is in force.
    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Count this plugin's calls in `stats` (shared with earlier versions of
    /// the same configured plugin) instead of its own counters.
    pub fn with_stats(mut self, stats: Arc<CallStats>) -> Plugin {
        self.stats = stats;
        self
    }

    /// This plugin's call counters.
    pub fn stats(&self) -> &Arc<CallStats> {
        &self.stats
    }

    /// Create a fresh sandboxed instance and drop it without calling
    /// anything: the fixed cost every call pays (benchmarks, health checks).
    pub fn instantiate_only(&self) -> Result<(), PluginError> {
        self.call("instantiate", |store, prepared| {
            each_world!(prepared, p => {
                p.instantiate(&mut *store)?;
            });
            Ok(())
        })
        .map(|_| ())
    }

    // `.into()` converts a 0.1.0 description; for the current worlds it is
    // the identity, which clippy would flag in the shared macro arm.
    #[allow(clippy::useless_conversion)]
    fn describe(&self) -> Result<Description, PluginError> {
        self.call("describe", |store, prepared| {
            Ok(each_world!(prepared, p => p
                .instantiate(&mut *store)?
                .rekon_plugin_plugin()
                .call_describe(&mut *store)?
                .into()))
        })
        .map(|(d, _)| d)
    }

    /// Ask the plugin whether `settings` are valid. Call once at load.
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), PluginError> {
        let text = settings.to_string();
        let result = self
            .call("check-settings", |store, prepared| {
                Ok(each_world!(prepared, p => p
                    .instantiate(&mut *store)?
                    .rekon_plugin_plugin()
                    .call_check_settings(&mut *store, &text)?))
            })?
            .0;
        // The SDK already says `settings: <field>: <problem>`; do not say it twice.
        result.map_err(|message| PluginError::Settings {
            plugin: self.name.clone(),
            message: message
                .strip_prefix("settings: ")
                .map(str::to_string)
                .unwrap_or(message),
        })
    }

    /// Rank the tags of `repository` (image-policy plugins).
    pub fn rank(
        &self,
        settings: &serde_json::Value,
        repository: &str,
        tags: &[Tag],
    ) -> Result<Vec<String>, PluginError> {
        let text = settings.to_string();
        let (result, _) = match &self.prepared {
            Prepared::ImagePolicy(pre) => self.call("rank", |store, _| {
                pre.instantiate(&mut *store)?
                    .rekon_plugin_image_policy()
                    .call_rank(&mut *store, &text, repository, tags)
            })?,
            Prepared::ImagePolicyV01(pre) => {
                let tags: Vec<v0_1::Tag> = tags.iter().map(v0_1::tag).collect();
                self.call("rank", |store, _| {
                    pre.instantiate(&mut *store)?
                        .rekon_plugin_image_policy()
                        .call_rank(&mut *store, &text, repository, &tags)
                })?
            }
            _ => return Err(self.wrong_world(World::ImagePolicy)),
        };
        let ranked = result.map_err(|m| self.refused("rank", m))?;
        self.check_output("rank", ranked.iter().map(String::len).sum())?;
        Ok(ranked)
    }

    /// Call `mutate` on exactly `objects` (JSON texts) and return what the
    /// plugin changed, as positions in `objects`, whatever its contract
    /// version (a 0.1.0 answer is converted, see [`scope`]). Not checked
    /// against the grant: [`Plugin::mutate_objects`] does that.
    pub fn mutate(
        &self,
        settings: &serde_json::Value,
        objects: &[String],
    ) -> Result<Changes, PluginError> {
        self.mutate_in(settings, objects, None)
    }

    fn mutate_in(
        &self,
        settings: &serde_json::Value,
        objects: &[String],
        sources: Option<&Arc<SourceContext>>,
    ) -> Result<Changes, PluginError> {
        let text = settings.to_string();
        match &self.prepared {
            Prepared::Mutator(pre) => {
                let (result, _) = self.call_in("mutate", sources, |store, _| {
                    pre.instantiate(&mut *store)?
                        .rekon_plugin_mutator()
                        .call_mutate(&mut *store, &text, objects)
                })?;
                let changes = result.map_err(|m| self.refused("mutate", m))?;
                let bytes = changes
                    .replaced
                    .iter()
                    .map(|r| r.object.len())
                    .sum::<usize>()
                    + changes.added.iter().map(String::len).sum::<usize>();
                self.check_output("mutate", bytes)?;
                Ok(changes)
            }
            Prepared::MutatorV01(pre) => {
                let (result, _) = self.call_in("mutate", sources, |store, _| {
                    pre.instantiate(&mut *store)?
                        .rekon_plugin_mutator()
                        .call_mutate(&mut *store, &text, objects)
                })?;
                let mutated = result.map_err(|m| self.refused("mutate", m))?;
                self.check_output("mutate", mutated.iter().map(String::len).sum())?;
                scope::from_full_list(&self.name, objects, mutated)
            }
            _ => Err(self.wrong_world(World::ManifestMutator)),
        }
    }

    /// The positions of the `objects` this plugin is shown: those its
    /// interest matches, Secrets and the kinds its limits mark sensitive
    /// only with `secrets`.
    pub fn shown(&self, objects: &[&serde_json::Value]) -> Vec<usize> {
        let secrets = self.admission.effective.contains(Capability::Secrets);
        let sensitive = &self.limits.sensitive;
        objects
            .iter()
            .enumerate()
            .filter(|(_, o)| self.interest.matches(o) && (secrets || !sensitive.covers(o)))
            .map(|(i, _)| i)
            .collect()
    }

    /// Mutate the objects of one render: show the plugin the objects it may
    /// see, call it, and check its answer against its grant (see [`scope`]).
    /// The result is in positions of `objects`; nothing is applied when the
    /// plugin oversteps.
    pub fn mutate_objects(
        &self,
        settings: &serde_json::Value,
        objects: &[&serde_json::Value],
    ) -> Result<Mutation, PluginError> {
        self.mutate_objects_in(settings, objects, &Texts::new(objects.len()), None)
    }

    /// [`Plugin::mutate_objects`] for a render whose plugins share `texts`
    /// (the objects' JSON texts, see [`Texts`]; the caller keeps them in step
    /// with the mutation), with what `rekon:sources` answers during the call
    /// (only a plugin with `sources` in force can import it).
    pub fn mutate_objects_in(
        &self,
        settings: &serde_json::Value,
        objects: &[&serde_json::Value],
        texts: &Texts,
        sources: Option<&Arc<SourceContext>>,
    ) -> Result<Mutation, PluginError> {
        let shown = self.shown(objects);
        if shown.is_empty() {
            return Ok(Mutation::default());
        }
        let changes = self.mutate_in(settings, &shown_texts(objects, texts, &shown), sources)?;
        scope::check(&self.name, &self.limits.grant, objects, &shown, changes)
    }

    /// Validate exactly `objects` (validator plugins); a violation's index
    /// is a position in `objects`.
    pub fn validate(
        &self,
        settings: &serde_json::Value,
        objects: &[String],
    ) -> Result<Vec<Violation>, PluginError> {
        let text = settings.to_string();
        let (result, _) = match &self.prepared {
            Prepared::Validator(pre) => self.call("validate", |store, _| {
                pre.instantiate(&mut *store)?
                    .rekon_plugin_validator()
                    .call_validate(&mut *store, &text, objects)
            })?,
            Prepared::ValidatorV01(pre) => self.call("validate", |store, _| {
                Ok(pre
                    .instantiate(&mut *store)?
                    .rekon_plugin_validator()
                    .call_validate(&mut *store, &text, objects)?
                    .map(|v| v.into_iter().map(Violation::from).collect()))
            })?,
            _ => return Err(self.wrong_world(World::ManifestValidator)),
        };
        let violations = result.map_err(|m| self.refused("validate", m))?;
        let bytes = violations
            .iter()
            .map(|v| v.message.len() + v.path.len() + v.object.name.len() + 64)
            .sum();
        self.check_output("validate", bytes)?;
        Ok(violations)
    }

    /// Validate the objects of one render it may see (as
    /// [`Plugin::mutate_objects`] picks them); violation indices are
    /// positions in `objects`. An index outside what it was shown is an error.
    pub fn validate_objects(
        &self,
        settings: &serde_json::Value,
        objects: &[&serde_json::Value],
    ) -> Result<Vec<Violation>, PluginError> {
        self.validate_objects_in(settings, objects, &Texts::new(objects.len()))
    }

    /// [`Plugin::validate_objects`] for a render whose plugins share `texts`.
    pub fn validate_objects_in(
        &self,
        settings: &serde_json::Value,
        objects: &[&serde_json::Value],
        texts: &Texts,
    ) -> Result<Vec<Violation>, PluginError> {
        let shown = self.shown(objects);
        if shown.is_empty() {
            return Ok(Vec::new());
        }
        let mut violations = self.validate(settings, &shown_texts(objects, texts, &shown))?;
        for v in &mut violations {
            let Some(at) = shown.get(v.object.index as usize) else {
                return Err(PluginError::Call {
                    plugin: self.name.clone(),
                    export: "validate",
                    failure: CallFailure::Refused(format!(
                        "a violation names object {}, but the plugin was shown {} objects",
                        v.object.index,
                        shown.len()
                    )),
                });
            };
            v.object.index = *at as u32;
        }
        Ok(violations)
    }

    fn wrong_world(&self, wanted: World) -> PluginError {
        PluginError::WrongWorld {
            plugin: self.name.clone(),
            actual: self.contract.world,
            wanted,
        }
    }

    fn refused(&self, export: &'static str, message: String) -> PluginError {
        PluginError::Call {
            plugin: self.name.clone(),
            export,
            failure: CallFailure::Refused(message),
        }
    }

    fn check_output(&self, export: &'static str, bytes: usize) -> Result<(), PluginError> {
        let cap = self.limits.max_output_bytes;
        if bytes > cap {
            // The call itself was counted as a success; the cap makes it a failure.
            self.stats.traps.fetch_add(1, Ordering::Relaxed);
            return Err(PluginError::Call {
                plugin: self.name.clone(),
                export,
                failure: CallFailure::OutputTooLarge { bytes, cap },
            });
        }
        Ok(())
    }

    /// Run `f` in a fresh sandboxed store; map every failure to a [`CallFailure`].
    fn call<R>(
        &self,
        export: &'static str,
        f: impl FnOnce(&mut Store<CallState>, &Prepared) -> wasmtime::Result<R>,
    ) -> Result<(R, Vec<LogLine>), PluginError> {
        self.call_in(export, None, f)
    }

    /// [`Plugin::call`] with `sources` behind the `rekon:sources` import.
    fn call_in<R>(
        &self,
        export: &'static str,
        sources: Option<&Arc<SourceContext>>,
        f: impl FnOnce(&mut Store<CallState>, &Prepared) -> wasmtime::Result<R>,
    ) -> Result<(R, Vec<LogLine>), PluginError> {
        let engine = each_world!(&self.prepared, p => p.engine());
        let mut state = CallState::new(&self.name, &self.limits, self.admission.effective);
        state.sources = sources.cloned();
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(engine::ticks(self.limits.timeout));
        match f(&mut store, &self.prepared) {
            Ok(value) => {
                self.stats.record(None);
                Ok((value, std::mem::take(&mut store.data_mut().logs)))
            }
            Err(err) => {
                let failure = self.classify(&err, store.data());
                self.stats.record(Some(&failure));
                tracing::debug!(plugin = %self.name, export, "plugin call failed: {err:?}");
                Err(PluginError::Call {
                    plugin: self.name.clone(),
                    export,
                    failure,
                })
            }
        }
    }

    fn classify(&self, err: &wasmtime::Error, state: &CallState) -> CallFailure {
        if let Some(requested) = state.memory.denied {
            return CallFailure::MemoryCap {
                cap_mib: (self.limits.memory_bytes >> 20) as u64,
                // Rounded up: an operator who raises the cap to the number
                // shown must not be refused again.
                requested_mib: requested.div_ceil(1 << 20) as u64,
                detail: state.stderr_tail(),
            };
        }
        let backtrace = err
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| {
                bt.frames()
                    .iter()
                    .take(BACKTRACE_FRAMES)
                    .map(|frame| match frame.func_name() {
                        Some(name) => error::demangle(name),
                        None => format!("<wasm function {}>", frame.func_index()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let reason = match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => {
                return CallFailure::Timeout {
                    timeout_ms: self.limits.timeout.as_millis() as u64,
                }
            }
            Some(trap) => trap.to_string(),
            None => {
                let text = format!("{err:#}");
                if text.contains("write beyond capacity") {
                    format!(
                        "wrote more than {} bytes to stdout or stderr (use the log import instead)",
                        sandbox::STDIO_CAPTURE_BYTES
                    )
                } else {
                    text.lines().next().unwrap_or_default().to_string()
                }
            }
        };
        CallFailure::Trap {
            reason,
            detail: state.stderr_tail(),
            backtrace,
        }
    }
}

/// The texts of the `shown` positions of `objects`, from `texts` (written
/// there first if no plugin of the render was shown them yet).
fn shown_texts(objects: &[&serde_json::Value], texts: &Texts, shown: &[usize]) -> Vec<String> {
    debug_assert_eq!(
        objects.len(),
        texts.len(),
        "texts out of step with the render"
    );
    shown
        .iter()
        .map(|&i| texts.text(i, objects[i]).to_owned())
        .collect()
}
