//! The wasmtime engine: profiles, limits and call shapes.
//!
//! One [`Engine`] per node compiles modules (cached by sha256) and runs them
//! in call shapes; today the `command` shape ([`Engine::run_command`]). Every
//! call gets a fresh store bounded by its [`Profile`]: linear memory through
//! a resource limiter, CPU time through epoch interruption (a background
//! ticker advances the epoch every [`TICK`]), wall time through a tokio
//! timeout, and captured output through capped pipes. Hostile guests hit a
//! limit and get a [`CallError`] naming it; the node keeps serving.

mod cache;
mod command;
mod cpu;
mod error;
mod limits;
mod profile;
mod ticker;
mod trap;

use std::sync::Arc;

use wasmtime::{Config, Linker};

pub use cache::CompiledModule;
pub use command::{CommandInput, CommandOutput};
pub use error::{CallError, EngineError};
pub use profile::{Profile, COMPUTE};
pub use ticker::TICK;

use cache::ModuleCache;
use command::CommandState;

/// The node's wasm engine. Cheap to clone; all clones share one wasmtime
/// engine, one module cache and one epoch ticker.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    command_linker: Linker<CommandState>,
    modules: ModuleCache,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Sets up wasmtime (epoch interruption, no fuel, on-demand allocation;
    /// async calls need no switch since wasmtime 42), links the host
    /// functions and starts the epoch ticker, which stops by itself once the
    /// engine and every module compiled by it are dropped.
    pub fn new() -> Result<Engine, EngineError> {
        let mut config = Config::new();
        config.epoch_interruption(true).consume_fuel(false);
        let engine =
            wasmtime::Engine::new(&config).map_err(|e| EngineError::Config(e.to_string()))?;
        let command_linker =
            command::linker(&engine).map_err(|e| EngineError::Linker(e.to_string()))?;
        ticker::spawn(&engine)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                engine,
                command_linker,
                modules: ModuleCache::default(),
            }),
        })
    }

    /// The compiled module for `wasm` (binary or WAT text), whose lowercase
    /// hex sha256 is `sha256`; cached in memory by that digest. Bytes that do
    /// not hash to `sha256`, and invalid modules, fail with
    /// [`CallError::ModuleInvalid`]. Imports and `_start` are checked when the
    /// module is first run, since what a call shape links differs.
    ///
    /// Compiling is CPU heavy (milliseconds to seconds): async callers run
    /// this in `tokio::task::spawn_blocking`. Cache hits are cheap.
    pub fn compile(&self, sha256: &str, wasm: &[u8]) -> Result<Arc<CompiledModule>, CallError> {
        self.inner
            .modules
            .get_or_compile(&self.inner.engine, sha256, wasm)
    }

    /// Runs `module` in the `command` shape under `profile`: WASI preview 1
    /// `_start` with `argv = [module name] + input.args`, stdin from
    /// `input.stdin`, stdout and stderr captured, no preopened directories,
    /// no environment, no network. The guest yields to the executor every
    /// [`TICK`] while it runs, so long calls do not starve others. Must run
    /// inside a tokio runtime with its time driver enabled.
    ///
    /// A guest calling `proc_exit(n)` finishes with exit code `n`, even after
    /// a denied memory growth it handled. Failures, in order of precedence:
    /// more output than the cap ([`CallError::OutputLimit`]), the wall-clock
    /// deadline ([`CallError::Timeout`]), a denied memory or table growth
    /// ([`CallError::MemoryLimit`]), the CPU budget ([`CallError::CpuLimit`]),
    /// link or instantiation errors ([`CallError::InstantiateFailed`]) and
    /// traps ([`CallError::Trapped`]).
    pub async fn run_command(
        &self,
        module: &CompiledModule,
        profile: &Profile,
        input: CommandInput,
    ) -> Result<CommandOutput, CallError> {
        command::run(
            &self.inner.engine,
            &self.inner.command_linker,
            module,
            profile,
            input,
        )
        .await
    }
}
