//! Compiling modules on a bounded pool with a deadline.
//!
//! wasmtime cannot interrupt a compile once Cranelift has started, so each
//! compile runs on its own thread holding one of `concurrency` slots, and
//! the caller stops waiting for it at the deadline: it gets
//! [`CallError::CompileTimeout`] while the thread runs on to the end and
//! then drops what it compiled. The thread keeps its slot until it ends, so
//! at most `concurrency` compiles run at once, abandoned ones included, and
//! a caller waiting for a slot counts that wait against its own deadline.
//! (Cranelift still spreads one compile over all cores through wasmtime's
//! parallel compilation; the slots bound how many run, not how many cores
//! each uses.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Module;

use super::cache::short;
use super::error::CallError;

/// Compiles started so far, and the slots they run in.
pub(crate) struct Compiler {
    slots: Arc<Slots>,
    timeout: Duration,
    started: AtomicU64,
}

impl Compiler {
    /// A pool of `concurrency` slots (at least one), each compile given
    /// `timeout`.
    pub(crate) fn new(concurrency: usize, timeout: Duration) -> Compiler {
        Compiler {
            slots: Arc::new(Slots {
                free: Mutex::new(concurrency.max(1)),
                freed: Condvar::new(),
            }),
            timeout,
            started: AtomicU64::new(0),
        }
    }

    /// Compiles started so far (disk cache loads not counted).
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// `wasm` compiled by `engine` within the pool's deadline, or within
    /// `tighter` when that is shorter.
    pub(crate) fn compile(
        &self,
        engine: &wasmtime::Engine,
        key: &str,
        wasm: &[u8],
        tighter: Option<Duration>,
    ) -> Result<Module, CallError> {
        let limit = tighter.map_or(self.timeout, |t| t.min(self.timeout));
        let deadline = Instant::now() + limit;
        let timeout = CallError::CompileTimeout { limit };
        let slot = self.slots.acquire(deadline).ok_or(timeout.clone())?;
        self.started.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        let bytes = wasm.to_vec();
        let thread_engine = engine.clone();
        std::thread::Builder::new()
            .name("nexus-compile".to_string())
            .spawn(move || {
                let result = Module::new(&thread_engine, &bytes);
                // A caller that gave up is gone; the module is dropped here.
                let _ = tx.send(result);
                drop(slot);
            })
            .map_err(|e| CallError::Internal(format!("cannot start a compile thread: {e}")))?;
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result.map_err(|e| compile_error(engine, key, wasm, &e)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!(sha256 = short(key), "module compile timed out; abandoned");
                Err(timeout)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CallError::Internal(
                "the compile thread ended without a result".to_string(),
            )),
        }
    }
}

/// The error for a module that did not compile.
fn compile_error(
    engine: &wasmtime::Engine,
    key: &str,
    wasm: &[u8],
    e: &wasmtime::Error,
) -> CallError {
    // Valid WebAssembly the instance pool cannot hold (an initial memory
    // above its ceiling, too many tables...) says so.
    if wasm.starts_with(b"\0asm") && Module::validate(engine, wasm).is_ok() {
        return CallError::ModuleInvalid(format!(
            "module {} does not fit this node's instance pool: {e:#}",
            short(key)
        ));
    }
    CallError::ModuleInvalid(format!(
        "module {} is not valid WebAssembly: {e}",
        short(key)
    ))
}

/// Counting semaphore of compile slots, waited on with a deadline.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    /// A slot, or `None` if none frees up before `deadline`.
    fn acquire(self: &Arc<Self>, deadline: Instant) -> Option<Slot> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *free -= 1;
        Some(Slot(self.clone()))
    }
}

/// One compile slot, given back when dropped.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}
