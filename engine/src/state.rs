//! The store data every call shape shares, and the one linker providing
//! WASI preview 1 and host ABI v1 to all of them.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use wasmtime::Linker;
use wasmtime_wasi::p1::WasiP1Ctx;

use super::abi::LOG_LINES_PER_CALL;
use super::capability::Capabilities;
use super::context::SandboxContext;
use super::cpu::CpuMeter;
use super::host;
use super::limits::Limiter;
use super::mount::{self, VolumeQuota};
use super::profile::Profile;

/// Store data of one call (`command`) or one instance (`kernel`).
pub(crate) struct GuestState {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) limits: Limiter,
    pub(crate) cpu: CpuMeter,
    pub(crate) host: HostCtx,
    /// The call's volume quotas, when its volumes are preopened.
    pub(crate) quota: Option<VolumeQuota>,
}

/// What host imports need: who is calling and what they may do.
pub(crate) struct HostCtx {
    pub(crate) sandbox: Arc<SandboxContext>,
    /// Name of the profile, for messages.
    pub(crate) profile: String,
    pub(crate) caps: Capabilities,
    /// Whether the profile keeps `/workspace` read-only (the `vfs` writes too).
    pub(crate) workspace_read_only: bool,
    /// Log lines the guest may still write in this call.
    pub(crate) logs_left: u32,
    /// Whether the log flood of this call was already counted.
    pub(crate) log_flood_counted: bool,
    /// Whether a refused queue push of this call was already counted.
    pub(crate) queue_full_counted: bool,
    /// The last `net_fetch` response (encoded), until `net_read` takes it.
    pub(crate) net_response: Option<Vec<u8>>,
    /// The last `fabric_map` response (encoded), until `fabric_read` takes it.
    pub(crate) fabric_response: Option<Vec<u8>>,
    /// The call's slot of its sandbox (`max_concurrent`), held while the
    /// call runs; `fabric_map` gives it up while the fan-out runs, so the
    /// kernels it waits for can take slots of the same sandbox.
    pub(crate) call_slot: Option<OwnedSemaphorePermit>,
}

impl HostCtx {
    pub(crate) fn new(sandbox: Arc<SandboxContext>, profile: &Profile) -> HostCtx {
        HostCtx {
            sandbox,
            profile: profile.name.clone(),
            caps: profile.capabilities,
            workspace_read_only: profile.workspace_read_only,
            logs_left: LOG_LINES_PER_CALL,
            log_flood_counted: false,
            queue_full_counted: false,
            net_response: None,
            fabric_response: None,
            call_slot: None,
        }
    }

    /// Resets the per-call budgets (a kernel's next call).
    pub(crate) fn next_call(&mut self) {
        self.logs_left = LOG_LINES_PER_CALL;
        self.log_flood_counted = false;
        self.queue_full_counted = false;
        self.net_response = None;
        self.fabric_response = None;
    }
}

/// The linker of every call shape: WASI preview 1 (async flavour) plus all
/// host ABI v1 functions. What a profile does not grant is kept
/// out by [`host::check_imports`] before instantiation.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut GuestState| &mut s.wasi)?;
    mount::add_to_linker(&mut linker)?;
    // WASI's own `proc_exit` traps on a status of 126 or more; every status
    // is passed through instead (AssemblyScript's abort exits with 255).
    linker.allow_shadowing(true);
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "proc_exit",
        |status: i32| -> wasmtime::Result<()> { Err(wasmtime_wasi::I32Exit(status).into()) },
    )?;
    linker.allow_shadowing(false);
    host::add_to_linker(&mut linker)?;
    Ok(linker)
}
