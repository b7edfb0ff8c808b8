//! The host's error codes as a Rust error.

use std::fmt;

/// A refusal from the host (negative return codes of the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A pointer or length outside guest memory (-1).
    Bounds,
    /// Refused by policy: a path escaping its volume, an ungranted capability (-2).
    Denied,
    /// A key, value, path, message or buffer over its cap (-3).
    TooLarge,
    /// No such key or file (-4).
    NotFound,
    /// An invalid argument: empty key, not UTF-8, unknown volume or level (-5).
    Invalid,
    /// Host storage failed (-6).
    Io,
    /// Too many calls of this kind in one call (-7).
    Rate,
    /// A code this SDK does not know.
    Unknown(i32),
}

impl Error {
    /// The error for a negative return code.
    pub fn from_code(code: i32) -> Error {
        match code {
            -1 => Error::Bounds,
            -2 => Error::Denied,
            -3 => Error::TooLarge,
            -4 => Error::NotFound,
            -5 => Error::Invalid,
            -6 => Error::Io,
            -7 => Error::Rate,
            other => Error::Unknown(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unknown(code) => write!(f, "host error {code}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {}

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
