//! The `kv` group: the sandbox's key-value store. Keys are 1..=1024 bytes of
//! UTF-8, values at most 1 MiB.

use wasmtime::{Caller, Linker};

use super::super::abi::{self, ERR_INVALID, ERR_IO, ERR_NOT_FOUND, MAX_KEY, MAX_VALUE};
use super::super::capability::Capability;
use super::super::data::DataError;
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(abi::MODULE, "kv_get", kv_get)?;
    linker.func_wrap(abi::MODULE, "kv_set", kv_set)?;
    linker.func_wrap(abi::MODULE, "kv_delete", kv_delete)?;
    Ok(())
}

/// `kv_get(key_ptr, key_len, out_ptr, out_cap) -> len | error`: the value's
/// length; the value is written only if it fits in `out_cap`.
fn kv_get(mut caller: Caller<'_, GuestState>, kp: i32, kl: i32, op: i32, oc: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Kv, "kv_get")?;
        let key = key(&mut caller, kp, kl, "kv_get")?;
        mem::check_buffer(&mut caller, op, oc)?;
        let data = caller.data().host.sandbox.data().clone();
        let value = data.kv_get(&key).map_err(|e| io(&caller, "kv_get", e))?;
        let value = value.ok_or(ERR_NOT_FOUND)?;
        mem::write_out(&mut caller, op, oc, &value)
    })())
}

/// `kv_set(key_ptr, key_len, val_ptr, val_len) -> 0 | error`.
fn kv_set(mut caller: Caller<'_, GuestState>, kp: i32, kl: i32, vp: i32, vl: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Kv, "kv_set")?;
        let key = key(&mut caller, kp, kl, "kv_set")?;
        let value = mem::read_capped(&mut caller, vp, vl, MAX_VALUE, "kv", || {
            format!("kv_set `{key}`: value")
        })?;
        let data = caller.data().host.sandbox.data().clone();
        data.kv_set(&key, &value)
            .map_err(|e| io(&caller, "kv_set", e))?;
        Ok(0)
    })())
}

/// `kv_delete(key_ptr, key_len) -> 1 (removed) | 0 (absent) | error`.
fn kv_delete(mut caller: Caller<'_, GuestState>, kp: i32, kl: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Kv, "kv_delete")?;
        let key = key(&mut caller, kp, kl, "kv_delete")?;
        let data = caller.data().host.sandbox.data().clone();
        let existed = data
            .kv_delete(&key)
            .map_err(|e| io(&caller, "kv_delete", e))?;
        Ok(i32::from(existed))
    })())
}

/// The key at `ptr`: 1..=[`MAX_KEY`] bytes of UTF-8. Oversized keys are
/// counted as denials.
fn key(caller: &mut Caller<'_, GuestState>, ptr: i32, len: i32, op: &str) -> Result<String, i32> {
    let bytes = mem::read_capped(caller, ptr, len, MAX_KEY, "kv", || format!("{op}: key"))?;
    if bytes.is_empty() {
        return Err(ERR_INVALID);
    }
    String::from_utf8(bytes).map_err(|_| ERR_INVALID)
}

/// Logs a storage failure; the guest gets `ERR_IO`.
pub(super) fn io(caller: &Caller<'_, GuestState>, op: &str, e: DataError) -> i32 {
    let sandbox = caller.data().host.sandbox.id();
    tracing::warn!(sandbox, op, error = %e, "sandbox storage failed");
    ERR_IO
}
