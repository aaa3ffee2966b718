//! Errors of loading and calling plugins. Every message names the plugin (and
//! for calls, the export) so an operator reading a log line knows where to look.

use std::path::PathBuf;

use super::contract::ContractError;

/// Why loading or calling a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin file could not be read.
    #[error("plugin `{plugin}`: cannot read {}: {error}", path.display())]
    Read {
        /// The plugin's name in the configuration.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not a WebAssembly component wasmtime can compile.
    #[error("plugin `{plugin}` ({}): not a loadable WebAssembly component: {reason}", path.display())]
    NotAComponent {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The component does not implement a contract this host accepts.
    #[error("plugin `{plugin}` ({}) is refused: {error}", path.display())]
    Contract {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The contract problem.
        error: ContractError,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "plugin `{plugin}` ({}) is refused: it imports `{import}`, which this host does not grant \
         (plugins may import rekon:plugin/host and the WASI interfaces, which are sandboxed)",
        path.display()
    )]
    ImportNotGranted {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The import that is not granted.
        import: String,
    },
    /// The plugin declares capabilities the operator did not grant.
    #[error(
        "plugin `{plugin}` ({}) is refused: it declares capabilities that are not granted: {} (granted: {granted}); \
         to allow it, add `grant = [{}]` to [plugins.{plugin}] in rekon.toml \
         (`{}` for `rekon plugin run`, `grant: [{missing}]` in a rekon-test.yaml suite), \
         or remove the declaration (`rekon plugin annotate`) to run it without",
        path.display(),
        missing.names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        missing.names().iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "),
        missing.names().iter().map(|n| format!("--grant {n}")).collect::<Vec<_>>().join(" "),
    )]
    CapabilityNotGranted {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The declared capabilities that are not granted.
        missing: super::Capabilities,
        /// What the operator granted.
        granted: super::Capabilities,
    },
    /// The operator grants something the plugin does not declare.
    #[error(
        "plugin `{plugin}` ({}) is refused: its `grant` gives {}, which the plugin does not declare; \
         remove {} from `grant` under [plugins.{plugin}] (or the suite's `grant`), or declare {} in the plugin \
         (`declare_capabilities!` with the Rust SDK, `rekon plugin annotate FILE --capability NAME -o OUT` for any component)",
        path.display(),
        undeclared.names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        if undeclared.names().len() == 1 { "it" } else { "them" },
        if undeclared.names().len() == 1 { "it" } else { "them" },
    )]
    GrantNotDeclared {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The granted capabilities it does not declare.
        undeclared: super::Capabilities,
    },
    /// A mutator changed what its grant does not allow; nothing is applied.
    #[error("plugin `{plugin}` overstepped its grant: {overstep}; the render is stopped and nothing is applied")]
    Overstep {
        /// The plugin's name.
        plugin: String,
        /// What it tried, naming the object.
        overstep: super::scope::Overstep,
    },
    /// A mutator's answer does not fit the objects it was given.
    #[error("plugin `{plugin}`, export `mutate`: {problem}")]
    BadAnswer {
        /// The plugin's name.
        plugin: String,
        /// What is wrong (an index out of range, an object that is not JSON...).
        problem: String,
    },
    /// The plugin imports an interface that needs a capability it did not declare.
    #[error(
        "plugin `{plugin}` ({}) is refused: it imports `{import}`, which needs capability `{capability}` \
         that the plugin does not declare; declare it (`rekon plugin annotate FILE --capability {capability} -o OUT`, \
         or `declare_capabilities!({capability})` with the Rust SDK)",
        path.display()
    )]
    CapabilityNotDeclared {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The import.
        import: String,
        /// The capability it needs.
        capability: super::Capability,
    },
    /// The plugin's capability declaration cannot be read.
    #[error("plugin `{plugin}` ({}) is refused: {error}", path.display())]
    Declaration {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong with the declaration.
        error: super::capabilities::DeclarationError,
    },
    /// A component being precompiled declares what the host would refuse.
    #[error("{0}")]
    Declarations(super::capabilities::DeclarationError),
    /// The file's sha256 is not the one pinned in the configuration.
    #[error("plugin `{plugin}` ({}): sha256 is {actual}, but the configuration pins {expected}", path.display())]
    DigestMismatch {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// `check-settings` refused the settings.
    #[error("plugin `{plugin}`: settings refused: {message}")]
    Settings {
        /// The plugin's name.
        plugin: String,
        /// The plugin's explanation.
        message: String,
    },
    /// A call into the plugin failed.
    #[error("plugin `{plugin}`, export `{export}`: {failure}")]
    Call {
        /// The plugin's name.
        plugin: String,
        /// The export that was called, e.g. `mutate`.
        export: &'static str,
        /// What went wrong.
        failure: CallFailure,
    },
    /// The plugin was asked for a world it does not implement.
    #[error("plugin `{plugin}` implements the {actual} world, but is configured as a plugin of the {wanted} world")]
    WrongWorld {
        /// The plugin's name.
        plugin: String,
        /// What it is.
        actual: super::World,
        /// What the caller needed.
        wanted: super::World,
    },
    /// The wasmtime engine could not be set up, or compiling for a target failed.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// The compiled-plugin cache could not be written.
    #[error("plugin cache {}: {error}", path.display())]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// How one call into a plugin failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// The plugin returned an error value (it ran fine and said no).
    #[error("{0}")]
    Refused(String),
    /// The deadline passed (epoch interruption).
    #[error("deadline of {timeout_ms} ms exceeded; the call was stopped (raise `timeout-ms` for this plugin if it is legitimately slow)")]
    Timeout {
        /// The deadline in milliseconds.
        timeout_ms: u64,
    },
    /// The plugin tried to grow its memory past the cap.
    #[error("memory cap of {cap_mib} MiB reached (it asked for {requested_mib} MiB); the call was stopped{}", detail_suffix(detail))]
    MemoryCap {
        /// The cap.
        cap_mib: u64,
        /// What it asked to grow to.
        requested_mib: u64,
        /// Its last words on stderr, if any.
        detail: String,
    },
    /// The plugin returned more bytes than allowed.
    #[error("returned {bytes} bytes, more than the cap of {cap} bytes")]
    OutputTooLarge {
        /// Bytes returned.
        bytes: usize,
        /// The cap.
        cap: usize,
    },
    /// The plugin trapped (a panic, `unreachable`, out-of-bounds access...).
    #[error(
        "trapped: {reason}{}{}",
        detail_suffix(detail),
        backtrace_suffix(backtrace)
    )]
    Trap {
        /// The trap reason, e.g. `wasm 'unreachable' instruction executed`.
        reason: String,
        /// The plugin's last words on stderr (a Rust panic message lands here).
        detail: String,
        /// Symbolized wasm frames, innermost first, where names exist.
        backtrace: Vec<String>,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(
            "\n  plugin stderr: {}",
            detail.trim_end().replace('\n', "\n    ")
        )
    }
}

