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
    /// the arena is returned without writing, and the host refuses it).
    pub fn run(&self, len: i32, f: impl FnOnce(&[u8]) -> Vec<u8>) -> i32 {
        // SAFETY: see the `Sync` impl; no other reference to the buffer lives.
        let buf = unsafe { &mut *self.0.get() };
        let input = buf[..(len.max(0) as usize).min(N)].to_vec();
        let output = f(&input);
        if let Some(dst) = buf.get_mut(..output.len()) {
            dst.copy_from_slice(&output);
        }
        i32::try_from(output.len()).unwrap_or(i32::MAX)
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
/// Vec<u8>` on each input, with an arena of 1 MiB or the size given.
///
/// ```ignore
/// nexus_guest::kernel!(upper);
/// fn upper(input: &[u8]) -> Vec<u8> { input.to_ascii_uppercase() }
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
