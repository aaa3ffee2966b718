//! Log lines through the host (`rekon:plugin/host.log`).
//!
//! The host prefixes each line with the plugin's name, maps the level to its own
//! `tracing` levels, and drops lines once one call has logged 64 KiB (it says so
//! once), so log what helps an operator, not every object.
//!
//! ```
//! rekon_plugin_sdk::log::info("raised initialDelaySeconds of website/frontend to 10");
//! rekon_plugin_sdk::log::debug(&format!("{} objects in scope", 3));
//! ```
//!
//! Outside WebAssembly (native unit tests, benchmarks) there is no host, so the
//! lines go to stderr instead.

/// The log levels of the host, from the WIT enum `rekon:plugin/host.level`.
pub use rekon_plugin_world_image_policy::rekon::plugin::host::Level;

/// Writes one log line at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    rekon_plugin_world_image_policy::rekon::plugin::host::log(level, message);
    // wit-bindgen's import stubs are `unreachable!()` off WebAssembly; stderr keeps
    // plugin code that logs testable natively.
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Writes one line at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes one line at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes one line at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes one line at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes one line at error level. A plugin that fails should still return an
/// error from its call: logging does not stop the render.
pub fn error(message: &str) {
    log(Level::Error, message);
}
