//! The per-call sandbox: what a plugin instance can see and how much it may use.
//!
//! Every call gets a fresh [`CallState`] in a fresh `Store`: WASI with no
//! preopened directories, no environment, no arguments, no sockets and no
//! inherited stdio (stdout and stderr are captured into small buffers so a
//! panic message can be shown in the error), a memory cap enforced by
//! [`MemoryCap`], and the `log` import that forwards to `tracing`.
//!
//! Clocks and randomness depend on the plugin's capabilities
//! ([`super::capabilities`]): without `clock` both clocks are frozen at 0
//! (the wall clock reads 1970-01-01T00:00:00Z), without `random` every
//! generator is ChaCha12 with a constant seed, so a plugin that declares
//! neither computes the same output from the same input, every call.

use std::sync::Arc;
use std::time::Duration;

use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha12Rng;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::host;
use super::bindings::sources::rekon::sources::flux;
use super::capabilities::{Capabilities, Capability};
use crate::charts::SourceContext;

/// Bytes of stdout/stderr kept per call. A plugin writing more traps, which is
/// reported like any trap; plugins should use the `log` import instead.
pub const STDIO_CAPTURE_BYTES: usize = 64 * 1024;

/// Limits of one plugin's calls, and the capabilities the operator granted
/// it. Defaults suit a Raspberry Pi and grant nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one call, enforced by epoch interruption.
    pub timeout: Duration,
    /// Cap on the plugin's linear memory.
    pub memory_bytes: usize,
    /// Cap on the bytes a call may return (all strings of the result together).
    pub max_output_bytes: usize,
    /// Cap on the bytes one call may log through the `log` import.
    pub max_log_bytes: usize,
    /// What the operator grants (`grant` in rekon.toml). A plugin declaring
    /// a capability not granted, or granted one it does not declare, is
    /// refused at load (see [`super::capabilities`]).
    pub grant: super::Grant,
    /// Kinds besides `v1` Secrets shown only with the `secrets` grant
    /// (`[render] sensitive` in rekon.toml).
    pub sensitive: super::Sensitive,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            max_output_bytes: 16 << 20,
            max_log_bytes: 64 << 10,
            grant: super::Grant::none(),
            sensitive: super::Sensitive::default(),
        }
    }
}

/// A log line a plugin wrote through the `log` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The level the plugin chose.
    pub level: host::Level,
    /// The message.
    pub message: String,
}

/// The store data of one call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    plugin: String,
    log_bytes: usize,
    max_log_bytes: usize,
    log_dropped: bool,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) stderr: MemoryOutputPipe,
    /// What `rekon:sources` answers (`None`: the call is not part of a
    /// render with sources, e.g. `rekon test`; every look-up then says so).
    pub(crate) sources: Option<Arc<SourceContext>>,
}

impl CallState {
    /// A fresh sandbox for one call of `plugin` under `limits`, with the
    /// `effective` capabilities (declared and granted) it was admitted with.
    pub fn new(plugin: &str, limits: &Limits, effective: Capabilities) -> Self {
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        // The builder's defaults already deny files (no preopens), env, args,
        // and all sockets; only stdio needs redirecting away from the host's.
        // Its clocks and generators are the host's real ones, replaced here
        // unless the capability is in force.
        let mut builder = WasiCtx::builder();
        builder
            .stdout(MemoryOutputPipe::new(STDIO_CAPTURE_BYTES))
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if !effective.contains(Capability::Clock) {
            builder.wall_clock(FixedClock).monotonic_clock(FixedClock);
        }
        if !effective.contains(Capability::Random) {
            builder
                .secure_random(ChaCha12Rng::from_seed(FIXED_SEED))
                .insecure_random(ChaCha12Rng::from_seed(FIXED_INSECURE_SEED))
                .insecure_random_seed(FIXED_HASH_SEED);
        }
        let wasi = builder.build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                cap: limits.memory_bytes,
                denied: None,
            },
            plugin: plugin.to_string(),
            log_bytes: 0,
            max_log_bytes: limits.max_log_bytes,
            log_dropped: false,
            logs: Vec::new(),
            stderr,
            sources: None,
        }
    }

    /// What the plugin wrote to stderr, lossily decoded and trimmed to its last lines.
    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for CallState {
    fn log(&mut self, level: host::Level, message: String) {
        self.write_log(level, message);
    }
}

