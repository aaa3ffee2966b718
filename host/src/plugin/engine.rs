//! The one wasmtime [`Engine`] of a rekon process and its epoch ticker.
//!
//! The engine uses the pooling allocator (instances in microseconds, memory
//! reused copy-on-write), sized for a Raspberry Pi. Reserving the pool's
//! address space can fail on kernels with a small address space (39-bit
//! aarch64 has failed with wasmtime's defaults), so [`Runtime::new`] falls
//! back to on-demand allocation and says so.
//!
//! Every call runs in a fresh instance, so every page of memory it touches
//! used to be faulted in and given back afterwards: a fifth to a third of a
//! call over 1,000 objects went to the kernel (docs/PERFORMANCE.md). Where the
//! kernel can list the pages present in a range (the `PAGEMAP_SCAN` ioctl,
//! Linux 6.7 and later), a pool slot keeps up to
//! [`PoolSize::keep_resident_bytes`] of them when the instance ends and
//! wasmtime zeroes exactly those with `memset`; the next call starts from
//! zeroed memory as before, without the faults. Without the ioctl wasmtime
//! would have to zero the whole kept range after every call, however little
//! a call touched (twice the time of a one-object call, measured), so then
//! nothing is kept. Freed slots are reused before fresh ones
//! (`max_unused_warm_slots(1)`), so what stays resident is at most
//! `keep_resident_bytes` per call that ran at the same time as others (the
//! most calls at once so far), not one slot's worth per plugin.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

use super::PluginError;

/// How often the epoch advances; deadlines are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Size of the instance pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Plugin calls that may run at the same time.
    pub concurrent_calls: u32,
    /// Largest memory cap any plugin may be given.
    pub max_memory_bytes: usize,
    /// Bytes of a finished call's memory a pool slot keeps resident, zeroed,
    /// for the next call (see the module doc); 0 keeps nothing. Only in
    /// effect where the kernel has `PAGEMAP_SCAN`
    /// ([`Runtime::keeps_memory_resident`]).
    pub keep_resident_bytes: usize,
}

impl Default for PoolSize {
    /// 16 concurrent calls of up to 256 MiB each: a reconciler on a Pi runs a
    /// handful of plugin calls at once, and the memory is only reserved
    /// address space until a plugin touches it. 8 MiB kept resident per slot
    /// covers a call over about 1,000 Deployments (5-6 MiB); a larger call
    /// faults in the rest as before.
    fn default() -> Self {
        PoolSize {
            concurrent_calls: 16,
            max_memory_bytes: 256 << 20,
            keep_resident_bytes: 8 << 20,
        }
    }
}

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The pooling allocator is in use.
    Pooling,
    /// The pool could not be reserved; instances are allocated on demand.
    OnDemand,
}

/// Options of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where compiled plugins are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// The instance pool.
    pub pool: PoolSize,
}

/// The settings every engine shares, whether it runs plugins here or only
/// precompiles them for another machine: precompiled artifacts load only into
/// an engine configured the same way.
pub(crate) fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.cranelift_opt_level(OptLevel::Speed);
    config
}

/// The wasmtime engine plus the thread that advances its epoch.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) cache: Option<super::cache::Cache>,
    allocation: Allocation,
    keeps_resident: bool,
    _ticker: Ticker,
}

impl Runtime {
    /// Build the engine: pooling allocator when the address space allows,
    /// on-demand allocation otherwise.
    pub fn new(options: RuntimeOptions) -> Result<Self, PluginError> {
        let keeps_resident = options.pool.keep_resident_bytes > 0
            && PoolingAllocationConfig::is_pagemap_scan_available();
        let (engine, allocation) = match Engine::new(&pooled_config(options.pool, keeps_resident)) {
            Ok(engine) => (engine, Allocation::Pooling),
            Err(err) => {
                tracing::warn!(
                    "could not reserve the plugin instance pool ({err}); falling back to on-demand allocation (slower instantiation, same limits)"
                );
                let engine =
                    Engine::new(&base_config()).map_err(|e| PluginError::Engine(e.to_string()))?;
                (engine, Allocation::OnDemand)
            }
        };
        let cache = options.cache_dir.map(super::cache::Cache::new);
        let ticker = Ticker::start(engine.clone());
        Ok(Runtime {
            engine,
            cache,
            allocation,
            keeps_resident: keeps_resident && allocation == Allocation::Pooling,
            _ticker: ticker,
        })
    }

