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
    /// The queue is full, or the tenant has its maximum of queues (-8).
    Full,
    /// `net`: the host is a loopback address (-10).
    NetLoopback,
    /// `net`: a private address: RFC 1918, CGNAT, ULA (-11).
    NetPrivate,
    /// `net`: a link-local address, cloud metadata included (-12).
    NetLinkLocal,
    /// `net`: an unspecified, multicast, broadcast or reserved address (-13).
    NetReserved,
    /// `net`: not an `http://` URL (-14).
    NetScheme,
    /// `net`: the name does not resolve (-15).
    NetResolve,
    /// `net`: connecting or talking HTTP failed (-16).
    NetConnect,
    /// `net`: no response within the deadline (-17).
    NetTimeout,
    /// `net`: too many redirects (-18).
    NetRedirects,
    /// A message from the host that does not decode.
    Malformed,
    /// A code this SDK does not know.
    Unknown(i32),
}

impl Error {
    /// The ABI code of this error (`Malformed`, which the host never
    /// returns, is `ERR_INVALID`).
    pub fn code(self) -> i32 {
        match self {
            Error::Malformed => -5,
            Error::Unknown(code) => code,
            known => CODES
                .iter()
                .find(|(_, e)| *e == known)
                .map_or(-5, |(code, _)| *code),
        }
    }

    /// The error for a negative return code.
    pub fn from_code(code: i32) -> Error {
        CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(Error::Unknown(code), |(_, e)| *e)
    }
}

/// The ABI's error codes (docs/guest-abi.md).
const CODES: &[(i32, Error)] = &[
    (-1, Error::Bounds),
    (-2, Error::Denied),
    (-3, Error::TooLarge),
    (-4, Error::NotFound),
    (-5, Error::Invalid),
    (-6, Error::Io),
    (-7, Error::Rate),
    (-8, Error::Full),
    (-10, Error::NetLoopback),
    (-11, Error::NetPrivate),
    (-12, Error::NetLinkLocal),
    (-13, Error::NetReserved),
    (-14, Error::NetScheme),
    (-15, Error::NetResolve),
    (-16, Error::NetConnect),
    (-17, Error::NetTimeout),
    (-18, Error::NetRedirects),
];

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
