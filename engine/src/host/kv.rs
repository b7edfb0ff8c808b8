//! The `kv` group: the sandbox's key-value store. Keys are 1..=1024 bytes of
//! UTF-8, values at most 1 MiB. Storage runs off the async threads (see
//! [`storage`](super::storage)).

use wasmtime::{Caller, Linker};

use super::super::abi::{ERR_INVALID, ERR_NOT_FOUND, MAX_KEY, MAX_VALUE};
use super::super::capability::Capability;
use super::super::state::GuestState;
use super::{granted, mem, storage};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wrap_async!(linker, "kv_get", kv_get, (kp, kl, op, oc));
    wrap_async!(linker, "kv_set", kv_set, (kp, kl, vp, vl));
    wrap_async!(linker, "kv_delete", kv_delete, (kp, kl));
    Ok(())
}

/// `kv_get(key_ptr, key_len, out_ptr, out_cap) -> len | error`: the value's
/// length; the value is written only if it fits in `out_cap`.
async fn kv_get(
    caller: &mut Caller<'_, GuestState>,
    kp: i32,
    kl: i32,
    op: i32,
    oc: i32,
) -> Result<i32, i32> {
    granted(caller.data(), Capability::Kv, "kv_get")?;
    let key = key(caller, kp, kl, "kv_get")?;
    mem::check_buffer(caller, op, oc)?;
    let value = storage::run(caller, "kv_get", move |d| d.kv_get(&key)).await?;
    mem::write_out(caller, op, oc, &value.ok_or(ERR_NOT_FOUND)?)
}

/// `kv_set(key_ptr, key_len, val_ptr, val_len) -> 0 | error`.
async fn kv_set(
    caller: &mut Caller<'_, GuestState>,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<i32, i32> {
    granted(caller.data(), Capability::Kv, "kv_set")?;
    let key = key(caller, kp, kl, "kv_set")?;
    let value = mem::read_capped(caller, vp, vl, MAX_VALUE, "kv", || {
        format!("kv_set `{key}`: value")
    })?;
    storage::run(caller, "kv_set", move |d| d.kv_set(&key, &value)).await?;
    Ok(0)
}

/// `kv_delete(key_ptr, key_len) -> 1 (removed) | 0 (absent) | error`.
async fn kv_delete(caller: &mut Caller<'_, GuestState>, kp: i32, kl: i32) -> Result<i32, i32> {
    granted(caller.data(), Capability::Kv, "kv_delete")?;
    let key = key(caller, kp, kl, "kv_delete")?;
    let existed = storage::run(caller, "kv_delete", move |d| d.kv_delete(&key)).await?;
    Ok(i32::from(existed))
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
