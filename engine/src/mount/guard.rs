//! WASI preview 1 functions wrapped around wasmtime-wasi's own: writes into
//! a volume check its quota first (`EDQUOT` past it), opens, renumbers and
//! closes keep track of which volume a descriptor belongs to, and symbolic
//! and hard links are refused (`EPERM`): a volume stores regular files
//! only, and a link is the one way a path could lead out of it.
//!
//! The wrappers call the functions wasmtime-wasi generates for its own
//! linking (`wasmtime_wasi::p1::wasi_snapshot_preview1`), pinned with
//! wiggle to the exact wasmtime version: check them on every upgrade.

use wasmtime::{Caller, Extern, Linker};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as wasi, WasiSnapshotPreview1 as _};

use super::super::state::GuestState;

/// The WASI preview 1 import module.
const WASI: &str = "wasi_snapshot_preview1";
/// WASI errno `dquot`: the volume's quota is used up.
const EDQUOT: i32 = 19;
/// WASI errno `perm`: not allowed.
const EPERM: i32 = 63;
/// Most iovecs a write may pass (POSIX's IOV_MAX).
const MAX_IOVECS: u32 = 1024;

/// Defines `WASI.$name` as: `$before` (an errno answers without going
/// on), wasmtime-wasi's own function on the caller's memory, then `$after`
/// with its errno.
macro_rules! wrap {
    ($linker:expr, $name:ident, ($($arg:ident: $ty:ty),+), $before:expr, $after:expr) => {
        $linker.func_wrap_async(
            WASI,
            stringify!($name),
            |mut caller: Caller<'_, GuestState>, ($($arg,)+): ($($ty,)+)| {
                Box::new(async move {
                    if let Some(errno) = $before(&mut caller, ($($arg,)+)) {
                        return Ok(errno);
                    }
                    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                        wasmtime::bail!("missing required memory export");
                    };
                    // As wasmtime-wasi's own linking does: the store's bound
                    // on what the host copies for the guest in one call.
                    let fuel = wasmtime::AsContextMut::as_context_mut(&mut caller).hostcall_fuel();
                    let (bytes, state) = memory.data_and_store_mut(&mut caller);
                    state.wasi.set_hostcall_fuel(fuel);
                    let mut guest = wiggle::GuestMemory::Unshared(bytes);
                    let errno = wasi::$name(&mut state.wasi, &mut guest, $($arg),+).await?;
                    $after(&mut caller, ($($arg,)+), errno);
                    Ok(errno)
                })
            },
        )?
    };
}

/// Shadows the file functions WASI preview 1 put in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    wrap!(linker, fd_write, (fd: i32, iovs: i32, n: i32, out: i32),
        |c: &mut Caller<'_, GuestState>, (fd, iovs, n, _)| room_for_iovecs(c, fd, iovs, n),
        nothing);
    wrap!(linker, fd_pwrite, (fd: i32, iovs: i32, n: i32, at: i64, out: i32),
        |c: &mut Caller<'_, GuestState>, (fd, iovs, n, _, _)| room_for_iovecs(c, fd, iovs, n),
        nothing);
    wrap!(linker, fd_filestat_set_size, (fd: i32, size: i64),
        |c: &mut Caller<'_, GuestState>, (fd, size)| room(c, fd, size as u64),
        nothing);
    wrap!(linker, path_open,
        (dir: i32, flags: i32, path: i32, len: i32, oflags: i32, base: i64, inherit: i64,
         fdflags: i32, out: i32),
        go_ahead, opened);
    wrap!(linker, fd_renumber, (from: i32, to: i32), go_ahead,
    |c: &mut Caller<'_, GuestState>, (from, to): (i32, i32), errno| {
        if let (0, Some(quota)) = (errno, c.data_mut().quota.as_mut()) {
            quota.renumbered(from as u32, to as u32);
        }
    });
    wrap!(linker, fd_close, (fd: i32), go_ahead,
    |c: &mut Caller<'_, GuestState>, (fd,): (i32,), errno| {
        if let (0, Some(quota)) = (errno, c.data_mut().quota.as_mut()) {
            quota.closed(fd as u32);
        }
    });
    linker.func_wrap(
        WASI,
        "path_symlink",
        |c: Caller<'_, GuestState>, _: i32, _: i32, _: i32, _: i32, _: i32| {
            refuse(&c, "symbolic link")
        },
    )?;
    linker.func_wrap(
        WASI,
        "path_link",
        |c: Caller<'_, GuestState>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            refuse(&c, "hard link")
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn go_ahead<P>(_: &mut Caller<'_, GuestState>, _: P) -> Option<i32> {
    None
}

fn nothing<P>(_: &mut Caller<'_, GuestState>, _: P, _: i32) {}

/// [`room`] for what the `count` iovecs at `iovs` would write.
fn room_for_iovecs(
    caller: &mut Caller<'_, GuestState>,
    fd: i32,
    iovs: i32,
    count: i32,
) -> Option<i32> {
    let bytes = written(caller, iovs, count);
    room(caller, fd, bytes)
}

/// `EDQUOT` if `fd` is a file of a volume without room for `bytes` more.
fn room(caller: &mut Caller<'_, GuestState>, fd: i32, bytes: u64) -> Option<i32> {
    let state = caller.data_mut();
    let quota = state.quota.as_mut()?;
    let volume = quota.reserve(fd as u32, bytes).err()?;
    let what = format!(
        "write of {bytes} bytes to /{volume}: over its {}-byte quota",
        quota.limit()
    );
    state.host.sandbox.deny("vfs", &what);
    Some(EDQUOT)
}

/// `EPERM`, counted as a denial: links are not stored in volumes.
fn refuse(caller: &Caller<'_, GuestState>, what: &str) -> i32 {
    caller
        .data()
        .host
        .sandbox
        .deny("vfs", &format!("{what}: volumes store regular files only"));
    EPERM
}

/// After `path_open(dir, ..., fd_out)`: the new descriptor is in `dir`'s volume.
fn opened(
    caller: &mut Caller<'_, GuestState>,
    (dir, _, _, _, _, _, _, _, out): (i32, i32, i32, i32, i32, i64, i64, i32, i32),
    errno: i32,
) {
    if errno != 0 || caller.data().quota.is_none() {
        return;
    }
    let Some(fd) = read_u32s(caller, out, 1).and_then(|v| v.first().copied()) else {
        return;
    };
    if let Some(quota) = caller.data_mut().quota.as_mut() {
        quota.opened(dir as u32, fd);
    }
}

/// Bytes the iovecs at `iovs` would write; 0 if they cannot be read (the
/// original then reports the fault).
fn written(caller: &mut Caller<'_, GuestState>, iovs: i32, count: i32) -> u64 {
    if caller.data().quota.is_none() || count as u32 > MAX_IOVECS {
        return 0;
    }
    read_u32s(caller, iovs, count as u32 * 2)
        .map(|words| {
            words
                .iter()
                .skip(1)
                .step_by(2)
                .map(|&len| u64::from(len))
                .sum()
        })
        .unwrap_or(0)
}

/// `count` little-endian u32s at `ptr` in the guest's memory.
fn read_u32s(caller: &mut Caller<'_, GuestState>, ptr: i32, count: u32) -> Option<Vec<u32>> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return None;
    };
    let mut bytes = vec![0u8; count as usize * 4];
    memory
        .read(&*caller, ptr as u32 as usize, &mut bytes)
        .ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect(),
    )
}
