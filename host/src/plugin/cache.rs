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

    /// Load the compiled form of `wasm` from the cache, or compile and store it.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> Result<(Component, CacheOutcome), wasmtime::Error> {
        let path = self.entry_path(engine, sha256);
        if path.exists() {
            // SAFETY: the file was written by `store` below from a component
            // this engine configuration compiled; its name carries the wasm's
            // digest and the engine's compatibility hash.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), "ignoring unreadable cache entry: {err}")
                }
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        if let Err(err) = store(&path, &compiled) {
            tracing::warn!("could not write the plugin cache: {err}");
        }
        // SAFETY: `compiled` was produced by this engine just now.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, CacheOutcome::Compiled))
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
