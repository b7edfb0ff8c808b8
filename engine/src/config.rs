//! Engine configuration: the pooling instance allocator (sized for the
//! instances running at once, not for docked sandboxes), the semaphore in
//! front of it, where precompiled modules are kept on disk, and how modules
//! are compiled ([`CompileConfig`]).
//!
//! # Pool sizing
//!
//! With the defaults (1000 instances, 256 MiB per memory):
//!
//! - Each linear-memory slot reserves `memory_reservation` =
//!   `pool_max_memory_bytes` (256 MiB) plus a [`GUARD_BYTES`] (64 KiB) guard
//!   of `PROT_NONE` address space: 1000 × (256 MiB + 64 KiB) ≈ 250 GiB of
//!   virtual address space, none of it committed until a guest touches it.
//!   wasmtime's default (4 GiB reservation + 32 MiB guard per memory) would
//!   reserve about 4 TiB for the same pool, which breaks under `ulimit -v`
//!   and in restrictive sandboxes. The price: with less than 4 GiB
//!   reserved, compiled code keeps explicit bounds checks on memory accesses
//!   (a few percent on memory-heavy guests).
//! - Tables: `total_tables` = 1000, up to [`MAX_TABLE_ELEMENTS`] (100,000)
//!   elements each, the limiter's own cap, so a table growth is refused by
//!   the limiter (reported as a memory limit) before the pool could refuse it.
//! - Up to [`MAX_MEMORIES`]/[`MAX_TABLES`] (4) per module, as the limiter.
//! - `total_stacks` = 1000: async calls take their fiber stack from the pool.
//!
//! Everything else keeps wasmtime's defaults (1 MiB of `VMContext` per
//! instance, 100 warm slots kept for reuse, copy-on-write heap images).
//!
//! Per-profile memory caps stay with the [`Limiter`](super::limits::Limiter);
//! the pool's `max_memory_size` is the hard ceiling above them. A profile
//! asking for more than the ceiling is clamped to it (and the denial message
//! says so), so a growth the pool would refuse is always refused by the
//! limiter first and reported as [`CallError::MemoryLimit`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bounds::CompileConfig;
use super::error::{CallError, EngineError};
use super::limits::{MAX_MEMORIES, MAX_TABLES, MAX_TABLE_ELEMENTS};
use super::profile::Profile;
use super::services::HostConfig;

/// Guard region after each pooled linear memory.
pub const GUARD_BYTES: u64 = 64 << 10;

/// How the node's [`Engine`](super::Engine) is set up.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Instances that can exist at once (running `command` calls plus live
    /// `kernel` instances). More wait for a slot, within their wall time.
    pub pool_instances: u32,
    /// How long a new instance waits for a free slot when all are taken;
    /// past it the call fails with [`CallError::InstancesExhausted`].
    pub instance_wait: Duration,
    /// The largest linear memory any instance may have: the hard ceiling
    /// above every profile's `memory_bytes` (larger caps are clamped to it).
    pub pool_max_memory_bytes: u64,
    /// Where precompiled modules are kept between runs; `None` keeps them in
    /// memory only.
    pub cache_dir: Option<PathBuf>,
    /// Where `command` calls get their volumes as directories (one
    /// directory per call, removed after it); `None`: the system's
    /// temporary directory.
    pub mount_dir: Option<PathBuf>,
    /// The shared host services: queue bounds, `net` policy, key store.
    pub host: HostConfig,
    /// Module limits, the compile pool and deadline, and cache bounds.
    pub compile: CompileConfig,
}

impl EngineConfig {
    /// The directory `command` calls mount their volumes under.
    pub fn mount_root(&self) -> PathBuf {
        self.mount_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nexus-mounts"))
    }
}

/// Default [`EngineConfig::pool_instances`].
pub const DEFAULT_POOL_INSTANCES: u32 = 1000;

/// Default [`EngineConfig::instance_wait`].
pub const DEFAULT_INSTANCE_WAIT: Duration = Duration::from_secs(1);

impl Default for EngineConfig {
    /// 1000 instances, each up to the largest built-in profile's memory
    /// (256 MiB, `network`), no disk cache.
    fn default() -> Self {
        EngineConfig {
            pool_instances: DEFAULT_POOL_INSTANCES,
            instance_wait: DEFAULT_INSTANCE_WAIT,
            pool_max_memory_bytes: largest_builtin_memory(),
            cache_dir: None,
            mount_dir: None,
            host: HostConfig::default(),
            compile: CompileConfig::default(),
        }
    }
}

/// The largest memory cap of the built-in profiles.
pub fn largest_builtin_memory() -> u64 {
    Profile::names()
        .filter_map(Profile::builtin)
        .map(|p| p.memory_bytes)
        .max()
        .unwrap_or(256 << 20)
}

impl EngineConfig {
    /// The wasmtime configuration: epoch interruption, no fuel, pooling.
    pub(crate) fn wasmtime(&self) -> Result<Config, EngineError> {
        if self.pool_instances == 0 {
            return Err(EngineError::Config(
                "pool_instances must be at least 1".to_string(),
            ));
        }
        let max_memory = usize::try_from(self.pool_max_memory_bytes)
            .ok()
            .filter(|&m| m >= 1 << 16)
            .ok_or_else(|| {
                EngineError::Config(format!(
                    "pool_max_memory_bytes must be at least 64 KiB and fit the address space, not {}",
                    self.pool_max_memory_bytes
                ))
            })?;
        let n = self.pool_instances;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(n)
            .total_memories(n)
            .total_tables(n)
            .total_stacks(n)
            .max_memory_size(max_memory)
            .max_memories_per_module(MAX_MEMORIES as u32)
            .max_tables_per_module(MAX_TABLES as u32)
            .table_elements(MAX_TABLE_ELEMENTS);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .consume_fuel(false)
            .memory_reservation(self.pool_max_memory_bytes)
            .memory_guard_size(GUARD_BYTES)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Ok(config)
    }
}

/// The instance pool's admission: one permit per instance in the pool, so
/// an exhausted pool makes callers wait (up to `wait`) instead of failing
/// inside wasmtime.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    permits: Arc<Semaphore>,
    size: u32,
    wait: Duration,
    max_memory_bytes: u64,
}

impl Pool {
    pub(crate) fn new(config: &EngineConfig) -> Pool {
        Pool {
            permits: Arc::new(Semaphore::new(config.pool_instances as usize)),
            size: config.pool_instances,
            wait: config.instance_wait,
            max_memory_bytes: config.pool_max_memory_bytes,
        }
    }

    /// A slot for one instance; hold it for the instance's whole life (drop
    /// it after the store). [`CallError::InstancesExhausted`] when none
    /// frees within the pool's wait.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, CallError> {
        // A free slot needs no timer.
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(CallError::Internal(
                "the instance pool is closed".to_string(),
            )),
            Err(_) => Err(CallError::InstancesExhausted {
                max: self.size,
                waited: self.wait,
            }),
        }
    }

    /// The pool's memory ceiling per instance.
    pub(crate) fn max_memory_bytes(&self) -> u64 {
        self.max_memory_bytes
    }

    /// Slots free right now.
    pub(crate) fn available(&self) -> usize {
        self.permits.available_permits()
    }
}
