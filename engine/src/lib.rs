//! The wasmtime engine: profiles, limits and call shapes.
//!
//! One [`Engine`] per node compiles modules (cached by sha256) and runs them
//! in call shapes: `command` ([`Engine::run_command_with`]), `kernel`
//! ([`Engine::kernel_with`]) and `serve` ([`Engine::http_handler_with`],
//! HTTP messages in [`nexus_abi::http`]). Guests reach the host through host
//! ABI v1 ([`abi`], over the shared `nexus-abi` crate), one capability group per [`Capability`], gated by their
//! profile ([`ProfileTable`]) and counted in a [`DenialCounter`] when
//! refused. What groups share across sandboxes — tenant queues, tenant
//! signing keys, the [`net`] broker — lives in the engine's [`HostServices`]. Every call is bounded by its [`Profile`]: linear memory through
//! a resource limiter, CPU time through epoch interruption (a background
//! ticker advances the epoch every [`TICK`]), wall time through a tokio
//! timeout, and captured output through capped pipes. Hostile guests hit a
//! limit and get a [`CallError`] naming it; the node keeps serving.
//!
//! Instances come from wasmtime's pooling allocator, sized by
//! [`EngineConfig`] for the instances alive at once (running commands and
//! live kernels), not for docked sandboxes; when the pool is full, new
//! instances wait for a slot, up to [`EngineConfig::instance_wait`], then
//! fail with [`CallError::InstancesExhausted`]. With [`EngineConfig::cache_dir`] set, compiled
//! modules are kept on disk between runs (see the `cache` module docs for
//! why loading them is safe).
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `abi` | Host ABI v1: the import module, its functions by capability group, the error codes they return and their limits. |
//! | `bounds` | Structural limits a module must meet before Cranelift sees it (size, functions, body size, nesting depth), and the compile configuration. |
//! | `cache` | Compiled modules and the in-memory cache of them by sha256: bounded in bytes, evicting modules no caller holds, single-flight loads. |
//! | `capability` | Capabilities: groups of host imports a profile may grant. |
//! | `command` | The `command` call shape: a WASI preview 1 program run through `_start`, with args and stdin in and stdout, stderr and the exit code out. |
//! | `compiler` | Compiling on a bounded pool of threads with a deadline; a compile past it is abandoned (it cannot be interrupted) and keeps its slot until it ends. |
//! | `config` | Engine configuration: the pooling instance allocator (sized for the instances running at once, not for docked sandboxes), the semaphore in front of it, and where precompiled modules are kept on disk. |
//! | `context` | The sandbox a call runs for: its id (for logs), its tenant (whose queues and key `queue` and `sign` reach), its data (what `kv` and `vfs` reach), its denial counter, its concurrent-call slots and the shared host services. |
//! | `cpu` | CPU time accounting by epoch interruption. |
//! | `data` | What a guest's `kv` and `vfs` imports reach: the sandbox's data behind a trait, so the engine never touches storage itself. |
//! | `denials` | Denial accounting: every refusal of a guest (an ungranted import at instantiate, a refused path, an oversized key or value, a log flood) is logged with its sandbox, capability and target, and counted per sandbox. |
//! | `disk_cache` | Precompiled `.cwasm` files on disk, capped in bytes (least recently used deleted first), and why loading them is safe. |
//! | `error` | Errors of the engine: `EngineError` when the engine cannot be set up, `CallError` when compiling or running a guest fails. |
//! | `fabric_host` | The fabric as the `fabric` host functions see it: a trait the engine owns and the node implements over its job table, so a guest can fan a kernel of its own workbook out over inputs from inside a call. |
//! | `host/` | Host ABI v1: the `nexus_v1` imports, in capability groups. |
//! | `kernel` | Arena instances: the `kernel` call shape, `process(in_len) -> out_len` over an exported memory arena, and the `serve` shape's handler, `nexus_http(req_len) -> resp_len` over the same arena (`Entry`). |
//! | `limits` | The per-call memory limiter: caps linear memory (all memories of the store together), tables and instance counts, and records the first denied growth so a resulting trap is reported as a memory limit, not a bug. |
//! | `link` | Preparing a compiled module for a call: the engine check, the capability gate, the cached link, and a fresh store armed with the profile's limits. |
//! | `mount/` | A `command` call's volumes as WASI preopened directories: written out before the call, written back in one transaction after it, with per-volume quotas. |
//! | `net/` | The `net` broker: HTTP requests of guests, made by the host. |
//! | `profile` | Profiles: the resource budget and capabilities a call runs under. |
//! | `profile_table` | The node's profiles: the built-ins plus custom ones from `nexus.toml` (`[profiles.NAME]`), resolved by name, failing closed to `compute`. |
//! | `queue` | Bounded FIFO queues between the sandboxes of one tenant, in memory on the node (lost on restart). |
//! | `services` | What host functions share across sandboxes: the tenant queues, the tenant signing keys, the `net` broker and the node's fabric, made once per engine. |
//! | `signer` | The tenant signing keys as the `sign` host functions see them: a trait the engine owns and the node implements over its key store, so the engine never touches key files itself. |
//! | `state` | The store data every call shape shares, and the one linker providing WASI preview 1 and host ABI v1 to all of them. |
//! | `ticker` | The epoch ticker: one background thread per engine advancing wasmtime's epoch every `TICK`. |
//! | `trap` | Turning wasmtime errors into messages that name what failed: the trap, and the guest function it happened in. |