    /// Whether finished calls leave memory resident for the next one: the
    /// pool is in use, [`PoolSize::keep_resident_bytes`] is not 0 and the
    /// kernel has `PAGEMAP_SCAN`.
    pub fn keeps_memory_resident(&self) -> bool {
        self.keeps_resident
    }

    /// Bytes of memory that idle pool slots keep resident (zeroed) now.
    pub fn resident_memory_bytes(&self) -> usize {
        self.engine
            .pooling_allocator_metrics()
            .map_or(0, |m| m.unused_memory_bytes_resident())
    }

    /// Which allocator the engine ended up with.
    pub fn allocation(&self) -> Allocation {
        self.allocation
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn pooled_config(pool: PoolSize, keep_resident: bool) -> Config {
    let mut pooling = PoolingAllocationConfig::new();
    let calls = pool.concurrent_calls.max(1);
    // A Rust wasip2 component instantiates a few core modules (the program
    // plus adapter shims) and has one memory; leave generous headroom.
    pooling
        .total_component_instances(calls)
        .total_core_instances(calls * 16)
        .total_memories(calls * 2)
        .total_tables(calls * 16)
        .max_memory_size(pool.max_memory_bytes);
    if keep_resident {
        pooling
            .linear_memory_keep_resident(pool.keep_resident_bytes)
            .pagemap_scan(Enabled::Yes)
            .max_unused_warm_slots(1);
    }
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rekon-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Deadline in epoch ticks for a timeout, rounded up, at least one tick.
pub(crate) fn ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_micros();
    (timeout.as_micros().div_ceil(tick)).max(1) as u64
}

/// Compile `wasm` for another machine (e.g. `aarch64-unknown-linux-gnu`).
/// The result loads there with [`super::Runtime::load`] like a `.wasm` and
/// declares what the component declares (see [`super::artifact`]).
pub fn precompile_for_target(wasm: &[u8], target: Option<&str>) -> Result<Vec<u8>, PluginError> {
    let mut config = base_config();
    if let Some(target) = target {
        config
            .target(target)
            .map_err(|e| PluginError::Engine(format!("target `{target}`: {e}")))?;
    }
    let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
    let code = engine
        .precompile_component(wasm)
        .map_err(|e| PluginError::Engine(format!("{e:?}")))?;
    super::artifact::wrap(wasm, &code).map_err(PluginError::Declarations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_ticks() {
        assert_eq!(ticks(Duration::from_millis(1000)), 100);
        assert_eq!(ticks(Duration::from_millis(15)), 2);
        assert_eq!(ticks(Duration::ZERO), 1);
    }

    #[test]
    fn falls_back_to_on_demand_when_the_pool_cannot_be_reserved() {
        // 4 million memories of 4 GiB reservation each is far beyond any
        // address space, so reserving the pool must fail.
        let huge = PoolSize {
            concurrent_calls: 2_000_000,
            ..PoolSize::default()
        };
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: None,
            pool: huge,
        })
        .unwrap();
        assert_eq!(runtime.allocation(), Allocation::OnDemand);
        let normal = Runtime::new(RuntimeOptions::default()).unwrap();
        assert_eq!(normal.allocation(), Allocation::Pooling);
        // The on-demand fallback has no pool slots to keep memory in.
        assert!(!runtime.keeps_memory_resident());
    }

    #[test]
    fn memory_is_kept_resident_only_where_the_kernel_reports_written_pages() {
        let default = Runtime::new(RuntimeOptions::default()).unwrap();
        assert_eq!(
            default.keeps_memory_resident(),
            PoolingAllocationConfig::is_pagemap_scan_available()
        );
        assert_eq!(default.resident_memory_bytes(), 0, "no call has run yet");
        let off = Runtime::new(RuntimeOptions {
            pool: PoolSize {
                keep_resident_bytes: 0,
                ..PoolSize::default()
            },
            ..RuntimeOptions::default()
        })
        .unwrap();
        assert!(!off.keeps_memory_resident());
    }
}
