//! Preparing a compiled module for a call: the engine check, the capability
//! gate, the cached link, and a fresh store armed with the profile's limits.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::{ExternType, InstancePre, Linker, Module, Store, UnknownImportError};
use wasmtime_wasi::p1::WasiP1Ctx;

use super::cache::{short, CompiledModule};
use super::context::SandboxContext;
use super::cpu::{self, CpuMeter};
use super::error::CallError;
use super::host;
use super::limits::Limiter;
use super::profile::Profile;
use super::state::{GuestState, HostCtx};
use super::trap;

/// The linked module, once `profile` is checked to grant every host import
/// it makes (refusals are counted against `sandbox`).
pub(crate) fn prepare(
    engine: &wasmtime::Engine,
    linker: &Linker<GuestState>,
    module: &CompiledModule,
    profile: &Profile,
    sandbox: &SandboxContext,
) -> Result<InstancePre<GuestState>, CallError> {
    if !wasmtime::Engine::same(engine, module.module().engine()) {
        return Err(CallError::Internal(format!(
            "module {} was compiled by another engine",
            short(module.sha256())
        )));
    }
    host::check_imports(module.module(), profile, sandbox)?;
    module.pre(|m| link(linker, m))
}

/// Links `module`, or says which import is missing.
fn link(
    linker: &Linker<GuestState>,
    module: &Module,
) -> Result<InstancePre<GuestState>, CallError> {
    linker.instantiate_pre(module).map_err(|e| {
        CallError::InstantiateFailed(match e.downcast_ref::<UnknownImportError>() {
            Some(u) => format!(
                "module imports {}.{} ({}), which this node does not provide",
                u.module(),
                u.name(),
                kind(&u.ty())
            ),
            None => format!("linking the module failed: {}", trap::chain(&e)),
        })
    })
}

/// A fresh store for `profile`: memory limiter (the profile's cap, at most
/// the pool's `memory_ceiling`), CPU meter (counting from `now`) and host
/// context.
pub(crate) fn store(
    engine: &wasmtime::Engine,
    profile: &Profile,
    memory_ceiling: u64,
    sandbox: Arc<SandboxContext>,
    wasi: WasiP1Ctx,
    now: Instant,
) -> Store<GuestState> {
    let state = GuestState {
        wasi,
        limits: Limiter::with_ceiling(profile.memory_bytes, memory_ceiling),
        cpu: CpuMeter::new(profile.cpu_time, now),
        host: HostCtx::new(sandbox, profile),
        quota: None,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    cpu::install(&mut store, |s| &mut s.cpu);
    store
}

/// "a function", "a memory"...: what an import or export is.
pub(crate) fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "a function",
        ExternType::Global(_) => "a global",
        ExternType::Table(_) => "a table",
        ExternType::Memory(_) => "a memory",
        ExternType::Tag(_) => "a tag",
    }
}
