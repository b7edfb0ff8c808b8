//! The `fabric` group: a guest fans a kernel of its own workbook out over
//! inputs through the node's fabric (see [`FabricHost`]). `fabric_map`
//! runs the job to its end and keeps the encoded results; `fabric_read`
//! hands them over.

use nexus_abi::{DecodeError, FabricRequest};
use wasmtime::{Caller, Linker};

use super::super::abi::{
    self, ERR_DENIED, ERR_INVALID, ERR_IO, ERR_NOT_FOUND, ERR_TOO_LARGE, MAX_FABRIC_REQUEST,
    MAX_FABRIC_RESPONSE,
};
use super::super::capability::Capability;
use super::super::context::NO_SANDBOX;
use super::super::fabric_host::FabricHost;
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        abi::MODULE,
        "fabric_map",
        |mut caller: Caller<'_, GuestState>, (ptr, len): (i32, i32)| {
            Box::new(async move { Ok(ret(map(&mut caller, ptr, len).await)) })
        },
    )?;
    linker.func_wrap(abi::MODULE, "fabric_read", fabric_read)?;
    Ok(())
}

/// `fabric_map(req_ptr, req_len) -> resp_len | error`: runs the encoded
/// request to its end and keeps the encoded response (replacing any
/// earlier one). The call's sandbox slot is given up while it waits.
async fn map(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32) -> Result<i32, i32> {
    granted(caller.data(), Capability::Fabric, "fabric_map")?;
    caller.data_mut().host.fabric_response = None;
    let sandbox = caller.data().host.sandbox.clone();
    let bytes = mem::read_capped(caller, ptr, len, MAX_FABRIC_REQUEST, "fabric", || {
        "fabric_map: request".to_string()
    })?;
    let request = FabricRequest::decode(&bytes).map_err(|e| match e {
        DecodeError::OutOfRange("input count", n) => {
            sandbox.deny(
                "fabric",
                &format!(
                    "fabric_map: {n} inputs, over the {} cap",
                    abi::MAX_FABRIC_INPUTS
                ),
            );
            ERR_TOO_LARGE
        }
        _ => ERR_INVALID,
    })?;
    if sandbox.tenant() == NO_SANDBOX {
        sandbox.deny("fabric", "fabric_map: the call belongs to no sandbox");
        return Err(ERR_DENIED);
    }
    let Some(host) = sandbox.services().fabric() else {
        tracing::warn!(sandbox = sandbox.id(), "this node has no fabric");
        return Err(ERR_IO);
    };
    let kernel = request.kernel.clone();
    let inputs = request.inputs.len();
    // The kernels run on this sandbox: its slot goes back while they run.
    drop(caller.data_mut().host.call_slot.take());
    let outcome = run(host, sandbox.tenant(), sandbox.id(), request).await;
    caller.data_mut().host.call_slot = sandbox.slot().await;
    let response = outcome?;
    let encoded = response.encode();
    if encoded.len() > MAX_FABRIC_RESPONSE {
        sandbox.deny(
            "fabric",
            &format!(
                "fabric_map: results of {} bytes, over the {MAX_FABRIC_RESPONSE}-byte cap",
                encoded.len()
            ),
        );
        return Err(ERR_TOO_LARGE);
    }
    let n = i32::try_from(encoded.len()).map_err(|_| ERR_TOO_LARGE)?;
    let failed = response.results.iter().filter(|r| r.is_err()).count();
    tracing::debug!(sandbox = sandbox.id(), kernel, inputs, failed, "fabric map");
    caller.data_mut().host.fabric_response = Some(encoded);
    Ok(n)
}

/// Runs `request` through `host`; a refusal is logged and becomes its code.
async fn run(
    host: &dyn FabricHost,
    tenant: &str,
    sandbox: &str,
    request: FabricRequest,
) -> Result<nexus_abi::FabricResponse, i32> {
    let kernel = request.kernel.clone();
    host.map(tenant, sandbox, request).await.map_err(|e| {
        tracing::info!(sandbox, kernel, error = %e, "fabric map refused");
        e.code
    })
}

/// `fabric_read(out_ptr, out_cap) -> len | error`: the kept response's
/// length; it is written (and let go) only if it fits. `ERR_NOT_FOUND`
/// when there is none.
fn fabric_read(mut caller: Caller<'_, GuestState>, op: i32, oc: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Fabric, "fabric_read")?;
        mem::check_buffer(&mut caller, op, oc)?;
        let host = &mut caller.data_mut().host;
        let len = host.fabric_response.as_ref().ok_or(ERR_NOT_FOUND)?.len();
        if len > oc as u32 as usize {
            return i32::try_from(len).map_err(|_| ERR_TOO_LARGE);
        }
        let response = host.fabric_response.take().unwrap_or_default();
        mem::write_out(&mut caller, op, oc, &response)
    })())
}