impl flux::Host for CallState {
    fn source(&mut self, kind: String, namespace: String, name: String) -> Option<String> {
        self.sources.as_ref()?.source(&kind, &namespace, &name)
    }

    fn helm_chart(&mut self, namespace: String, name: String) -> Result<flux::Chart, String> {
        let Some(sources) = &self.sources else {
            return Err(format!(
                "no chart of HelmRelease {namespace}/{name} was resolved: the host resolves charts \
                 in a render of a Flux repository only"
            ));
        };
        sources.helm_chart(&namespace, &name).map(|c| flux::Chart {
            name: c.name,
            version: c.version,
            digest: c.digest,
            ca: c.ca,
        })
    }
}

/// Plugins built against `rekon:plugin@0.1.0` log through the same path.
impl super::bindings::v0_1::image_policy::rekon::plugin::host::Host for CallState {
    fn log(&mut self, level: super::bindings::v0_1::Level, message: String) {
        self.write_log(level.into(), message);
    }
}

impl CallState {
    fn write_log(&mut self, level: host::Level, message: String) {
        if self.log_bytes + message.len() > self.max_log_bytes {
            if !self.log_dropped {
                self.log_dropped = true;
                tracing::warn!(plugin = %self.plugin, "plugin logged more than {} bytes in one call; further lines dropped", self.max_log_bytes);
            }
            return;
        }
        self.log_bytes += message.len();
        let plugin = self.plugin.as_str();
        match level {
            host::Level::Trace => tracing::trace!(target: "rekon::plugin", plugin, "{message}"),
            host::Level::Debug => tracing::debug!(target: "rekon::plugin", plugin, "{message}"),
            host::Level::Info => tracing::info!(target: "rekon::plugin", plugin, "{message}"),
            host::Level::Warn => tracing::warn!(target: "rekon::plugin", plugin, "{message}"),
            host::Level::Error => tracing::error!(target: "rekon::plugin", plugin, "{message}"),
        }
        self.logs.push(LogLine { level, message });
    }
}

/// Seed of `wasi:random/random` without the `random` capability.
const FIXED_SEED: [u8; 32] = *b"rekon: no random capability. 1/2";
/// Seed of `wasi:random/insecure` without it (a different stream, so the two
/// interfaces do not return the same bytes).
const FIXED_INSECURE_SEED: [u8; 32] = *b"rekon: no random capability. 2/2";
/// What `wasi:random/insecure-seed` returns without it.
const FIXED_HASH_SEED: u128 = 0x7265_6b6f_6e5f_6669_7865_645f_7365_6564;

/// Both clocks of a plugin without the `clock` capability: frozen at 0.
/// The Unix epoch rather than a plausible date, so a plugin that forgot to
/// declare `clock` shows it plainly (a 1970 timestamp) instead of being
/// subtly wrong. A sleep still waits for real (the host times it).
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Enforces the memory cap and remembers a denied growth, so the error can
/// say "memory cap reached" instead of a bare allocation-failure trap.
pub struct MemoryCap {
    cap: usize,
    pub(crate) denied: Option<usize>,
}

/// The error a denied growth raises inside the store; recognised by the caller.
#[derive(Debug, thiserror::Error)]
#[error("memory cap reached")]
pub(crate) struct MemoryCapReached;

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.denied = Some(desired);
            // Trapping (rather than returning `false`, which makes the guest
            // see a failed `memory.grow`) stops the call at the offending
            // allocation, with a backtrace pointing at it.
            return Err(wasmtime::Error::new(MemoryCapReached));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
