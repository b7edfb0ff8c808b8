//! Bounds-checked access to guest memory. Pointers and lengths arrive as
//! i32 and are read as u32; a range past the end of memory, or one whose end
//! overflows, is `ERR_BOUNDS`, never a host panic.

use std::ops::Range;

use wasmtime::{Caller, Extern, Memory};

use super::super::abi::{ERR_BOUNDS, ERR_TOO_LARGE};
use super::super::state::GuestState;

/// The guest's exported `memory`.
pub(super) fn memory(caller: &mut Caller<'_, GuestState>) -> Result<Memory, i32> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(ERR_BOUNDS),
    }
}

/// `ptr..ptr+len` if it lies within `size` bytes.
pub(super) fn range(ptr: i32, len: i32, size: usize) -> Result<Range<usize>, i32> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize).ok_or(ERR_BOUNDS)?;
    if end > size {
        return Err(ERR_BOUNDS);
    }
    Ok(start..end)
}

/// A copy of `len` bytes at `ptr`, where more than `max` bytes is a denial
/// of `capability`: logged and counted as "`what` of N bytes, over the
/// MAX-byte cap", and answered with `ERR_TOO_LARGE`.
pub(super) fn read_capped(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    len: i32,
    max: usize,
    capability: &str,
    what: impl FnOnce() -> String,
) -> Result<Vec<u8>, i32> {
    if len as u32 as usize > max {
        let target = format!(
            "{} of {} bytes, over the {max}-byte cap",
            what(),
            len as u32
        );
        caller.data().host.sandbox.deny(capability, &target);
        return Err(ERR_TOO_LARGE);
    }
    read(caller, ptr, len, max)
}

/// A copy of `len` bytes at `ptr`; `ERR_TOO_LARGE` past `max`.
pub(super) fn read(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    len: i32,
    max: usize,
) -> Result<Vec<u8>, i32> {
    if len as u32 as usize > max {
        return Err(ERR_TOO_LARGE);
    }
    let mem = memory(caller)?;
    let data = mem.data(&*caller);
    let r = range(ptr, len, data.len())?;
    Ok(data[r].to_vec())
}

/// Checks that the guest buffer `ptr..ptr+cap` is in bounds.
pub(super) fn check_buffer(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    cap: i32,
) -> Result<(), i32> {
    let mem = memory(caller)?;
    range(ptr, cap, mem.data_size(&*caller)).map(|_| ())
}

/// Writes `bytes` at `ptr` if they fit in the guest buffer of `cap` bytes;
/// returns their length either way (the guest retries with a larger
/// buffer when the length is over `cap`).
pub(super) fn write_out(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    cap: i32,
    bytes: &[u8],
) -> Result<i32, i32> {
    let mem = memory(caller)?;
    let data = mem.data_mut(&mut *caller);
    let buf = range(ptr, cap, data.len())?;
    let n = i32::try_from(bytes.len()).map_err(|_| ERR_TOO_LARGE)?;
    if bytes.len() <= buf.len() {
        data[buf.start..buf.start + bytes.len()].copy_from_slice(bytes);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        assert_eq!(range(0, 10, 10), Ok(0..10));
        assert_eq!(range(10, 0, 10), Ok(10..10));
        assert_eq!(range(5, 6, 10), Err(ERR_BOUNDS));
        assert_eq!(range(11, 0, 10), Err(ERR_BOUNDS));
        assert_eq!(range(-1, 1, 1 << 16), Err(ERR_BOUNDS));
        assert_eq!(range(1, -1, 1 << 16), Err(ERR_BOUNDS));
    }
}
