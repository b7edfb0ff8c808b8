//! `clock`: wall and monotonic time.

use crate::sys;

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    unsafe { sys::clock_now_ms() }
}

/// Nanoseconds since a fixed point of the node process (never goes back).
pub fn monotonic_ns() -> i64 {
    unsafe { sys::clock_monotonic_ns() }
}
