//! The one wasmtime [`Engine`] of a rekon process and its epoch ticker.
//!
//! The engine uses the pooling allocator (instances in microseconds, memory
//! reused copy-on-write), sized for a Raspberry Pi. Reserving the pool's
//! address space can fail on kernels with a small address space (39-bit
//! aarch64 has failed with wasmtime's defaults), so [`Runtime::new`] falls
//! back to on-demand allocation and says so.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

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
}

impl Default for PoolSize {
    /// 16 concurrent calls of up to 256 MiB each: a reconciler on a Pi runs a
    /// handful of plugin calls at once, and the memory is only reserved
    /// address space until a plugin touches it.
    fn default() -> Self {
        PoolSize {
            concurrent_calls: 16,
            max_memory_bytes: 256 << 20,
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
    _ticker: Ticker,
}

impl Runtime {
    /// Build the engine: pooling allocator when the address space allows,
    /// on-demand allocation otherwise.
    pub fn new(options: RuntimeOptions) -> Result<Self, PluginError> {
        let (engine, allocation) = match Engine::new(&pooled_config(options.pool)) {
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
            _ticker: ticker,
        })
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

fn pooled_config(pool: PoolSize) -> Config {
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
/// The result loads there with [`super::Runtime::load`] like a `.wasm`.
pub fn precompile_for_target(wasm: &[u8], target: Option<&str>) -> Result<Vec<u8>, PluginError> {
    let mut config = base_config();
    if let Some(target) = target {
        config
            .target(target)
            .map_err(|e| PluginError::Engine(format!("target `{target}`: {e}")))?;
    }
    let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
    engine
        .precompile_component(wasm)
        .map_err(|e| PluginError::Engine(format!("{e:?}")))
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
            max_memory_bytes: 256 << 20,
        };
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: None,
            pool: huge,
        })
        .unwrap();
        assert_eq!(runtime.allocation(), Allocation::OnDemand);
        let normal = Runtime::new(RuntimeOptions::default()).unwrap();
        assert_eq!(normal.allocation(), Allocation::Pooling);
    }
}
