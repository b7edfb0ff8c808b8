//! The arena of arena call shapes (`kernel` and `serve`): a static buffer
//! the host copies input into and reads output from. Use it through
//! [`kernel!`](crate::kernel) and [`http_handler!`](crate::http_handler).

use std::cell::UnsafeCell;

/// A buffer of `N` bytes shared with the host.
pub struct Arena<const N: usize>(UnsafeCell<[u8; N]>);

// The host calls one export at a time per instance, and wasm32 guests are
// single-threaded: the arena is never accessed concurrently.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    /// A zeroed arena.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Arena<N> {
        Arena(UnsafeCell::new([0; N]))
    }

    /// `(capacity << 32) | offset`, what the `arena` export returns.
    pub fn packed(&self) -> i64 {
        ((N as i64) << 32) | (self.0.get() as usize as i64)
    }

    /// Runs `f` on the `len` input bytes the host placed in the arena and
    /// writes its output back; returns the output length (a length past
    /// the arena is returned without writing, and the host refuses it), or
    /// the negative length of a [`KernelError`] `f` returned.
    pub fn run<O: KernelOutput>(&self, len: i32, f: impl FnOnce(&[u8]) -> O) -> i32 {
        // SAFETY: see the `Sync` impl; no other reference to the buffer lives.
        let buf = unsafe { &mut *self.0.get() };
        let input = buf[..(len.max(0) as usize).min(N)].to_vec();
        let output = match f(&input).into_output() {
            Ok(output) => output,
            Err(err) => return err.out_len(),
        };
        if let Some(dst) = buf.get_mut(..output.len()) {
            dst.copy_from_slice(&output);
        }
        i32::try_from(output.len()).unwrap_or(i32::MAX)
    }
}

/// A kernel's own error: `process` returns a negative length, `-code`, and
/// the host fails the call with `CALL_TRAPPED` naming that value (the
/// instance is kept for the next call). A kernel returning
/// `Result<Vec<u8>, E>` with `E: Into<KernelError>` fails this way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelError(i32);

impl KernelError {
    /// The error `code` (1 ..= `i32::MAX`; 0 counts as 1, larger as
    /// `i32::MAX`): `process` returns `-code`.
    pub const fn new(code: u32) -> KernelError {
        let code = if code == 0 {
            1
        } else if code > i32::MAX as u32 {
            i32::MAX
        } else {
            code as i32
        };
        KernelError(code)
    }

    /// The code given to [`KernelError::new`].
    pub const fn code(self) -> u32 {
        self.0 as u32
    }

    /// What `process` returns for it: `-code`.
    pub const fn out_len(self) -> i32 {
        -self.0
    }
}

/// What a kernel function may return: its output (`Vec<u8>`), or a
/// `Result` whose error becomes a [`KernelError`].
pub trait KernelOutput {
    /// The output, or the error `process` reports.
    fn into_output(self) -> Result<Vec<u8>, KernelError>;
}

impl KernelOutput for Vec<u8> {
    fn into_output(self) -> Result<Vec<u8>, KernelError> {
        Ok(self)
    }
}

impl<E: Into<KernelError>> KernelOutput for Result<Vec<u8>, E> {
    fn into_output(self) -> Result<Vec<u8>, KernelError> {
        self.map_err(Into::into)
    }
}

/// Exports `arena` and `$export(len: i32) -> i32` running `$run` over an
/// arena of `$size` bytes; what [`kernel!`](crate::kernel) and
/// [`http_handler!`](crate::http_handler) expand to.
#[doc(hidden)]
#[macro_export]
macro_rules! __arena_exports {
    ($export:ident, $size:expr, $run:expr) => {
        static NEXUS_ARENA: $crate::arena::Arena<{ $size }> = $crate::arena::Arena::new();

        /// The arena, for the host.
        #[no_mangle]
        pub extern "C" fn arena() -> i64 {
            NEXUS_ARENA.packed()
        }

        /// One call, for the host.
        #[no_mangle]
        pub extern "C" fn $export(len: i32) -> i32 {
            NEXUS_ARENA.run(len, $run)
        }
    };
}

/// Exports a kernel (`arena` and `process`) running `f: fn(&[u8]) ->
/// Vec<u8>` on each input, with an arena of 1 MiB or the size given. A
/// kernel that can fail returns `Result<Vec<u8>, E>` where `E` converts
/// into a [`KernelError`]: an error makes `process` return `-code` (the
/// host's `CALL_TRAPPED`).
///
/// ```ignore
/// nexus_guest::kernel!(upper);
/// fn upper(input: &[u8]) -> Vec<u8> { input.to_ascii_uppercase() }
/// ```
///
/// or, failing on input that is not UTF-8, with a 4 KiB arena:
///
/// ```ignore
/// nexus_guest::kernel!(checked, 4096);
/// fn checked(input: &[u8]) -> Result<Vec<u8>, KernelError> {
///     std::str::from_utf8(input).map_err(|_| KernelError::new(1))?;
///     Ok(input.to_vec())
/// }
/// ```
#[macro_export]
macro_rules! kernel {
    ($f:path) => {
        $crate::kernel!($f, 1 << 20);
    };
    ($f:path, $size:expr) => {
        $crate::__arena_exports!(process, $size, $f);
    };
}
