//! The `net` group: HTTP through the host's broker (see
//! [`NetBroker`](super::super::net::NetBroker)). `net_fetch` makes the
//! request and keeps the encoded response; `net_read` hands it over.

use nexus_abi::HttpRequest;
use wasmtime::{Caller, Linker};

use super::super::abi::{self, ERR_INVALID, ERR_NOT_FOUND, ERR_TOO_LARGE};
use super::super::capability::Capability;
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        abi::MODULE,
        "net_fetch",
        |mut caller: Caller<'_, GuestState>, (ptr, len): (i32, i32)| {
            Box::new(async move { Ok(ret(fetch(&mut caller, ptr, len).await)) })
        },
    )?;
    linker.func_wrap(abi::MODULE, "net_read", net_read)?;
    Ok(())
}

/// `net_fetch(req_ptr, req_len) -> resp_len | error`: makes the encoded
/// request and keeps the encoded response (replacing any earlier one).
async fn fetch(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32) -> Result<i32, i32> {
    granted(caller.data(), Capability::Net, "net_fetch")?;
    caller.data_mut().host.net_response = None;
    let sandbox = caller.data().host.sandbox.clone();
    let broker = &sandbox.services().net;
    let max = broker.policy().max_request_bytes;
    let bytes = mem::read_capped(caller, ptr, len, max, "net", || {
        "net_fetch: request".to_string()
    })?;
    let request = HttpRequest::decode(&bytes).map_err(|_| ERR_INVALID)?;
    let target = format!("{} {}", request.method, request.target);
    match broker.fetch(request).await {
        Ok(response) => {
            let encoded = response.encode();
            let n = i32::try_from(encoded.len()).map_err(|_| ERR_TOO_LARGE)?;
            tracing::debug!(
                sandbox = sandbox.id(),
                target,
                status = response.status,
                "net fetch"
            );
            caller.data_mut().host.net_response = Some(encoded);
            Ok(n)
        }
        Err(e) if e.is_denial() => {
            sandbox.deny("net", &e.to_string());
            Err(e.code())
        }
        Err(e) => {
            tracing::info!(sandbox = sandbox.id(), target, error = %e, "net fetch failed");
            Err(e.code())
        }
    }
}

/// `net_read(out_ptr, out_cap) -> len | error`: the kept response's length;
/// it is written (and let go) only if it fits. `ERR_NOT_FOUND` when there is
/// none.
fn net_read(mut caller: Caller<'_, GuestState>, op: i32, oc: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Net, "net_read")?;
        mem::check_buffer(&mut caller, op, oc)?;
        let host = &mut caller.data_mut().host;
        let len = host.net_response.as_ref().ok_or(ERR_NOT_FOUND)?.len();
        if len > oc as u32 as usize {
            return i32::try_from(len).map_err(|_| ERR_TOO_LARGE);
        }
        let response = host.net_response.take().unwrap_or_default();
        mem::write_out(&mut caller, op, oc, &response)
    })())
}
