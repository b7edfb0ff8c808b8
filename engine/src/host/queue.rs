//! The `queue` group: bounded FIFO queues shared by the sandboxes of one
//! tenant (see [`QueueHub`](super::super::QueueHub)). Names are 1..=128
//! bytes of UTF-8; a full queue answers `ERR_FULL`, counted as a denial
//! once per call.

use wasmtime::{Caller, Linker};

use super::super::abi::{self, ERR_FULL, ERR_INVALID, ERR_NOT_FOUND, MAX_QUEUE_NAME};
use super::super::capability::Capability;
use super::super::queue::Popped;
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(abi::MODULE, "queue_push", queue_push)?;
    linker.func_wrap(abi::MODULE, "queue_pop", queue_pop)?;
    linker.func_wrap(abi::MODULE, "queue_len", queue_len)?;
    Ok(())
}

/// `queue_push(name_ptr, name_len, msg_ptr, msg_len) -> 0 | error`.
fn queue_push(mut caller: Caller<'_, GuestState>, np: i32, nl: i32, mp: i32, ml: i32) -> i32 {
    ret((|| {
        let name = name(&mut caller, np, nl, "queue_push")?;
        let sandbox = caller.data().host.sandbox.clone();
        let hub = &sandbox.services().queues;
        let max = hub.limits().max_message_bytes;
        let message = mem::read_capped(&mut caller, mp, ml, max, "queue", || {
            format!("queue_push `{name}`: message")
        })?;
        if let Err(e) = hub.push(sandbox.tenant(), &name, message) {
            let host = &mut caller.data_mut().host;
            if !host.queue_full_counted {
                host.queue_full_counted = true;
                sandbox.deny("queue", &e.to_string());
            }
            return Err(ERR_FULL);
        }
        Ok(0)
    })())
}

/// `queue_pop(name_ptr, name_len, out_ptr, out_cap) -> len | error`: the
/// head message's length; it is written and removed only if it fits.
fn queue_pop(mut caller: Caller<'_, GuestState>, np: i32, nl: i32, op: i32, oc: i32) -> i32 {
    ret((|| {
        let name = name(&mut caller, np, nl, "queue_pop")?;
        mem::check_buffer(&mut caller, op, oc)?;
        let sandbox = caller.data().host.sandbox.clone();
        let popped = sandbox
            .services()
            .queues
            .pop(sandbox.tenant(), &name, oc as u32 as usize);
        match popped {
            Popped::Empty => Err(ERR_NOT_FOUND),
            Popped::TooLong(len) => i32::try_from(len).map_err(|_| abi::ERR_TOO_LARGE),
            Popped::Message(message) => mem::write_out(&mut caller, op, oc, &message),
        }
    })())
}

/// `queue_len(name_ptr, name_len) -> count | error`.
fn queue_len(mut caller: Caller<'_, GuestState>, np: i32, nl: i32) -> i32 {
    ret((|| {
        let name = name(&mut caller, np, nl, "queue_len")?;
        let sandbox = caller.data().host.sandbox.clone();
        let len = sandbox.services().queues.len(sandbox.tenant(), &name);
        Ok(i32::try_from(len).unwrap_or(i32::MAX))
    })())
}

/// Checks the grant and reads a queue name: 1..=[`MAX_QUEUE_NAME`] bytes
/// of UTF-8 (oversized names are counted as denials).
fn name(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32, op: &str) -> Result<String, i32> {
    granted(caller.data(), Capability::Queue, op)?;
    let bytes = mem::read_capped(caller, ptr, len, MAX_QUEUE_NAME, "queue", || {
        format!("{op}: queue name")
    })?;
    if bytes.is_empty() {
        return Err(ERR_INVALID);
    }
    String::from_utf8(bytes).map_err(|_| ERR_INVALID)
}
