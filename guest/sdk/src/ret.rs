//! What host functions return: a non-negative length or count, or a
//! negative code that becomes an [`Error`].

use crate::Error;

/// A non-negative return value as `usize`, a negative one as an [`Error`].
pub(crate) fn check(code: i32) -> Result<usize, Error> {
    usize::try_from(code).map_err(|_| Error::from_code(code))
}

/// Calls `f(out_ptr, out_cap)` with a growing buffer until the result fits
/// (the ABI returns the full length and writes only when it fits).
pub(crate) fn read_growing(mut f: impl FnMut(*mut u8, usize) -> i32) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; 256];
    loop {
        let len = check(f(buf.as_mut_ptr(), buf.len()))?;
        if len <= buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        buf.resize(len, 0);
    }
}