#![deny(missing_docs)]

pub mod abi;
mod bounds;
mod cache;
mod capability;
mod command;
mod compiler;
mod config;
mod context;
mod cpu;
mod data;
mod deadline;
mod denials;
mod disk_cache;
mod error;
mod fabric_host;
mod host;
mod kernel;
mod limits;
mod link;
mod mount;
pub mod net;
mod profile;
mod profile_table;
mod queue;
mod services;
mod signer;
mod state;
mod ticker;
mod trap;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::Linker;

pub use bounds::{
    default_concurrency, CompileConfig, ModuleLimits, ProfileModuleLimits, DEFAULT_COMPILE_TIMEOUT,
    DEFAULT_DISK_CACHE_BYTES, DEFAULT_MAX_FUNCTIONS, DEFAULT_MAX_FUNCTION_BYTES,
    DEFAULT_MAX_MODULE_BYTES, DEFAULT_MAX_NESTING_DEPTH, DEFAULT_MEMORY_CACHE_BYTES,
};
pub use cache::CompiledModule;
pub use capability::{Capabilities, Capability, UnknownCapability};
pub use command::{CommandInput, CommandOutput};
pub use config::{
    largest_builtin_memory, EngineConfig, DEFAULT_INSTANCE_WAIT, DEFAULT_POOL_INSTANCES,
    GUARD_BYTES,
};
pub use context::{SandboxContext, NO_SANDBOX};
pub use data::{DataError, FileChange, FileStat, FileVisitor, MemoryData, SandboxData};
pub use denials::{Denial, DenialCounter, DenialObserver, Denials};
pub use error::{CallError, EngineError};
pub use fabric_host::{FabricError, FabricFuture, FabricHost};
pub use kernel::KernelInstance;
pub use profile::{Profile, COMPUTE, NETWORK, STANDARD};
pub use profile_table::{ProfileError, ProfileSpec, ProfileTable};
pub use queue::QueueLimits;
pub use services::{HostConfig, HostServices};
pub use signer::{SignerError, TenantSigner};
pub use ticker::TICK;

use cache::ModuleCache;
use config::Pool;
use state::GuestState;

