//! Arena instances: the `kernel` call shape, `process(in_len) -> out_len`
//! over an exported memory arena, and the `serve` shape's handler,
//! `nexus_http(req_len) -> resp_len` over the same arena ([`Entry`]). One
//! instance is reused across calls (calls to one instance are serialized).
//! Each call gets a fresh CPU budget and the profile's wall deadline; a call
//! that traps, hits a limit or is cut off discards the instance, and the next
//! call makes a fresh one. See docs/guest-abi.md.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, OwnedSemaphorePermit};
use wasmtime::{ExternType, InstancePre, Memory, Store, TypedFunc};
use wasmtime_wasi::WasiCtxBuilder;

use super::cache::{short, CompiledModule};
use super::command::{classify, Phase};
use super::config::Pool;
use super::context::SandboxContext;
use super::deadline;
use super::error::CallError;
use super::link::{self, kind};
use super::profile::Profile;
use super::state::GuestState;

/// The export an arena instance runs per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A kernel: `process(in_len) -> out_len`.
    Process,
    /// An HTTP handler: `nexus_http(req_len) -> resp_len`.
    Http,
}

impl Entry {
    /// The export's name.
    fn export(self) -> &'static str {
        match self {
            Entry::Process => "process",
            Entry::Http => "nexus_http",
        }
    }

    /// What its output is called in messages.
    fn output(self) -> &'static str {
        match self {
            Entry::Process => "kernel output",
            Entry::Http => "HTTP response",
        }
    }
}

/// A kernel (or HTTP handler) instance, reused across calls. Cheap to share
/// behind an `Arc`.
pub struct KernelInstance {
    entry: Entry,
    engine: wasmtime::Engine,
    pool: Pool,
    pre: InstancePre<GuestState>,
    profile: Profile,
    sandbox: Arc<SandboxContext>,
    sha256: String,
    live: Mutex<Option<Live>>,
    instantiations: AtomicU64,
}

