//! On-disk cache of compiled plugins.
//!
//! Compiling a component with Cranelift costs tens of milliseconds to seconds
//! (much more on a Pi); loading a precompiled artifact is an mmap. Entries are
//! keyed by the wasm's sha256 and the engine's compatibility hash, so a new
//! rekon or a different engine configuration never loads a stale artifact.
//! Files are written to a temporary name and renamed, so a crash never leaves
//! a half-written entry under a real name.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use wasmtime::component::Component;
use wasmtime::Engine;

use super::PluginError;

/// Whether a load hit the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artifact from disk.
    Hit,
    /// Compiled now (and stored, when the cache is writable).
    Compiled,
}

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    /// The cache file for a wasm digest under `engine`.
    pub fn entry_path(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    /// The compiled form of `wasm`, if an entry for it is on disk and loads.
    fn load(&self, engine: &Engine, sha256: &str) -> Option<(Component, PathBuf)> {
        let path = self.entry_path(engine, sha256);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `compile` below from a component
        // this engine configuration compiled; its name carries the wasm's
        // digest and the engine's compatibility hash.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some((component, path)),
            Err(err) => {
                tracing::warn!(path = %path.display(), "ignoring unreadable cache entry: {err}");
                None
            }
        }
    }
}

/// Load the compiled form of plugin `plugin` (`path`, whose bytes are `wasm`)
/// from `cache`, or compile it (and store it there).
///
/// Compiling takes seconds on a Pi, so it is logged at info with the plugin,
/// its file and size before, and how long it took after: a first start is
/// not silent. `rekon::cli` shows this module's info lines by default.
pub fn load_or_compile(
    engine: &Engine,
    cache: Option<&Cache>,
    plugin: &str,
    path: &Path,
    wasm: &[u8],
    sha256: &str,
) -> Result<(Component, CacheOutcome), wasmtime::Error> {
    if let Some((component, entry)) = cache.and_then(|c| c.load(engine, sha256)) {
        tracing::debug!(
            "plugin `{plugin}` ({}): compiled form loaded from the cache ({})",
            path.display(),
            entry.display()
        );
        return Ok((component, CacheOutcome::Hit));
    }
    tracing::info!(
        "compiling plugin `{plugin}` ({}, {}){}",
        path.display(),
        size(wasm.len()),
        if cache.is_some() {
            "; later starts load it from the cache"
        } else {
            " without a cache"
        }
    );
    let started = Instant::now();
    let component = match cache {
        Some(cache) => {
            let compiled = engine.precompile_component(wasm)?;
            if let Err(err) = store(&cache.entry_path(engine, sha256), &compiled) {
                tracing::warn!("could not write the plugin cache: {err}");
            }
            // SAFETY: `compiled` was produced by this engine just now.
            unsafe { Component::deserialize(engine, &compiled)? }
        }
        None => Component::new(engine, wasm)?,
    };
    tracing::info!("compiled plugin `{plugin}` in {:.2?}", started.elapsed());
    Ok((component, CacheOutcome::Compiled))
}

/// `812 KiB`, `2.4 MiB`: a plugin's size for a log line.
fn size(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}

/// Write `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn store(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |source| PluginError::Cache {
        path: path.to_path_buf(),
        error: source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    crate::atomic::write(path, bytes).map_err(err)?;
    Ok(())
}
