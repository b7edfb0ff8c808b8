//! `random`: cryptographically secure random bytes from the host.

use crate::ret::check;
use crate::sys;
use crate::Error;

/// Fills `buf` (up to 64 KiB per call).
pub fn fill(buf: &mut [u8]) -> Result<(), Error> {
    check(unsafe { sys::random_fill(buf.as_mut_ptr(), buf.len()) }).map(|_| ())
}
