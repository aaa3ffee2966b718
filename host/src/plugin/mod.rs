//! Loading and calling sandboxed WebAssembly plugins.
//!
//! A [`Runtime`] owns the one wasmtime engine. [`Runtime::load`] reads a
//! component, checks its contract and imports, prepares it once
//! (`instantiate_pre`) and asks it to describe itself. Every call on the
//! returned [`Plugin`] then runs in a fresh store ([`sandbox`]) with a
//! deadline, a memory cap and an output cap; a trap, timeout or limit hit
//! becomes a [`PluginError`] naming the plugin and the export and never
//! affects other calls.

mod bindings;
mod cache;
pub mod capabilities;
pub mod contract;
mod engine;
mod error;
pub mod oci;
pub mod sandbox;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Store, Trap, WasmBacktrace};

pub use bindings::{Description, ObjectRef, Severity, Tag, Violation};
pub use cache::{store as write_atomically, CacheOutcome};
pub use capabilities::{Admission, Capabilities, Capability};
pub use contract::World;
pub use engine::{precompile_for_target, Allocation, PoolSize, Runtime, RuntimeOptions};
pub use error::{CallFailure, PluginError};
pub use sandbox::{Limits, LogLine};

use bindings::{image_policy, mutator, validator};
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
    limits: Limits,
    cache: CacheOutcome,
    prepared: Prepared,
    stats: Arc<CallStats>,
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
        // A precompiled artifact keeps no custom sections (see capabilities).
        let declaration = if wasmtime::Engine::detect_precompiled(&bytes).is_some() {
            None
        } else {
            check_magic(&bytes).map_err(not_a_component)?;
            Some(capabilities::read_declaration(&bytes).map_err(|source| {
                PluginError::Declaration {
                    plugin: name.clone(),
                    path: path.clone(),
                    error: source,
                }
            })?)
        };
        let (component, cache) = self
            .compile(&name, &path, &bytes, &sha256)
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
            source.limits.grant,
            &imports,
            capabilities::IMPORTS,
        )?;

        let pre = linker(&self.engine)
            .and_then(|l| l.instantiate_pre(&component))
            .map_err(|e| not_a_component(format!("{e:#}")))?;
        let prepared = match contract.world {
            World::ImagePolicy => {
                image_policy::ImagePolicyPluginPre::new(pre).map(Prepared::ImagePolicy)
            }
            World::ManifestMutator => {
                mutator::ManifestMutatorPluginPre::new(pre).map(Prepared::Mutator)
            }
            World::ManifestValidator => {
                validator::ManifestValidatorPluginPre::new(pre).map(Prepared::Validator)
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
            limits: source.limits,
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
    pub fn limits(&self) -> Limits {
        self.limits
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
            match prepared {
                Prepared::ImagePolicy(p) => {
                    p.instantiate(&mut *store)?;
                }
                Prepared::Mutator(p) => {
                    p.instantiate(&mut *store)?;
                }
                Prepared::Validator(p) => {
                    p.instantiate(&mut *store)?;
                }
            }
            Ok(())
        })
        .map(|_| ())
    }

    fn describe(&self) -> Result<Description, PluginError> {
        self.call("describe", |store, prepared| {
            Ok(match prepared {
                Prepared::ImagePolicy(p) => p
                    .instantiate(&mut *store)?
                    .rekon_plugin_plugin()
                    .call_describe(&mut *store)?,
                Prepared::Mutator(p) => p
                    .instantiate(&mut *store)?
                    .rekon_plugin_plugin()
                    .call_describe(&mut *store)?,
                Prepared::Validator(p) => p
                    .instantiate(&mut *store)?
                    .rekon_plugin_plugin()
                    .call_describe(&mut *store)?,
            })
        })
        .map(|(d, _)| d)
    }

    /// Ask the plugin whether `settings` are valid. Call once at load.
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), PluginError> {
        let text = settings.to_string();
        let result = self
            .call("check-settings", |store, prepared| {
                Ok(match prepared {
                    Prepared::ImagePolicy(p) => p
                        .instantiate(&mut *store)?
                        .rekon_plugin_plugin()
                        .call_check_settings(&mut *store, &text)?,
                    Prepared::Mutator(p) => p
                        .instantiate(&mut *store)?
                        .rekon_plugin_plugin()
                        .call_check_settings(&mut *store, &text)?,
                    Prepared::Validator(p) => p
                        .instantiate(&mut *store)?
                        .rekon_plugin_plugin()
                        .call_check_settings(&mut *store, &text)?,
                })
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
        let Prepared::ImagePolicy(pre) = &self.prepared else {
            return Err(self.wrong_world(World::ImagePolicy));
        };
        let text = settings.to_string();
        let (result, _) = self.call("rank", |store, _| {
            pre.instantiate(&mut *store)?
                .rekon_plugin_image_policy()
                .call_rank(&mut *store, &text, repository, tags)
        })?;
        let ranked = result.map_err(|m| self.refused("rank", m))?;
        self.check_output("rank", ranked.iter().map(String::len).sum())?;
        Ok(ranked)
    }

    /// Mutate the objects of one render (mutator plugins).
    pub fn mutate(
        &self,
        settings: &serde_json::Value,
        objects: &[String],
    ) -> Result<Vec<String>, PluginError> {
        let Prepared::Mutator(pre) = &self.prepared else {
            return Err(self.wrong_world(World::ManifestMutator));
        };
        let text = settings.to_string();
        let (result, _) = self.call("mutate", |store, _| {
            pre.instantiate(&mut *store)?
                .rekon_plugin_mutator()
                .call_mutate(&mut *store, &text, objects)
        })?;
        let mutated = result.map_err(|m| self.refused("mutate", m))?;
        self.check_output("mutate", mutated.iter().map(String::len).sum())?;
        Ok(mutated)
    }

    /// Validate the objects of one render (validator plugins).
    pub fn validate(
        &self,
        settings: &serde_json::Value,
        objects: &[String],
    ) -> Result<Vec<Violation>, PluginError> {
        let Prepared::Validator(pre) = &self.prepared else {
            return Err(self.wrong_world(World::ManifestValidator));
        };
        let text = settings.to_string();
        let (result, _) = self.call("validate", |store, _| {
            pre.instantiate(&mut *store)?
                .rekon_plugin_validator()
                .call_validate(&mut *store, &text, objects)
        })?;
        let violations = result.map_err(|m| self.refused("validate", m))?;
        let bytes = violations
            .iter()
            .map(|v| v.message.len() + v.path.len() + v.object.name.len() + 64)
            .sum();
        self.check_output("validate", bytes)?;
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
        let engine = match &self.prepared {
            Prepared::ImagePolicy(p) => p.engine(),
            Prepared::Mutator(p) => p.engine(),
            Prepared::Validator(p) => p.engine(),
        };
        let mut store = Store::new(
            engine,
            CallState::new(&self.name, &self.limits, self.admission.effective),
        );
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
                requested_mib: (requested >> 20) as u64,
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