/// A running instance and what the host needs of it.
struct Live {
    store: Store<GuestState>,
    memory: Memory,
    process: TypedFunc<i32, i32>,
    arena: Range<usize>,
    /// Set while a call runs; still set if the call was cut off mid-way.
    busy: bool,
    /// The instance's pool slot, held for its life. Declared after `store`
    /// so it is dropped after it (the instance returns to the pool first).
    _pool_slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for KernelInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelInstance")
            .field("sha256", &self.sha256)
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl KernelInstance {
    /// Checks and instantiates `module` as a kernel or handler (the first
    /// instance is made now, so link and export errors show here).
    pub(crate) async fn new(
        entry: Entry,
        engine: &wasmtime::Engine,
        linker: &wasmtime::Linker<GuestState>,
        pool: &Pool,
        module: &CompiledModule,
        profile: &Profile,
        sandbox: Arc<SandboxContext>,
    ) -> Result<KernelInstance, CallError> {
        let pre = link::prepare(engine, linker, module, profile, &sandbox)?;
        check_exports(module, entry)?;
        let kernel = KernelInstance {
            entry,
            engine: engine.clone(),
            pool: pool.clone(),
            pre,
            profile: profile.clone(),
            sandbox,
            sha256: module.sha256().to_string(),
            live: Mutex::new(None),
            instantiations: AtomicU64::new(0),
        };
        let wall = profile.wall_time;
        let live = deadline::within(wall, Instant::now(), kernel.instantiate())
            .await
            .map_err(|_| CallError::Timeout { limit: wall })??;
        *kernel.live.lock().await = Some(live);
        Ok(kernel)
    }

    /// Runs `process` on `input` and returns its output. Fails with
    /// [`CallError::InputTooLarge`] past the arena, [`CallError::OutputLimit`]
    /// for an `out_len` past the arena or the profile's output cap,
    /// [`CallError::Trapped`] for a negative `out_len` (the instance is kept)
    /// or a trap, and the CPU, memory and wall-time errors of `command`.
    pub async fn call(&self, input: &[u8]) -> Result<Vec<u8>, CallError> {
        let wall = self.profile.wall_time;
        let started = Instant::now();
        let call = async {
            // Whether the call waited or instantiated before its guest runs:
            // the CPU meter then starts later than `started` (queueing is
            // not charged); otherwise it shares that clock reading.
            let mut delayed = false;
            let slot = match self.sandbox.free_slot() {
                Some(slot) => Some(slot),
                None => {
                    delayed = true;
                    self.sandbox.slot().await
                }
            };
            let mut guard = match self.live.try_lock() {
                Ok(guard) => guard,
                Err(_) => {
                    delayed = true;
                    self.live.lock().await
                }
            };
            if guard.as_ref().is_some_and(|l| l.busy) {
                tracing::debug!(
                    sha256 = short(&self.sha256),
                    "kernel cut off mid-call, discarded"
                );
                *guard = None;
            }
            let live = match guard.as_mut() {
                Some(live) => live,
                None => {
                    delayed = true;
                    // Boxed: inline, the rare instantiation would make
                    // every call's future (moved on each await) far larger.
                    guard.insert(Box::pin(self.instantiate()).await?)
                }
            };
            let cpu_from = if delayed { Instant::now() } else { started };
            // Kept in the store so `fabric_map` can give it up while it
            // waits; taken back after the call (a call cut off mid-way
            // leaves it there until the instance is discarded).
            live.store.data_mut().host.call_slot = slot;
            let result = live.call(input, &self.profile, self.entry, cpu_from).await;
            live.store.data_mut().host.call_slot = None;
            if let Err((err, true)) = &result {
                tracing::debug!(sha256 = short(&self.sha256), %err, "kernel instance discarded");
                *guard = None;
            }
            result.map_err(|(err, _)| err)
        };
        deadline::within(wall, started, call)
            .await
            .map_err(|_| CallError::Timeout { limit: wall })?
    }

    /// How many instances were made so far (1 + those made after a discard).
    pub fn instantiations(&self) -> u64 {
        self.instantiations.load(Ordering::Relaxed)
    }

    /// A fresh instance: `_initialize` (if exported), then `arena`. Waits
    /// for a pool slot first.
    async fn instantiate(&self) -> Result<Live, CallError> {
        let pool_slot = self.pool.acquire().await?;
        self.instantiations.fetch_add(1, Ordering::Relaxed);
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build_p1();
        let mut store = link::store(
            &self.engine,
            &self.profile,
            self.pool.max_memory_bytes(),
            self.sandbox.clone(),
            wasi,
            Instant::now(),
        );
        let fail = |store: &Store<GuestState>, e: wasmtime::Error| {
            classify(store.data(), &self.profile, Phase::Instantiate, &e, &[])
        };
        let instance = match self.pre.instantiate_async(&mut store).await {
            Ok(i) => i,
            Err(e) => return Err(fail(&store, e)),
        };
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            if let Err(e) = init.call_async(&mut store, ()).await {
                return Err(fail(&store, e));
            }
        }
        let lookup = |store: &mut Store<GuestState>| {
            let memory = instance.get_memory(&mut *store, "memory");
            let process = instance.get_typed_func::<i32, i32>(&mut *store, self.entry.export());
            let arena = instance.get_typed_func::<(), i64>(&mut *store, "arena");
            (memory, process, arena)
        };
        let (Some(memory), Ok(process), Ok(arena)) = lookup(&mut store) else {
            return Err(CallError::Internal(
                "kernel exports changed after checking".into(),
            ));
        };
        let packed = match arena.call_async(&mut store, ()).await {
            Ok(p) => p as u64,
            Err(e) => return Err(fail(&store, e)),
        };
        let (offset, cap) = ((packed & 0xffff_ffff) as usize, (packed >> 32) as usize);
        let size = memory.data_size(&store);
        if offset.checked_add(cap).is_none_or(|end| end > size) {
            return Err(CallError::InstantiateFailed(format!(
                "kernel arena of {cap} bytes at offset {offset} lies outside its {size}-byte memory"
            )));
        }
        Ok(Live {
            store,
            memory,
            process,
            arena: offset..offset + cap,
            busy: false,
            _pool_slot: pool_slot,
        })
    }
}