/// A backtrace frame's function name as a person reads it: Rust symbols
/// (legacy `_ZN...E` and v0 `_R...`) without their hash, C++ symbols
/// demangled, anything else (C, or a name that is not mangled) as it is.
pub(super) fn demangle(symbol: &str) -> String {
    // Rust first: a legacy Rust symbol is also a valid C++ one, but C++
    // demangling would keep its hash as a path segment.
    if let Ok(rust) = rustc_demangle::try_demangle(symbol) {
        return format!("{rust:#}");
    }
    if symbol.starts_with("_Z") {
        let cpp = cpp_demangle::Symbol::new(symbol).ok();
        if let Some(cpp) = cpp.and_then(|s| s.demangle().ok()) {
            return cpp;
        }
    }
    symbol.to_string()
}

fn backtrace_suffix(frames: &[String]) -> String {
    if frames.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n  wasm backtrace:");
    for (i, frame) in frames.iter().enumerate() {
        out.push_str(&format!("\n    {i}: {frame}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn frames_are_demangled() {
        // Legacy Rust (as rustc emits for wasm32-wasip2 today), without the hash.
        assert_eq!(
            demangle("_ZN14hostile_plugin5spawn17h0123456789abcdefE"),
            "hostile_plugin::spawn"
        );
        // Rust v0 (`-C symbol-mangling-version=v0`).
        assert_eq!(
            demangle("_RNvCs1234_14hostile_plugin5spawn"),
            "hostile_plugin::spawn"
        );
        // C++ (a plugin in C++, or a C++ runtime under Python/JavaScript).
        assert_eq!(demangle("_ZN2js3foo3barEi"), "js::foo::bar(int)");
        // C, and names that only look mangled, stay as they are.
        assert_eq!(demangle("abort"), "abort");
        assert_eq!(demangle("_Znot-a-symbol"), "_Znot-a-symbol");
    }
}