/// The node's wasm engine. Cheap to clone; all clones share one wasmtime
/// engine, one module cache and one epoch ticker.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    linker: Linker<GuestState>,
    modules: ModuleCache,
    pool: Pool,
    services: Arc<HostServices>,
    /// [`EngineConfig::mount_root`], worked out once.
    mount_root: std::path::PathBuf,
    config: EngineConfig,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// [`Engine::with_config`] with the defaults: a pool of
    /// [`DEFAULT_POOL_INSTANCES`] instances of up to
    /// [`largest_builtin_memory`] each, no disk cache.
    pub fn new() -> Result<Engine, EngineError> {
        Engine::with_config(EngineConfig::default())
    }

    /// Sets up wasmtime (epoch interruption, no fuel, the pooling allocator
    /// as `config` sizes it; async calls need no switch since wasmtime 42),
    /// opens the disk cache if any, links the host functions and starts the
    /// epoch ticker, which stops by itself once the engine and every module
    /// compiled by it are dropped.
    pub fn with_config(config: EngineConfig) -> Result<Engine, EngineError> {
        let wasmtime_config = config.wasmtime()?;
        let engine = wasmtime::Engine::new(&wasmtime_config)
            .map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let modules = ModuleCache::new(&engine, &config.compile, config.cache_dir.as_deref())?;
        let linker = state::linker(&engine).map_err(|e| EngineError::Linker(e.to_string()))?;
        ticker::spawn(&engine)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                engine,
                linker,
                modules,
                pool: Pool::new(&config),
                services: Arc::new(HostServices::new(&config.host)),
                mount_root: config.mount_root(),
                config,
            }),
        })
    }

    /// The configuration this engine was made with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The host services (tenant queues, keys, `net` broker) shared by the
    /// sandboxes of this engine; give them to [`SandboxContext::with_tenant`].
    pub fn services(&self) -> &Arc<HostServices> {
        &self.inner.services
    }

    /// Instance pool slots free right now (of
    /// [`EngineConfig::pool_instances`]).
    pub fn pool_available(&self) -> usize {
        self.inner.pool.available()
    }

    /// Modules loaded from the disk cache instead of compiled, so far.
    pub fn disk_cache_hits(&self) -> u64 {
        self.inner.modules.disk_hits()
    }

    /// Bytes of `.cwasm` files in the disk cache (0 without one).
    pub fn disk_cache_bytes(&self) -> u64 {
        self.inner.modules.disk_bytes()
    }

    /// Compiles started so far (cache hits and disk loads not counted).
    pub fn compiles(&self) -> u64 {
        self.inner.modules.compiles()
    }

    /// Modules kept in memory and their estimated bytes of compiled code.
    pub fn memory_cache(&self) -> (usize, u64) {
        self.inner.modules.held()
    }

    /// The compiled module `sha256` if it is in memory (no compile).
    pub fn cached(&self, sha256: &str) -> Option<Arc<CompiledModule>> {
        self.inner.modules.get(sha256)
    }

    /// Drops the module `sha256` from memory now unless a call still holds
    /// it: the node calls this when the last sandbox using it is removed.
    pub fn release(&self, sha256: &str) {
        self.inner.modules.release(sha256);
    }

    /// Where the precompiled form of the module `sha256` is kept, if this
    /// engine has a disk cache.
    pub fn disk_cache_path(&self, sha256: &str) -> Option<PathBuf> {
        self.inner.modules.disk_path(sha256)
    }

    /// The compiled module for `wasm` (binary or WAT text), whose lowercase
    /// hex sha256 is `sha256`; cached in memory by that digest (bounded in
    /// bytes, see [`CompileConfig`]), and compiled once when several callers
    /// miss at once. Bytes that do not hash to `sha256`, and invalid modules,
    /// fail with [`CallError::ModuleInvalid`]. Before Cranelift sees it, the
    /// module is checked against [`ModuleLimits`]
    /// ([`CallError::ModuleTooLarge`], [`CallError::ModuleTooManyFunctions`],
    /// [`CallError::ModuleTooComplex`]); the compile runs on a bounded pool
    /// and is given up after [`CompileConfig::timeout`]
    /// ([`CallError::CompileTimeout`]). Imports and `_start` are checked when
    /// the module is first run, since what a call shape links differs.
    ///
    /// With a disk cache, a module compiled before (by this node, with this
    /// wasmtime and configuration) is loaded from disk instead; a cache file
    /// that does not load is deleted and the module recompiled.
    ///
    /// Compiling is CPU heavy (milliseconds to seconds): async callers run
    /// this in `tokio::task::spawn_blocking`. Cache hits are cheap.
    pub fn compile(&self, sha256: &str, wasm: &[u8]) -> Result<Arc<CompiledModule>, CallError> {
        self.inner
            .modules
            .get_or_compile(&self.inner.engine, sha256, wasm, None)
    }

    /// [`Engine::compile`] for a module that runs under `profile`: it must
    /// also meet the profile's [`ProfileModuleLimits`] (checked on every
    /// call, cached or not, so a module compiled for a roomier profile is
    /// still refused under a tighter one), and a compile gets the tighter
    /// of the two deadlines.
    pub fn compile_for(
        &self,
        profile: &Profile,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<Arc<CompiledModule>, CallError> {
        let limits = &profile.module_limits;
        limits.check(&profile.name, wasm)?;
        self.inner.modules.get_or_compile(
            &self.inner.engine,
            sha256,
            wasm,
            limits.compile_timeout(),
        )
    }

    /// Runs `module` in the `command` shape under `profile`: WASI preview 1
    /// `_start` with `argv = [module name] + input.args`, stdin from
    /// `input.stdin`, the environment `input.env`, stdout and stderr
    /// captured, the volumes preopened as `/workspace`, `/memory` and `/tmp`
    /// when the profile grants `vfs` and the module uses paths (see
    /// docs/guest-abi.md, Files), no network. The guest yields to the executor every
    /// [`TICK`] while it runs, so long calls do not starve others. Must run
    /// inside a tokio runtime with its time driver enabled.
    ///
    /// A guest calling `proc_exit(n)` finishes with exit code `n` (any
    /// 32-bit status, read as signed: 300 stays 300, `u32::MAX` is -1), even after
    /// a denied memory growth it handled. Failures, in order of precedence:
    /// more output than the cap ([`CallError::OutputLimit`]), the wall-clock
    /// deadline ([`CallError::Timeout`]), the CPU budget
    /// ([`CallError::CpuLimit`]), a denied memory or table growth
    /// ([`CallError::MemoryLimit`]),
    /// link or instantiation errors ([`CallError::InstantiateFailed`]) and
    /// traps ([`CallError::Trapped`]).
    pub async fn run_command(
        &self,
        module: &CompiledModule,
        profile: &Profile,
        input: CommandInput,
    ) -> Result<CommandOutput, CallError> {
        let sandbox = Arc::new(SandboxContext::ephemeral(profile));
        self.run_command_with(module, profile, input, sandbox).await
    }

    /// [`Engine::run_command`] for `sandbox`: host imports reach its data,
    /// denials are counted in its counter, logs carry its id, and at most
    /// `profile.max_concurrent` of its calls run at once. The instance holds
    /// one slot of the engine's instance pool for the call; with the pool
    /// full, the call waits for a slot (within its wall-clock deadline). A module importing
    /// a host function `profile` does not grant fails with
    /// [`CallError::InstantiateFailed`] naming the import and capability.
    pub async fn run_command_with(
        &self,
        module: &CompiledModule,
        profile: &Profile,
        input: CommandInput,
        sandbox: Arc<SandboxContext>,
    ) -> Result<CommandOutput, CallError> {
        let runner = command::Runner {
            engine: &self.inner.engine,
            linker: &self.inner.linker,
            pool: &self.inner.pool,
            mount_root: &self.inner.mount_root,
        };
        command::run(runner, module, profile, input, sandbox).await
    }

    /// A `kernel` instance of `module` under `profile`, without a sandbox
    /// (in-memory data, id `-`). See [`Engine::kernel_with`].
    pub async fn kernel(
        &self,
        module: &CompiledModule,
        profile: &Profile,
    ) -> Result<KernelInstance, CallError> {
        let sandbox = Arc::new(SandboxContext::ephemeral(profile));
        self.kernel_with(module, profile, sandbox).await
    }

    /// A `kernel` instance of `module` for `sandbox`, instantiated now (so
    /// missing exports and ungranted imports fail here). Reuse it for many
    /// [`KernelInstance::call`]s; each gets the profile's CPU and wall time.
    /// The live instance holds one slot of the engine's instance pool until
    /// it is dropped or discarded; with the pool full, making one waits.
    pub async fn kernel_with(
        &self,
        module: &CompiledModule,
        profile: &Profile,
        sandbox: Arc<SandboxContext>,
    ) -> Result<KernelInstance, CallError> {
        self.arena_instance(kernel::Entry::Process, module, profile, sandbox)
            .await
    }

    /// An HTTP handler instance of `module` for `sandbox` (the `serve`
    /// shape): like [`Engine::kernel_with`], with `nexus_http(req_len) ->
    /// resp_len` as the entry. Its calls take an encoded
    /// [`HttpRequest`](nexus_abi::HttpRequest) and return an encoded
    /// [`HttpResponse`](nexus_abi::HttpResponse).
    pub async fn http_handler_with(
        &self,
        module: &CompiledModule,
        profile: &Profile,
        sandbox: Arc<SandboxContext>,
    ) -> Result<KernelInstance, CallError> {
        self.arena_instance(kernel::Entry::Http, module, profile, sandbox)
            .await
    }

    async fn arena_instance(
        &self,
        entry: kernel::Entry,
        module: &CompiledModule,
        profile: &Profile,
        sandbox: Arc<SandboxContext>,
    ) -> Result<KernelInstance, CallError> {
        let inner = &self.inner;
        KernelInstance::new(
            entry,
            &inner.engine,
            &inner.linker,
            &inner.pool,
            module,
            profile,
            sandbox,
        )
        .await
    }
}