impl Live {
    /// One call, its CPU time counted from `cpu_from`; on failure, the
    /// error and whether to discard the instance.
    async fn call(
        &mut self,
        input: &[u8],
        profile: &Profile,
        entry: Entry,
        cpu_from: Instant,
    ) -> Result<Vec<u8>, (CallError, bool)> {
        let cap = self.arena.len();
        if input.len() > cap {
            return Err((CallError::InputTooLarge { limit: cap }, false));
        }
        let in_len = i32::try_from(input.len())
            .map_err(|_| (CallError::InputTooLarge { limit: cap }, false))?;
        let start = self.arena.start;
        let data = self.memory.data_mut(&mut self.store);
        let Some(dst) = data.get_mut(start..start + input.len()) else {
            return Err((
                CallError::Internal("kernel arena outside memory".into()),
                true,
            ));
        };
        dst.copy_from_slice(input);
        let state = self.store.data_mut();
        state.cpu.restart(profile.cpu_time, cpu_from);
        state.host.next_call();
        self.store.set_epoch_deadline(1);

        self.busy = true;
        let result = self.process.call_async(&mut self.store, in_len).await;
        self.busy = false;
        let out_len = match result {
            Ok(n) => n,
            Err(e) => {
                return Err((
                    classify(self.store.data(), profile, Phase::Run, &e, &[]),
                    true,
                ))
            }
        };
        let out_len = usize::try_from(out_len).map_err(|_| {
            let msg = format!(
                "`{}` returned {out_len}, a negative length (an error of the guest)",
                entry.export()
            );
            (CallError::Trapped(msg), false)
        })?;
        let limit = cap.min(profile.output_bytes);
        if out_len > limit {
            return Err((
                CallError::OutputLimit {
                    stream: entry.output(),
                    limit,
                },
                false,
            ));
        }
        let data = self.memory.data(&self.store);
        data.get(start..start + out_len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                (
                    CallError::Internal("kernel arena outside memory".into()),
                    true,
                )
            })
    }
}

/// Checks the arena exports: `memory`, `arena() -> i64` and the entry
/// (`process` or `nexus_http`) taking and returning an `i32`.
fn check_exports(module: &CompiledModule, entry: Entry) -> Result<(), CallError> {
    let m = module.module();
    let hint = match entry {
        Entry::Process => "a kernel exports `memory`, `arena() -> i64` and `process(in_len: i32) -> i32` (docs/guest-abi.md)",
        Entry::Http => "an HTTP handler exports `memory`, `arena() -> i64` and `nexus_http(req_len: i32) -> i32` (docs/guest-abi.md)",
    };
    let func = |name: &str, params: &[wasmtime::ValType], results: &[wasmtime::ValType]| match m
        .get_export(name)
    {
        Some(ExternType::Func(f))
            if f.params().len() == params.len()
                && f.results().len() == results.len()
                && f.params()
                    .zip(params)
                    .all(|(a, b)| wasmtime::ValType::eq(&a, b))
                && f.results()
                    .zip(results)
                    .all(|(a, b)| wasmtime::ValType::eq(&a, b)) =>
        {
            Ok(())
        }
        Some(other) => Err(CallError::InstantiateFailed(format!(
            "module exports `{name}` as {} of another type; {hint}",
            kind(&other)
        ))),
        None => Err(CallError::InstantiateFailed(format!(
            "module has no `{name}` export; {hint}"
        ))),
    };
    use wasmtime::ValType::{I32, I64};
    func(entry.export(), &[I32], &[I32])?;
    func("arena", &[], &[I64])?;
    match m.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err(CallError::InstantiateFailed(format!(
            "module exports no memory called `memory`; {hint}"
        ))),
    }
}
