//! What the conformance programs share: a check that prints its outcome,
//! and the WASI preview 1 calls std has no stable wrapper for.
//!
//! Each program prints `ok NAME` or `FAILED NAME: why` per check and exits
//! with the number of failures, so its spec (`specs/NAME.json`) pins both.

use std::cell::Cell;

thread_local! {
    static FAILURES: Cell<i32> = const { Cell::new(0) };
}

/// Prints `ok name` if `outcome` is `Ok`, else `FAILED name: why`.
pub fn check(name: &str, outcome: Result<(), String>) {
    match outcome {
        Ok(()) => println!("ok {name}"),
        Err(why) => {
            println!("FAILED {name}: {why}");
            FAILURES.with(|f| f.set(f.get() + 1));
        }
    }
}

/// `Ok` if `got == want`, else a message showing both.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got:?}, want {want:?}"))
    }
}

/// The errno of an I/O result (0 for success).
pub fn errno<T>(result: std::io::Result<T>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Exits with the number of failed checks.
pub fn finish() -> ! {
    std::process::exit(FAILURES.with(Cell::get))
}

/// WASI errno values the programs expect.
pub mod errnos {
    /// `badf`
    pub const EBADF: i32 = 8;
    /// `exist`
    pub const EEXIST: i32 = 20;
    /// `noent`
    pub const ENOENT: i32 = 44;
    /// `notdir`
    pub const ENOTDIR: i32 = 54;
    /// `notempty`
    pub const ENOTEMPTY: i32 = 55;
    /// `perm`
    pub const EPERM: i32 = 63;
    /// `isdir`
    pub const EISDIR: i32 = 31;
}

/// Raw WASI preview 1 imports.
pub mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn path_symlink(
            old: *const u8,
            old_len: usize,
            dir: i32,
            new: *const u8,
            new_len: usize,
        ) -> u16;
        fn fd_renumber(from: i32, to: i32) -> u16;
        fn fd_pread(
            fd: i32,
            iovs: *const [usize; 2],
            n: usize,
            offset: u64,
            read: *mut usize,
        ) -> u16;
        fn fd_pwrite(
            fd: i32,
            iovs: *const [usize; 2],
            n: usize,
            offset: u64,
            wrote: *mut usize,
        ) -> u16;
        fn fd_tell(fd: i32, offset: *mut u64) -> u16;
    }

    /// The first preopened directory (`/workspace` on Nexus).
    pub const FIRST_PREOPEN: i32 = 3;

    /// `path_symlink(target, FIRST_PREOPEN, link)`; the errno.
    pub fn symlink(target: &str, link: &str) -> i32 {
        // SAFETY: pointers and lengths of live strings.
        i32::from(unsafe {
            path_symlink(
                target.as_ptr(),
                target.len(),
                FIRST_PREOPEN,
                link.as_ptr(),
                link.len(),
            )
        })
    }

    /// `fd_renumber(from, to)`; the errno.
    pub fn renumber(from: i32, to: i32) -> i32 {
        // SAFETY: plain integers.
        i32::from(unsafe { fd_renumber(from, to) })
    }

    /// `fd_pread` into `buf` at `offset`: bytes read, or the errno.
    pub fn pread(fd: i32, buf: &mut [u8], offset: u64) -> Result<usize, i32> {
        let iov = [buf.as_mut_ptr() as usize, buf.len()];
        let mut n = 0usize;
        // SAFETY: one iovec over `buf`, which outlives the call.
        match unsafe { fd_pread(fd, &iov, 1, offset, &mut n) } {
            0 => Ok(n),
            e => Err(i32::from(e)),
        }
    }

    /// `fd_pwrite` of `data` at `offset`: bytes written, or the errno.
    pub fn pwrite(fd: i32, data: &[u8], offset: u64) -> Result<usize, i32> {
        let iov = [data.as_ptr() as usize, data.len()];
        let mut n = 0usize;
        // SAFETY: one iovec over `data`, which outlives the call.
        match unsafe { fd_pwrite(fd, &iov, 1, offset, &mut n) } {
            0 => Ok(n),
            e => Err(i32::from(e)),
        }
    }

    /// `fd_tell`: the offset, or the errno.
    pub fn tell(fd: i32) -> Result<u64, i32> {
        let mut at = 0u64;
        // SAFETY: `at` outlives the call.
        match unsafe { fd_tell(fd, &mut at) } {
            0 => Ok(at),
            e => Err(i32::from(e)),
        }
    }
}
