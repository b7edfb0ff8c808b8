//! The `vfs` group: files in the sandbox's own volumes (0 workspace,
//! 1 memory, 2 tmp). Paths are relative, `/`-separated, with no empty, `.`
//! or `..` component, no NUL or backslash, at most 1024 bytes; anything else
//! is refused (`ERR_DENIED`) and counted as a denial.

use nexus_abi::{FileStat, Volume};
use wasmtime::{Caller, Linker};

use super::super::abi::{ERR_DENIED, ERR_INVALID, ERR_NOT_FOUND, MAX_FILE, MAX_PATH};
use super::super::capability::Capability;
use super::super::state::GuestState;
use super::{granted, mem, storage};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wrap_async!(linker, "vfs_read", vfs_read, (vol, pp, pl, op, oc));
    wrap_async!(linker, "vfs_write", vfs_write, (vol, pp, pl, dp, dl));
    wrap_async!(linker, "vfs_list", vfs_list, (vol, pp, pl, op, oc));
    wrap_async!(linker, "vfs_stat", vfs_stat, (vol, pp, pl, op));
    wrap_async!(linker, "vfs_delete", vfs_delete, (vol, pp, pl));
    Ok(())
}

/// `vfs_read(vol, path_ptr, path_len, out_ptr, out_cap) -> len | error`:
/// the file's length; the contents are written only if they fit.
async fn vfs_read(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    pp: i32,
    pl: i32,
    op: i32,
    oc: i32,
) -> Result<i32, i32> {
    let (volume, path) = target(caller, vol, pp, pl, "vfs_read")?;
    mem::check_buffer(caller, op, oc)?;
    let contents = storage::run(caller, "vfs_read", move |d| d.read_file(volume, &path))
        .await?
        .ok_or(ERR_NOT_FOUND)?;
    mem::write_out(caller, op, oc, &contents)
}

/// `vfs_write(vol, path_ptr, path_len, data_ptr, data_len) -> 0 | error`.
async fn vfs_write(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    pp: i32,
    pl: i32,
    dp: i32,
    dl: i32,
) -> Result<i32, i32> {
    let (volume, path) = target(caller, vol, pp, pl, "vfs_write")?;
    writable(caller, volume, &path, "vfs_write")?;
    let contents = mem::read_capped(caller, dp, dl, MAX_FILE, "vfs", || {
        format!("vfs_write {volume}/{path}: file")
    })?;
    storage::run(caller, "vfs_write", move |d| {
        d.write_file(volume, &path, &contents)
    })
    .await?;
    Ok(0)
}

/// `vfs_list(vol, prefix_ptr, prefix_len, out_ptr, out_cap) -> len | error`:
/// the paths starting with the prefix, each followed by a NUL byte; written
/// only if they fit.
async fn vfs_list(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    pp: i32,
    pl: i32,
    op: i32,
    oc: i32,
) -> Result<i32, i32> {
    granted(caller.data(), Capability::Vfs, "vfs_list")?;
    let volume = volume(vol)?;
    let prefix = mem::read(caller, pp, pl, MAX_PATH)?;
    let prefix = String::from_utf8(prefix).map_err(|_| ERR_INVALID)?;
    mem::check_buffer(caller, op, oc)?;
    let paths = storage::run(caller, "vfs_list", move |d| d.list(volume, &prefix)).await?;
    let mut out = Vec::new();
    for p in paths {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    mem::write_out(caller, op, oc, &out)
}

/// `vfs_stat(vol, path_ptr, path_len, out_ptr) -> 0 | error`: writes 16
/// bytes at `out_ptr`, the size then the mtime (Unix ms), u64 little-endian.
async fn vfs_stat(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    pp: i32,
    pl: i32,
    op: i32,
) -> Result<i32, i32> {
    let (volume, path) = target(caller, vol, pp, pl, "vfs_stat")?;
    mem::check_buffer(caller, op, FileStat::LEN as i32)?;
    let stat = storage::run(caller, "vfs_stat", move |d| d.stat(volume, &path))
        .await?
        .ok_or(ERR_NOT_FOUND)?;
    mem::write_out(caller, op, FileStat::LEN as i32, &stat.encode()).map(|_| 0)
}

/// `vfs_delete(vol, path_ptr, path_len) -> 1 (removed) | 0 (absent) | error`.
async fn vfs_delete(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    pp: i32,
    pl: i32,
) -> Result<i32, i32> {
    let (volume, path) = target(caller, vol, pp, pl, "vfs_delete")?;
    writable(caller, volume, &path, "vfs_delete")?;
    let existed = storage::run(caller, "vfs_delete", move |d| d.delete(volume, &path)).await?;
    Ok(i32::from(existed))
}

/// Checks the grant and reads the volume and path of a file operation.
fn target(
    caller: &mut Caller<'_, GuestState>,
    vol: i32,
    ptr: i32,
    len: i32,
    op: &str,
) -> Result<(Volume, String), i32> {
    granted(caller.data(), Capability::Vfs, op)?;
    let volume = volume(vol)?;
    let bytes = mem::read_capped(caller, ptr, len, MAX_PATH, "vfs", || format!("{op}: path"))?;
    let path = String::from_utf8(bytes).map_err(|_| ERR_INVALID)?;
    if let Err(reason) = check_path(&path) {
        let what = format!("{op} {volume}/{path}: {reason}");
        caller.data().host.sandbox.deny("vfs", &what);
        return Err(ERR_DENIED);
    }
    Ok((volume, path))
}

/// `ERR_DENIED`, counted, for a change to a read-only `/workspace`.
fn writable(
    caller: &mut Caller<'_, GuestState>,
    volume: Volume,
    path: &str,
    op: &str,
) -> Result<(), i32> {
    let host = &caller.data().host;
    if volume == Volume::Workspace && host.workspace_read_only {
        let what = format!("{op} {volume}/{path}: the profile keeps the workspace read-only");
        host.sandbox.deny("vfs", &what);
        return Err(ERR_DENIED);
    }
    Ok(())
}

/// The volume numbered `n`.
fn volume(n: i32) -> Result<Volume, i32> {
    Volume::from_number(n).map_err(|_| ERR_INVALID)
}

/// Why `path` is not a plain relative path inside a volume, if it is not.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\0') || path.contains('\\') {
        return Err("NUL or backslash in path");
    }
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err("empty, `.` or `..` component");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn paths_stay_inside_the_volume() {
        assert!(check_path("notes/a.txt").is_ok());
        assert!(check_path("a..b").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/",
            "a\\..\\b",
            "a\0",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
