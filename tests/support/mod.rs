//! Shared helpers of the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod git_server;
pub mod langs;
pub mod registry;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rekon::plugin::{Limits, Plugin, PluginSource, Runtime, RuntimeOptions};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A built plugin or fixture, e.g. `flux_policy` or `hostile_plugin`.
pub fn wasm(crate_name: &str) -> PathBuf {
    let path = repo()
        .join("target/wasm32-wasip2/release")
        .join(format!("{crate_name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run tests/build-plugins.sh first (tests/run.sh does)",
        path.display()
    );
    path
}

/// One runtime per test binary, with a compile cache shared by all test
/// binaries (compiling in every test would dominate the run).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(repo().join("target/rekon-test-cache")),
            ..Default::default()
        })
        .unwrap()
    })
}

/// Load a built plugin under its crate name with `limits`.
pub fn load(crate_name: &str, limits: Limits) -> Plugin {
    runtime()
        .load(&PluginSource {
            name: crate_name.replace('_', "-"),
            path: wasm(crate_name),
            sha256: None,
            limits,
        })
        .unwrap_or_else(|e| panic!("loading {crate_name}: {e}"))
}
